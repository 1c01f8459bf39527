//! A link's `flap:` — a cable pulled and put back on a schedule while `patchwire watch --lab
//! FILE` runs (`crate::impair::flap`): `{down: 2s, up: 10s}` (fixed), `{down: 1s-3s, up:
//! 5s-20s, seed: 42}` (drawn from the ranges; same seed, same schedule), `count: N` (N pulls,
//! then the cable stays in). Every value is checked here, with its place in the file.

use crate::impair::flap::{Flap, Span};

use super::LinkKind;
use super::check::Check;
use super::locate::{Seg, key};
use super::raw::RawLink;

impl Check<'_> {
    /// The link's flap, if it has one; errors pushed at the value (`ok` set false).
    pub(super) fn link_flap(
        &self,
        link: &RawLink,
        i: usize,
        (kind, down): (&LinkKind, bool),
        ok: &mut bool,
    ) -> Option<Flap> {
        let raw = link.flap.as_ref()?;
        let at = |k: Option<&str>| {
            let mut segs = vec![key("topology"), key("links"), Seg::Index(i), key("flap")];
            segs.extend(k.map(key));
            segs
        };
        let mut fail = |segs: Vec<Seg>, at_key: bool, why: String| {
            self.push(&segs, at_key, why);
            *ok = false;
        };
        if !matches!(kind, LinkKind::Veth) {
            fail(
                at(None),
                true,
                "`flap:` acts on a link between nodes (on its panel ports), not on a \
                 single-ended link of containerlab's `type:`"
                    .into(),
            );
            return None;
        }
        if down {
            fail(
                at(None),
                true,
                "a link is either pulled (`state: down`) or flapping (`flap:`), not both".into(),
            );
            return None;
        }
        let span = |k: &str, text: &Option<super::values::Text>| match text {
            None => Err((
                at(None),
                true,
                format!("flap: give both `down:` and `up:` (`{k}:` is missing)"),
            )),
            Some(text) => Span::parse(&text.0)
                .map_err(|why| (at(Some(k)), false, format!("flap: {k}: {why}"))),
        };
        let number = |k: &str,
                      text: &Option<super::values::Text>,
                      max: u64|
         -> Result<Option<u64>, (Vec<Seg>, bool, String)> {
            let Some(text) = text else { return Ok(None) };
            match text.0.trim().parse::<u64>() {
                Ok(n) if n <= max && (k != "count" || n > 0) => Ok(Some(n)),
                _ => Err((
                    at(Some(k)),
                    false,
                    match k {
                        "count" => format!(
                            "flap: count {:?} is not a number of pulls from 1 to {max}",
                            text.0
                        ),
                        _ => format!(
                            "flap: seed {:?} is not a whole number from 0 to {max}",
                            text.0
                        ),
                    },
                )),
            }
        };
        let parts = (
            span("down", &raw.down),
            span("up", &raw.up),
            number("seed", &raw.seed, u64::MAX),
            number("count", &raw.count, u64::from(u32::MAX)),
        );
        match parts {
            (Ok(down), Ok(up), Ok(seed), Ok(count)) => Some(Flap {
                down,
                up,
                seed: seed.unwrap_or(0),
                count: count.map(|c| c as u32),
            }),
            (down, up, seed, count) => {
                for (segs, at_key, why) in [down.err(), up.err(), seed.err(), count.err()]
                    .into_iter()
                    .flatten()
                    // A missing phase is said once.
                    .take_while({
                        let mut said = false;
                        move |(_, at_key, _)| {
                            let first = !(said && *at_key);
                            said |= *at_key;
                            first
                        }
                    })
                {
                    fail(segs, at_key, why);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::impair::flap::{Flap, Span};
    use crate::lab::file::testing::*;

    fn link_with(flap: &str) -> String {
        two_nodes(&format!(
            "  - endpoints: [r1:eth1, r2:eth1]\n    flap: {flap}\n"
        ))
    }

    #[test]
    fn fixed_and_random_flaps_are_read() {
        let file = lab(&link_with("{down: 2s, up: 10s}"));
        assert_eq!(
            file.links[0].flap,
            Some(Flap {
                down: Span {
                    min_ms: 2000,
                    max_ms: 2000
                },
                up: Span {
                    min_ms: 10_000,
                    max_ms: 10_000
                },
                seed: 0,
                count: None,
            })
        );
        let file = lab(&link_with("{down: 1s-3s, up: 5s-20s, seed: 42, count: 3}"));
        let flap = file.links[0].flap.unwrap();
        assert_eq!(flap.describe(), "down 1s-3s, up 5s-20s, seed 42, count 3");
        assert_eq!(
            lab(&two_nodes("  - endpoints: [r1:eth1, r2:eth1]\n")).links[0].flap,
            None
        );
    }

    #[test]
    fn bad_flaps_are_refused_at_their_place() {
        assert_eq!(
            err(&link_with("{down: -1s, up: 10s}")),
            "t1.yaml:8:18: flap: down: \"-1s\" is negative: give a length like 500ms, 2s, 1.5s, \
             1m or a range like 1s-3s"
        );
        assert_eq!(
            err(&link_with("{down: 1s, up: 0}")),
            "t1.yaml:8:26: flap: up: \"0\" is zero: a phase of a flap lasts at least 10ms"
        );
        assert_eq!(
            err(&link_with("{down: 1s, up: 2s, sead: 4}")),
            "t1.yaml:8:30: unknown key `sead` in a flap (did you mean `seed`?)"
        );
        assert_eq!(
            err(&link_with("{down: 1s}")),
            "t1.yaml:8:5: flap: give both `down:` and `up:` (`up:` is missing)"
        );
        assert_eq!(
            err(&link_with("{down: 1s, up: 2s, count: 0}")),
            "t1.yaml:8:37: flap: count \"0\" is not a number of pulls from 1 to 4294967295"
        );
        assert_eq!(
            err(&link_with("{down: 1s, up: 2s, seed: -3}")),
            "t1.yaml:8:36: flap: seed \"-3\" is not a whole number from 0 to 18446744073709551615"
        );
        assert_eq!(
            err(&link_with("2s")),
            "t1.yaml:8:11: `topology.links[0].flap` must be a flap: a mapping such as {down: \
             2s, up: 10s}, found string \"2s\""
        );
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    state: down\n    flap: {down: 1s, up: 2s}\n"
            )),
            "t1.yaml:9:5: a link is either pulled (`state: down`) or flapping (`flap:`), not both"
        );
    }
}
