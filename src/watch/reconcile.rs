//! One look at a namespace's wires and the repairs it calls for. Stateless: everything it
//! needs is in the kernel, so a restarted watcher picks up exactly where the last one stopped.
//!
//! * **Carrier propagation.** For a wire A<->B: when A is down or has no carrier, B is taken
//!   down too, so whatever sits behind B (a veth peer in a container) sees NO-CARRIER, as with
//!   a real cable. B is marked with an alias starting with [`HOLD_MARK`]. When A is back, B is
//!   released. A held end is never itself a source, so patchwire's own change cannot bounce
//!   back; and an end that is already dead on its own is not held (nothing behind it to tell).
//! * **Re-attach.** A wire whose end vanished keeps the end's name in its cookie; when an
//!   interface of that name appears again (qemu recreating tapN), the wire is made again.
//! * **Broken wires** whose end does not come back are reported once.
//! * **Mirrors** whose destination or source was re-created are aimed at it again
//!   ([`crate::mirror::repair`]); a destination that stays gone is reported once.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::mirror;
use crate::netns::Netns;
use crate::nl::link::{self, IfIndex, Link};
use crate::wire::{self, LinkOptions, WireError, WireRequest, Wiring, World};

use crate::impair::flap::show_ms;
use crate::marks::ALIAS_WAS;
pub use crate::marks::HOLD_MARK;
use crate::wire::held_because;

/// Something `watch` did or noticed, one per line in its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// `end` was taken down because its wire's other end `because` is down or has no carrier.
    LinkDownPropagated {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The end taken down.
        end: String,
        /// The other end, down or without carrier.
        because: String,
    },
    /// `end` was brought back up: `because` is up again.
    LinkUpPropagated {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The end brought back up.
        end: String,
        /// The other end, up again.
        because: String,
    },
    /// The wire's end `partner` came back (same name) and the wire was made again.
    WireReattached {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The end that stayed.
        end: String,
        /// The end that came back.
        partner: String,
    },
    /// `gone` vanished and has not come back; the wire drops everything `end` receives.
    WireBroken {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The end that stayed.
        end: String,
        /// The end that vanished.
        gone: String,
    },
    /// A mirror was repaired: its destination or a source came back (`what` says which).
    MirrorRepaired {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The mirror's name.
        mirror: String,
        /// What was repaired, in words.
        what: String,
    },
    /// A mirror's destination is gone and has not come back: every copy is dropped.
    MirrorBroken {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The mirror's name.
        mirror: String,
        /// The destination that is gone.
        destination: String,
    },
    /// The namespace was deleted (its lab taken down, `ip netns del`, the process owning a
    /// `/proc/PID/ns/net` path gone): the watcher let go of it. Watching only that namespace
    /// (`-n`), the watcher then exits with status 0.
    NamespaceGone {
        /// The namespace's label (as given with `-n`, or its name under /run/netns).
        netns: String,
    },
    /// An eBPF wire direction moved to the path its target calls for now: plain
    /// `bpf_redirect` once the target has a root qdisc (tbf, netem…) or egress filters that
    /// the peer path would skip, the peer path again once they are gone.
    PathSettled {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// The end frames arrive on.
        from: String,
        /// The end they are sent out of.
        to: String,
        /// The path they take now: `peer` or `redirect`.
        path: String,
        /// Why.
        because: String,
    },
    /// `watch --lab` runs a flapping link's schedule (`flap:` in the lab file): its first
    /// pulls, in milliseconds from now.
    FlapStarted {
        /// The panel namespace.
        netns: String,
        /// The link: its endpoints.
        link: String,
        /// The flap as the file says it (`down 2s, up 10s`).
        flap: String,
        /// The first pulls (up to 5), from the schedule's start.
        schedule: Vec<crate::impair::flap::Cycle>,
    },
    /// A flapping link whose panel ports do not exist yet (the link was added to the file
    /// and `up` has not run): its schedule starts once they appear, nothing is pulled before.
    FlapWaiting {
        /// The panel namespace.
        netns: String,
        /// The link: its endpoints.
        link: String,
        /// Its ports that are not in the panel.
        missing: Vec<String>,
        /// The file (`patchwire up FILE` makes them).
        file: String,
    },
    /// A flapping link's cable was pulled (both nodes see NO-CARRIER).
    FlapDown {
        /// The panel namespace.
        netns: String,
        /// The link: its endpoints.
        link: String,
        /// Which pull (1-based).
        cycle: u32,
        /// When the schedule says, in ms from its start.
        at_ms: u64,
        /// How much later than that it was done, in ms.
        late_ms: u64,
        /// When it goes back in, in ms from the schedule's start.
        up_at_ms: u64,
    },
    /// A flapping link's cable was put back.
    FlapUp {
        /// The panel namespace.
        netns: String,
        /// The link: its endpoints.
        link: String,
        /// Which pull ended (1-based).
        cycle: u32,
        /// When the schedule says, in ms from its start.
        at_ms: u64,
        /// How much later than that it was done, in ms.
        late_ms: u64,
        /// The next pull, in ms from the schedule's start (none: `count` pulls done).
        next_down_at_ms: Option<u64>,
    },
    /// A link stopped flapping (the watcher stopping, or the file changed): its cable is in.
    FlapStopped {
        /// The panel namespace.
        netns: String,
        /// The link: its endpoints.
        link: String,
        /// Why: `watch stopping`, `flap changed in FILE`, `no flap in FILE any more`.
        why: String,
        /// Whether its cable was pulled and was put back now.
        mended: bool,
    },
    /// A repair failed (it is retried at the next change).
    RepairFailed {
        /// The namespace's label (as given with `-n`, or `(current)`).
        netns: String,
        /// What was being done (`repairing mirror web`, `checking mirrors`…).
        what: String,
        /// Why it failed.
        error: String,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::LinkDownPropagated {
                netns,
                end,
                because,
            } => {
                write!(
                    f,
                    "{netns}: {because} is down or has no carrier: took {end} down so its far side sees no carrier"
                )
            }
            Event::LinkUpPropagated {
                netns,
                end,
                because,
            } => write!(f, "{netns}: {because} is up again: brought {end} back up"),
            Event::WireReattached {
                netns,
                end,
                partner,
            } => {
                write!(
                    f,
                    "{netns}: {partner} is back: re-made the wire {end} <-> {partner}"
                )
            }
            Event::WireBroken { netns, end, gone } => {
                write!(
                    f,
                    "{netns}: wire {end} <-> {gone} is broken: {gone} is gone, everything {end} receives is dropped"
                )
            }
            Event::MirrorRepaired {
                netns,
                mirror,
                what,
            } => {
                write!(f, "{netns}: mirror {mirror}: {what}")
            }
            Event::MirrorBroken {
                netns,
                mirror,
                destination,
            } => write!(
                f,
                "{netns}: mirror {mirror} is broken: its destination {destination} is gone, every copy is dropped"
            ),
            Event::FlapStarted {
                netns,
                link,
                flap,
                schedule,
            } => {
                let pulls: Vec<String> = schedule
                    .iter()
                    .map(|c| format!("{}-{}", show_ms(c.down_at_ms), show_ms(c.up_at_ms)))
                    .collect();
                write!(
                    f,
                    "{netns}: {link} flaps ({flap}): cable out at {}{} from now",
                    pulls.join(", "),
                    if pulls.len() == 5 { ", …" } else { "" }
                )
            }
            Event::FlapWaiting {
                netns,
                link,
                missing,
                file,
            } => write!(
                f,
                "{netns}: {link} waits to flap: its port{} {} not in the panel yet (patchwire up \
                 {file} makes {}); its schedule starts once they are",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ") + if missing.len() == 1 { " is" } else { " are" },
                if missing.len() == 1 { "it" } else { "them" }
            ),
            Event::FlapDown {
                netns,
                link,
                cycle,
                at_ms,
                late_ms,
                up_at_ms,
            } => write!(
                f,
                "{netns}: {link}: pull {cycle} at {} (+{late_ms}ms): cable out until {}",
                show_ms(*at_ms),
                show_ms(*up_at_ms)
            ),
            Event::FlapUp {
                netns,
                link,
                cycle,
                at_ms,
                late_ms,
                next_down_at_ms,
            } => write!(
                f,
                "{netns}: {link}: pull {cycle} over at {} (+{late_ms}ms): cable in{}",
                show_ms(*at_ms),
                match next_down_at_ms {
                    Some(next) => format!(" until {}", show_ms(*next)),
                    None => " for good (count reached)".into(),
                }
            ),
            Event::FlapStopped {
                netns,
                link,
                why,
                mended,
            } => write!(
                f,
                "{netns}: {link} stops flapping ({why}){}",
                if *mended {
                    ": cable put back in"
                } else {
                    ": cable in"
                }
            ),
            Event::NamespaceGone { netns } => write!(
                f,
                "{netns}: the namespace is gone (deleted, or its lab taken down): no longer watched"
            ),
            Event::PathSettled {
                netns,
                from,
                to,
                path,
                because,
            } => write!(
                f,
                "{netns}: {from} -> {to} now takes the {path} path ({because})"
            ),
            Event::RepairFailed { netns, what, error } => {
                write!(f, "{netns}: {what} failed: {error}")
            }
        }
    }
}

/// Memory across reconciles: which broken wires were already reported (report once).
#[derive(Debug, Default)]
pub struct Memory {
    reported_broken: HashSet<(String, String)>,
    /// (mirror, destination) already reported broken.
    reported_broken_mirrors: HashSet<(String, String)>,
}

/// Looks at every wire of `netns` and repairs what it can. Returns what happened.
pub fn reconcile(netns: &Netns, memory: &mut Memory) -> Result<Vec<Event>, WireError> {
    let label = netns.label().to_string();
    let mut events = Vec::new();
    // Re-attaching changes the wiring; look again afterwards (at most a few rounds).
    for _ in 0..3 {
        let state = State::read(netns)?;
        let reattached = reattach(netns, &state, &label, memory, &mut events);
        if !reattached {
            propagate(netns, &state, &label, &mut events)?;
            settle_paths(netns, &state, &label, &mut events);
            break;
        }
    }
    mirrors(netns, &label, memory, &mut events);
    Ok(events)
}

/// Re-aims mirrors at destinations and sources that came back; reports lasting breaks once.
fn mirrors(netns: &Netns, label: &str, memory: &mut Memory, events: &mut Vec<Event>) {
    let report = match mirror::repair(netns) {
        Ok(report) => report,
        Err(e) => {
            events.push(failed(label, "checking mirrors".into(), e.to_string()));
            return;
        }
    };
    for (mirror, what) in report.repaired {
        memory.reported_broken_mirrors.retain(|(m, _)| *m != mirror);
        events.push(Event::MirrorRepaired {
            netns: label.into(),
            mirror,
            what,
        });
    }
    for (mirror, destination) in report.broken {
        if memory
            .reported_broken_mirrors
            .insert((mirror.clone(), destination.clone()))
        {
            events.push(Event::MirrorBroken {
                netns: label.into(),
                mirror,
                destination,
            });
        }
    }
    for (mirror, error) in report.failed {
        events.push(failed(label, format!("repairing mirror {mirror}"), error));
    }
}

/// The namespace's links and wires as the kernel has them now.
struct State {
    links: BTreeMap<IfIndex, Link>,
    by_name: HashMap<String, IfIndex>,
    /// end -> (target index, 0 if gone; the target's name from the cookie; its datapath)
    wires: BTreeMap<IfIndex, (IfIndex, String, wire::Datapath)>,
}

impl State {
    fn read(netns: &Netns) -> Result<State, WireError> {
        let mut world = World::sharing(netns)?;
        world.home().ingress_only = true;
        let Wiring { links, filters, .. } = world.home().wiring()?;
        let wires = filters
            .into_iter()
            .map(|(index, filter)| {
                let target = filter.wire_target().unwrap_or(IfIndex(0));
                let datapath = match filter.is_ebpf_wire() {
                    true => wire::Datapath::Ebpf,
                    false => wire::Datapath::Tc,
                };
                (
                    index,
                    (
                        target,
                        filter.wire_partner_name().unwrap_or_default(),
                        datapath,
                    ),
                )
            })
            .collect();
        let by_name = links.values().map(|l| (l.name.clone(), l.index)).collect();
        Ok(State {
            links,
            by_name,
            wires,
        })
    }

    fn alive(&self, index: IfIndex) -> bool {
        self.links.contains_key(&index) && index.0 != 0
    }
}

/// Re-makes wires whose gone end is back; reports the others once. True if it changed wiring.
fn reattach(
    netns: &Netns,
    state: &State,
    label: &str,
    memory: &mut Memory,
    events: &mut Vec<Event>,
) -> bool {
    let mut changed = false;
    for (index, (target, partner, datapath)) in &state.wires {
        if state.alive(*target) {
            continue;
        }
        let end = &state.links[index].name;
        let back = state.by_name.get(partner).filter(|i| *i != index);
        match back {
            Some(_) => {
                let request = [WireRequest::new(end, partner)];
                let copy = match netns.try_clone() {
                    Ok(copy) => copy.with_label(label),
                    Err(e) => {
                        events.push(failed(
                            label,
                            format!("re-making {end} <-> {partner}"),
                            e.to_string(),
                        ));
                        continue;
                    }
                };
                // Re-made with the datapath the surviving end's filter has.
                let options = LinkOptions {
                    datapath: *datapath,
                    ..LinkOptions::default()
                };
                match wire::link(copy, &request, &options) {
                    Ok(_) => {
                        memory
                            .reported_broken
                            .remove(&(end.clone(), partner.clone()));
                        events.push(Event::WireReattached {
                            netns: label.into(),
                            end: end.clone(),
                            partner: partner.clone(),
                        });
                        changed = true;
                    }
                    Err(e) => events.push(failed(
                        label,
                        format!("re-making {end} <-> {partner}"),
                        e.to_string(),
                    )),
                }
            }
            None => {
                if memory
                    .reported_broken
                    .insert((end.clone(), partner.clone()))
                {
                    events.push(Event::WireBroken {
                        netns: label.into(),
                        end: end.clone(),
                        gone: partner.clone(),
                    });
                }
            }
        }
    }
    changed
}

/// Holds down or releases wire ends so each far side sees the other's carrier.
fn propagate(
    netns: &Netns,
    state: &State,
    label: &str,
    events: &mut Vec<Event>,
) -> Result<(), WireError> {
    let mut changes: Vec<(IfIndex, String, bool, Event)> = Vec::new();
    let mut wired: HashSet<IfIndex> = HashSet::new();
    for (a, (b, gone_name, _)) in &state.wires {
        wired.insert(*a);
        let end = &state.links[a];
        // A broken wire: its far end is gone, like an unplugged cable.
        if !state.alive(*b) {
            if !held(end) && end.up && end.carrier {
                changes.push(hold(end, gone_name, label));
            }
            continue;
        }
        let source = &state.links[b];
        if held(source) {
            continue;
        }
        let source_ok = source.up && source.carrier;
        match (source_ok, held_because(end)) {
            (false, None) if end.up && end.carrier => changes.push(hold(end, &source.name, label)),
            (true, Some(because)) if because == source.name => {
                changes.push(release(end, &source.name, label))
            }
            _ => {}
        }
    }
    // A hold whose wire is gone (unlinked meanwhile) has nothing left to wait for.
    for link in state.links.values() {
        if let Some(because) = held_because(link)
            && !wired.contains(&link.index)
            && !crate::impair::cable::is_cut(link)
        {
            changes.push(release(link, &because, label));
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let mut world = World::sharing(netns)?;
    let requests = changes
        .iter()
        .map(|(index, alias, up, _)| (link::set_alias_and_up(*index, alias, *up), 0))
        .collect();
    for ((_, _, _, event), reply) in changes.into_iter().zip(world.home().socket.batch(requests)) {
        match reply {
            Ok(_) => events.push(event),
            Err(e) => events.push(failed(label, event.to_string(), e.to_string())),
        }
    }
    Ok(())
}

fn held(link: &Link) -> bool {
    held_because(link).is_some()
}

fn hold(end: &Link, because: &str, label: &str) -> (IfIndex, String, bool, Event) {
    let mut alias = format!("{HOLD_MARK}far end {because} is down or gone");
    if let Some(previous) = &end.alias {
        alias.push_str(ALIAS_WAS);
        alias.push_str(previous);
    }
    // IFALIASZ - 1 bytes at most; cut on a character boundary (a long user alias loses its tail).
    let mut cut = alias.len().min(255);
    while !alias.is_char_boundary(cut) {
        cut -= 1;
    }
    alias.truncate(cut);
    let event = Event::LinkDownPropagated {
        netns: label.into(),
        end: end.name.clone(),
        because: because.into(),
    };
    (end.index, alias, false, event)
}

fn release(end: &Link, because: &str, label: &str) -> (IfIndex, String, bool, Event) {
    let previous = crate::wire::unlink::alias_before_hold(end);
    let event = Event::LinkUpPropagated {
        netns: label.into(),
        end: end.name.clone(),
        because: because.into(),
    };
    (end.index, previous, true, event)
}

/// Puts every eBPF wire direction on the path its target calls for now (a root qdisc added
/// or removed on an end since the wire was made): one look at the ends' qdiscs, and a map
/// write for each direction that moves — nothing when none does.
fn settle_paths(netns: &Netns, state: &State, label: &str, events: &mut Vec<Event>) {
    let ends: Vec<&str> = state
        .wires
        .iter()
        .filter(|(a, (b, _, datapath))| {
            *datapath == wire::Datapath::Ebpf && state.alive(**a) && state.alive(*b)
        })
        .map(|(a, _)| state.links[a].name.as_str())
        .collect();
    if ends.is_empty() {
        return;
    }
    let settled = netns
        .try_clone()
        .map_err(|e| WireError::io("duplicating a netns fd", e))
        .and_then(|copy| wire::settle_paths(copy.with_label(label), &ends));
    match settled {
        Ok(changes) => events.extend(changes.into_iter().map(|c| Event::PathSettled {
            netns: label.into(),
            from: c.from,
            to: c.to,
            path: c.path.to_string(),
            because: c.because,
        })),
        Err(e) => events.push(failed(
            label,
            "settling the eBPF wires' paths".into(),
            e.to_string(),
        )),
    }
}

fn failed(label: &str, what: String, error: String) -> Event {
    Event::RepairFailed {
        netns: label.into(),
        what,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link_with_alias(alias: Option<&str>) -> Link {
        Link {
            index: IfIndex(5),
            name: "eth1".into(),
            kind: Some("veth".into()),
            mtu: 1500,
            min_mtu: 68,
            max_mtu: 65535,
            up: true,
            carrier: true,
            oper_up: true,
            loopback: false,
            mac: None,
            peer: None,
            peer_netnsid: None,
            master: None,
            tun: None,
            alias: alias.map(String::from),
            altnames: Vec::new(),
            noarp: false,
            ipv6: Some(true),
            txqlen: 1000,
        }
    }

    #[test]
    fn a_hold_names_its_cause_and_keeps_the_users_alias() {
        let (_, alias, up, _) = hold(&link_with_alias(Some("uplink to r2")), "tap1", "lab");
        assert!(!up);
        assert_eq!(
            alias,
            "patchwire held down: far end tap1 is down or gone | alias was: uplink to r2"
        );
        let held_end = link_with_alias(Some(&alias));
        assert_eq!(held_because(&held_end).as_deref(), Some("tap1"));
        let (_, restored, up, _) = release(&held_end, "tap1", "lab");
        assert!(up);
        assert_eq!(restored, "uplink to r2");

        // A long multi-byte alias is cut on a character boundary, never mid-character.
        let long = format!("a{}", "é".repeat(200));
        let (_, alias, _, _) = hold(&link_with_alias(Some(&long)), "tap1", "lab");
        assert!(alias.len() <= 255 && alias.starts_with(HOLD_MARK));
        assert_eq!(
            held_because(&link_with_alias(Some(&alias))).as_deref(),
            Some("tap1")
        );

        let (_, alias, _, _) = hold(&link_with_alias(None), "eth9", "lab");
        let (_, restored, _, _) = release(&link_with_alias(Some(&alias)), "eth9", "lab");
        assert_eq!(restored, "", "no user alias: cleared");
        assert_eq!(held_because(&link_with_alias(Some("my alias"))), None);
    }
}
