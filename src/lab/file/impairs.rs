//! A link's `impair:` and `state:`, and `defaults.impair`: read into [`Impairment`]s with the
//! units `patchwire impair` takes (`crate::impair::units`), merged and checked.
//!
//! The shape (docs/labs.md): `impair:` maps the endpoint whose *sent* frames are impaired
//! (`NODE:IF`, as `patchwire impair --lab FILE NODE:IF`; its `tx`, the other end's `rx`) or
//! `both` to one direction's keys. Per endpoint, `defaults.impair`, then `both`, then the
//! endpoint's own entry are merged item by item, later over earlier, as `mtu` is: a zero
//! (`loss: 0`, `rate: 0`, `delay: 0`) removes what an earlier layer set. A hub's members
//! (a link of 3+ endpoints, or a link to a `kind: hub` node) each take the frames they send
//! into the segment; they take loss, corruption and duplication only (their frames leave by
//! several ports, so there is no one exit for a rate or a delay).

use crate::impair::units;
use crate::impair::{Distribution, Impairment, Loss};

use super::check::Check;
use super::locate::{Seg, key};
use super::raw::{RawDirection, RawLink};
use super::values::Text;
use super::{Endpoint, Impairs, LinkKind, NodeKind, NodeSpec};

/// The key of `impair:` for every endpoint of the link.
const BOTH: &str = "both";

/// A Gilbert–Elliott model that loses nothing (`loss-burst: 0`).
fn gemodel_off(m: &Loss) -> bool {
    matches!(m, Loss::GilbertElliott { p, good_loss, .. } if *p == 0.0 && *good_loss == 0.0)
}

/// An Ethernet header: a frame of an MTU of payload is this much longer on the wire.
const ETHERNET_HEADER: u32 = 14;

impl Check<'_> {
    /// One direction's keys as an impairment, each value read with its unit; errors pushed at
    /// the value (`None` when there was one).
    pub(super) fn direction(&self, raw: &RawDirection, segs: &[Seg]) -> Option<Impairment> {
        let mut ok = true;
        let pc = units::parse_percent;
        let out = Impairment {
            delay_ns: self.value(segs, "delay", &raw.delay, units::parse_duration, &mut ok),
            jitter_ns: self.value(segs, "jitter", &raw.jitter, units::parse_duration, &mut ok),
            distribution: self.value(
                segs,
                "distribution",
                &raw.distribution,
                Distribution::parse,
                &mut ok,
            ),
            loss: match (&raw.loss, &raw.loss_burst) {
                // A zero is "nothing": `loss: 0` beside a `loss-burst` (or the other way
                // round) is no second loss model.
                (Some(l), Some(b))
                    if pc(&l.0).is_ok_and(|v| v == 0.0)
                        || Loss::parse_gemodel(&b.0).is_ok_and(|m| gemodel_off(&m)) =>
                {
                    let random = self
                        .value(segs, "loss", &raw.loss, pc, &mut ok)
                        .map(|percent| Loss::Random { percent });
                    let burst = self.value(
                        segs,
                        "loss-burst",
                        &raw.loss_burst,
                        Loss::parse_gemodel,
                        &mut ok,
                    );
                    match burst {
                        Some(m) if !gemodel_off(&m) => Some(m),
                        _ => random,
                    }
                }
                (Some(_), Some(_)) => {
                    let mut at = segs.to_vec();
                    at.push(key("loss-burst"));
                    self.push(
                        &at,
                        true,
                        "give `loss` (independent) or `loss-burst` (Gilbert–Elliott), not both"
                            .into(),
                    );
                    ok = false;
                    None
                }
                (Some(_), None) => self
                    .value(segs, "loss", &raw.loss, pc, &mut ok)
                    .map(|percent| Loss::Random { percent }),
                (None, _) => self.value(
                    segs,
                    "loss-burst",
                    &raw.loss_burst,
                    Loss::parse_gemodel,
                    &mut ok,
                ),
            },
            corrupt: self.value(segs, "corrupt", &raw.corrupt, pc, &mut ok),
            duplicate: self.value(segs, "duplicate", &raw.duplicate, pc, &mut ok),
            reorder: self.value(segs, "reorder", &raw.reorder, pc, &mut ok),
            rate_bps: self.value(segs, "rate", &raw.rate, units::parse_rate_or_zero, &mut ok),
            burst_bytes: self.value(segs, "burst", &raw.burst, units::parse_size, &mut ok),
        };
        ok.then_some(out)
    }

    /// One key's value read with its unit; the error pushed at the value.
    fn value<T>(
        &self,
        segs: &[Seg],
        k: &str,
        text: &Option<Text>,
        parse: impl Fn(&str) -> Result<T, String>,
        ok: &mut bool,
    ) -> Option<T> {
        match parse(&text.as_ref()?.0) {
            Ok(v) => Some(v),
            Err(why) => {
                let mut at = segs.to_vec();
                at.push(key(k));
                self.push(&at, false, format!("{k}: {why}"));
                *ok = false;
                None
            }
        }
    }

    /// The link's impairments by sending endpoint, and whether its cable is pulled; errors
    /// pushed (the link is then dropped by the caller through `ok`).
    pub(super) fn link_impairs(
        &self,
        link: &RawLink,
        i: usize,
        (endpoints, kind, nodes): (
            &[Endpoint],
            &LinkKind,
            &std::collections::BTreeMap<String, NodeSpec>,
        ),
        (defaults, mtu): (&Impairment, u32),
        ok: &mut bool,
    ) -> (Impairs, bool, Option<(usize, usize)>) {
        let at = |k: &str| vec![key("topology"), key("links"), Seg::Index(i), key(k)];
        let between_nodes = matches!(kind, LinkKind::Veth);
        let down = match link.state.as_ref().map(|t| t.0.trim()) {
            None | Some("up") => false,
            Some("down") => true,
            Some(other) => {
                self.push(
                    &at("state"),
                    false,
                    format!("state {other:?} is neither `up` nor `down` (a pulled cable)"),
                );
                *ok = false;
                false
            }
        };
        if !between_nodes {
            for (k, set) in [("impair", !link.impair.is_empty()), ("state", down)] {
                if set {
                    self.push(
                        &at(k),
                        true,
                        format!(
                            "`{k}:` acts on a link between nodes (on its panel ports), not on a \
                             single-ended link of containerlab's `type:`"
                        ),
                    );
                    *ok = false;
                }
            }
            return (Impairs::default(), false, None);
        }
        let is_hub_node = |e: &Endpoint| {
            nodes
                .get(&e.node)
                .is_some_and(|n| matches!(n.kind, NodeKind::Hub))
        };
        // The endpoints that send into the link through a panel port of their own.
        let senders: Vec<&Endpoint> = endpoints.iter().filter(|e| !is_hub_node(e)).collect();
        let hub = endpoints.len() > 2 || senders.len() < endpoints.len();
        let mut layers: Vec<(Option<&Endpoint>, Impairment, Vec<Seg>)> = Vec::new();
        for (side, raw) in &link.impair {
            let mut segs = at("impair");
            segs.push(key(side));
            let sender = match side.as_str() {
                BOTH => None,
                _ => match senders.iter().find(|e| e.to_string() == *side) {
                    Some(e) => Some(*e),
                    None => {
                        let names: Vec<String> = senders.iter().map(ToString::to_string).collect();
                        let why = match endpoints.iter().find(|e| e.to_string() == *side) {
                            Some(e) => format!(
                                "impair: {e} is the hub node's side; key the impairment by the \
                                 member whose sent frames it acts on ({})",
                                names.join(", ")
                            ),
                            None => format!(
                                "impair: {side:?} is neither an endpoint of this link ({}) nor \
                                 `both`",
                                names.join(", ")
                            ),
                        };
                        self.push(&segs, true, why);
                        *ok = false;
                        continue;
                    }
                },
            };
            let empty = RawDirection::default();
            let Some(direction) = self.direction(raw.as_ref().unwrap_or(&empty), &segs) else {
                *ok = false;
                continue;
            };
            layers.push((sender, direction, segs));
        }
        // `both` before the endpoints' own entries, whatever the file's order.
        layers.sort_by_key(|(sender, _, _)| sender.is_some());
        let mut out = Impairs::default();
        let mut netem_at = None;
        for sender in &senders {
            let mut merged = *defaults;
            let mut place = vec![key("defaults"), key("impair")];
            for (who, direction, segs) in &layers {
                if who.is_none_or(|w| w == *sender) {
                    merged = merged.merged(direction);
                    place = segs.clone();
                }
            }
            if merged.is_empty() {
                continue;
            }
            if let Err(why) = merged.check() {
                let why = why
                    .replace("--delay", "`delay:`")
                    .replace("--rate", "`rate:`");
                self.push(&place, true, format!("impair: {sender}: {why}"));
                *ok = false;
                continue;
            }
            if let Some(frame) = merged.rate_bps.map(|_| mtu + ETHERNET_HEADER) {
                match merged.burst_bytes {
                    // Refused here rather than half-way through `up` (tbf would drop every
                    // full-size frame).
                    Some(burst) if burst < frame => {
                        let mut at = place.clone();
                        at.push(key("burst"));
                        self.push(
                            &at,
                            false,
                            format!(
                                "impair: {sender}: a burst of {burst} bytes is less than one \
                                 frame of this link ({frame} bytes: mtu {mtu} with its Ethernet \
                                 header): tbf would drop every full-size frame"
                            ),
                        );
                        *ok = false;
                        continue;
                    }
                    Some(_) => {}
                    // The default bucket holds a frame of the port it is set on
                    // (impair::default_burst); where that exceeds the port-less default it
                    // is written out, so `plan` says it and the record holds it.
                    None => {
                        if merged.burst().is_some_and(|b| b < frame) {
                            merged.burst_bytes = merged.burst_for(mtu);
                        }
                    }
                }
            }
            if merged.needs_netem() && netem_at.is_none() {
                // One walk, for the rare link that needs netem: its `impair:` key, else
                // `defaults.impair` (where the delay came from).
                let segs = match link.impair.is_empty() {
                    true => place.clone(),
                    false => at("impair"),
                };
                netem_at = self.position(&segs, true);
            }
            if hub && (merged.needs_netem() || merged.rate_bps.is_some()) {
                self.push(
                    &place,
                    true,
                    format!(
                        "impair: {sender} is a hub member: it takes loss, loss-burst, corrupt \
                         and duplicate only (its frames leave by several ports; a rate or a \
                         delay needs one), here {}; zero the others in this link's `impair:`",
                        merged.describe()
                    ),
                );
                *ok = false;
                // Said once: every member gets the same from `both` or the defaults.
                break;
            }
            out.0.insert((*sender).clone(), merged);
        }
        (out, down, netem_at)
    }
}

#[cfg(test)]
mod tests {
    use crate::impair::{Impairment, Loss};
    use crate::lab::file::testing::*;

    fn impairs(links: &str) -> Vec<(String, String)> {
        lab(&two_nodes(links)).links[0]
            .impair
            .0
            .iter()
            .map(|(e, i)| (e.to_string(), i.describe()))
            .collect()
    }

    #[test]
    fn directions_are_keyed_by_the_sender_and_merge_over_both_and_defaults() {
        assert_eq!(
            impairs(
                "  - endpoints: [r1:eth1, r2:eth1]\n    impair:\n      r1:eth1: {loss: 1%}\n      \
                 both: {corrupt: 0.5%}\n"
            ),
            [
                ("r1:eth1".into(), "loss 1% corrupt 0.5%".into()),
                ("r2:eth1".into(), "corrupt 0.5%".into()),
            ]
        );
        let text = two_nodes(
            "  - endpoints: [r1:eth1, r2:eth1]\n    impair: {r2:eth1: {loss: 0, rate: 10mbit}}\n  \
             - endpoints: [r1:eth2, r2:eth2]\n",
        )
        .replace("topology:", "defaults: {impair: {loss: 2%}}\ntopology:");
        let file = lab(&text);
        let r1 = ep("r1:eth1");
        assert_eq!(
            file.links[0].impair.0[&r1].loss,
            Some(Loss::Random { percent: 2.0 })
        );
        assert_eq!(
            file.links[0].impair.0[&ep("r2:eth1")],
            Impairment {
                rate_bps: Some(10_000_000),
                ..Default::default()
            }
        );
        assert_eq!(file.links[1].impair.0.len(), 2);
        assert!(!file.links[0].down);
        let down = lab(&two_nodes(
            "  - endpoints: [r1:eth1, r2:eth1]\n    state: down\n",
        ));
        assert!(down.links[0].down);
    }

    #[test]
    fn bad_impairments_are_refused_at_their_place() {
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    impair: {r1:eth1: {los: 1%}}\n"
            )),
            "t1.yaml:8:24: unknown key `los` in an impairment (did you mean `loss`?)"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    impair: {r1:eth1: {loss: 1kg}}\n"
            )),
            "t1.yaml:8:30: loss: \"1kg\" is not a percentage from 0 to 100 like 10%, 1.5% or 0.01%"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    impair: {r3:eth1: {loss: 1%}}\n"
            )),
            "t1.yaml:8:14: impair: \"r3:eth1\" is neither an endpoint of this link (r1:eth1, \
             r2:eth1) nor `both`"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    impair: {r1:eth1: {jitter: 1ms}}\n"
            )),
            "t1.yaml:8:14: impair: r1:eth1: jitter varies a delay: give `delay:` too"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    state: pulled\n"
            )),
            "t1.yaml:8:12: state \"pulled\" is neither `up` nor `down` (a pulled cable)"
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1, r2:eth2]\n    impair: {both: {rate: 1mbit}}\n"
            )),
            "t1.yaml:8:14: impair: r1:eth1 is a hub member: it takes loss, loss-burst, corrupt \
             and duplicate only (its frames leave by several ports; a rate or a delay needs \
             one), here rate 1mbit burst 16384b; zero the others in this link's `impair:`"
        );
    }

    #[test]
    fn a_hub_node_link_is_keyed_by_its_member() {
        let text = "name: t1\ntopology:\n  nodes:\n    r1: {}\n    sw: {kind: hub}\n  links:\n  \
                    - endpoints: [r1:eth1, sw:p1]\n    impair: {both: {loss: 5%}}\n";
        let file = lab(text);
        assert_eq!(
            file.links[0].impair.0.keys().collect::<Vec<_>>(),
            [&ep("r1:eth1")]
        );
        assert_eq!(
            err(&text.replace("both:", "sw:p1:")),
            "t1.yaml:8:14: impair: sw:p1 is the hub node's side; key the impairment by the \
             member whose sent frames it acts on (r1:eth1)"
        );
        assert_eq!(
            err(&two_nodes(
                "  - type: dummy\n    endpoint: {node: r1, interface: d1}\n    state: down\n"
            )),
            "t1.yaml:9:5: `state:` acts on a link between nodes (on its panel ports), not on a \
             single-ended link of containerlab's `type:`"
        );
    }
}
