//! A link's `flap:` — a cable pulled and put back on a schedule while `patchwire watch --lab
//! FILE` runs (`crate::impair::flap`): `{down: 2s, up: 10s}` (fixed), `{down: 1s-3s, up:
//! 5s-20s, seed: 42}` (drawn from the ranges; same seed, same schedule), `count: N` (N pulls,
//! then the cable stays in). Every value is checked here, with its place in the file.

use crate::impair::flap::{Flap, Span};

use super::LinkKind;
use super::check::Check;
use super::locate::{Seg, key};
use super::raw::RawLink;
use super::values::Text;

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
        // What is wrong with the flap as a whole, then each of its values: all said at once.
        let mut whole = true;
        if !matches!(kind, LinkKind::Veth) {
            fail(
                at(None),
                true,
                "`flap:` acts on a link between nodes (on its panel ports), not on a \
                 single-ended link of containerlab's `type:`"
                    .into(),
            );
            whole = false;
        } else if down {
            fail(
                at(None),
                true,
                "a link is either pulled (`state: down`) or flapping (`flap:`), not both".into(),
            );
            whole = false;
        }
        let missing: Vec<String> = [("down", &raw.down), ("up", &raw.up)]
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| format!("`{k}:`"))
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "flap: give both `down:` and `up:` ({} missing)",
                missing.join(" and ")
            );
            fail(at(None), true, why);
            whole = false;
        }
        let mut errors = Vec::new();
        let mut span = |k: &str, text: &Option<Text>| {
            let text = text.as_ref().map_or("", |t| t.0.as_str());
            // `1s-`: a range cut short (Span::parse would read the missing end as "").
            let trimmed = text.trim();
            if trimmed.len() > 1 && trimmed.ends_with('-') {
                let why = format!(
                    "flap: {k}: \"{trimmed}\" is a range without its upper bound: give both \
                     ends, like 1s-3s"
                );
                errors.push((at(Some(k)), why));
                return None;
            }
            Span::parse(text)
                .map_err(|why| errors.push((at(Some(k)), format!("flap: {k}: {why}"))))
                .ok()
        };
        // A missing phase is said above: only those given are read.
        let mut span = |k: &str, text: &Option<Text>| match text {
            Some(_) => span(k, text),
            None => None,
        };
        let (down, up) = (span("down", &raw.down), span("up", &raw.up));
        let mut number = |k: &str, text: &Option<Text>, range: (u64, u64), what: &str| {
            let text = text.as_ref()?;
            match text.0.trim().parse::<u64>() {
                Ok(n) if (range.0..=range.1).contains(&n) => Some(n),
                _ => {
                    let why = format!(
                        "flap: {k} {:?} is not {what} from {} to {}",
                        text.0, range.0, range.1
                    );
                    errors.push((at(Some(k)), why));
                    None
                }
            }
        };
        let seed = number("seed", &raw.seed, (0, u64::MAX), "a whole number");
        let count = number(
            "count",
            &raw.count,
            (1, u64::from(u32::MAX)),
            "a number of pulls",
        );
        if !errors.is_empty() {
            for (segs, why) in errors {
                fail(segs, false, why);
            }
            return None;
        }
        if !whole {
            return None;
        }
        Some(Flap {
            down: down?,
            up: up?,
            seed: seed.unwrap_or(0),
            count: count.map(|c| c as u32),
        })
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
            err(&link_with("{seed: 1}")),
            "t1.yaml:8:5: flap: give both `down:` and `up:` (`down:` and `up:` missing)"
        );
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
            "t1.yaml:8:5: flap: give both `down:` and `up:` (`up:` missing)"
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
        // What is wrong with the flap as a whole and in its values, at once.
        assert_eq!(
            err(&two_nodes(
                "  - endpoints: [r1:eth1, r2:eth1]\n    state: down\n    flap: {down: 0s}\n"
            )),
            "t1.yaml:9:5: a link is either pulled (`state: down`) or flapping (`flap:`), not \
             both\n\
             t1.yaml:9:5: flap: give both `down:` and `up:` (`up:` missing)\n\
             t1.yaml:9:18: flap: down: \"0s\" is zero: a phase of a flap lasts at least 10ms"
        );
    }
}
