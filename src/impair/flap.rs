//! A flapping cable's schedule (issue 21's "intermittent layer-1 faults"): how long the cable
//! stays in, how long it stays pulled, over and over — fixed (`down: 2s, up: 10s`) or drawn
//! uniformly from ranges with a seed (`down: 1s-3s, up: 5s-20s, seed: 42`).
//!
//! Pure arithmetic: who pulls and puts back the cable (`watch --lab`, with [`super::cable`])
//! is elsewhere. **Same seed, same schedule**: the draws come from SplitMix64 seeded with
//! `seed` (0 when none is given), one draw per phase even when the phase is fixed, so a
//! schedule never depends on the machine, the time or the Rust version.
//!
//! A schedule starts with the cable **in** for one `up` phase (a lab comes up whole), then
//! alternates: pulled for a `down` phase, in for an `up` phase. `count: N` stops after N
//! pulls, leaving the cable in.

use std::time::Duration;

use serde::Serialize;

/// The shortest phase: the watcher's timing (a timer wake-up and one netlink round trip per
/// port) is a few milliseconds; a shorter phase would be noise.
pub const MIN_PHASE: Duration = Duration::from_millis(10);
/// The longest phase (a day).
pub const MAX_PHASE: Duration = Duration::from_secs(86_400);

/// A flapping link of a lab, as `watch --lab` runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlapLink {
    /// The link in words: its endpoints, `r1:eth1 r2:eth1`.
    pub link: String,
    /// Its panel ports (a wire's two, a hub member's one): pulled and put back together.
    pub ports: Vec<String>,
    /// The schedule.
    pub flap: Flap,
}

/// What a lab's file asks of the watcher on its panel: the links to flap, and the ports the
/// file itself pulls (`state: down`), which the watcher never puts back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flapping {
    /// The panel namespace's name.
    pub netns: String,
    /// The file the flaps come from (for messages).
    pub file: String,
    /// The flapping links.
    pub links: Vec<FlapLink>,
    /// Ports of cables the file pulls.
    pub pulled: Vec<String>,
}

/// One phase's length: fixed (`min == max`) or drawn uniformly from `min..=max` (ms steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Shortest, in milliseconds.
    pub min_ms: u64,
    /// Longest, in milliseconds.
    pub max_ms: u64,
}

/// A flapping cable: `flap: {down: …, up: …, [seed: …], [count: …]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flap {
    /// How long the cable stays pulled each time.
    pub down: Span,
    /// How long it stays in between pulls (and before the first).
    pub up: Span,
    /// The random schedule's seed (0 when not given).
    pub seed: u64,
    /// How many pulls, then the cable stays in; `None`: until the watcher stops.
    pub count: Option<u32>,
}

/// One pull: when the cable is pulled and put back, from the schedule's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cycle {
    /// 1-based.
    pub cycle: u32,
    /// Pulled at, in milliseconds from the start.
    pub down_at_ms: u64,
    /// Put back at, in milliseconds from the start.
    pub up_at_ms: u64,
}

impl Span {
    /// `2s`, `500ms`, `1.5s`, `1m`, or a range `1s-3s` (each side with its unit). Each length
    /// is at least 10 ms and at most a day.
    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        // A leading '-' is a negative length, not a range.
        let (min, max) = match text.get(1..).and_then(|rest| rest.find('-')) {
            Some(at) => (&text[..at + 1], &text[at + 2..]),
            None => (text, text),
        };
        let (min_ms, max_ms) = (parse_length(min)?, parse_length(max)?);
        if min_ms > max_ms {
            return Err(format!(
                "\"{text}\": the range's shortest ({min}) is longer than its longest ({max})"
            ));
        }
        Ok(Span { min_ms, max_ms })
    }

    /// As written: `2s`, `1s-3s`.
    pub fn describe(&self) -> String {
        match self.min_ms == self.max_ms {
            true => show_ms(self.min_ms),
            false => format!("{}-{}", show_ms(self.min_ms), show_ms(self.max_ms)),
        }
    }

    fn draw(&self, rng: &mut SplitMix64) -> u64 {
        let r = rng.next();
        self.min_ms + r % (self.max_ms - self.min_ms + 1)
    }
}

impl Flap {
    /// `down 2s, up 10s`, `down 1s-3s, up 5s-20s, seed 42, count 3`.
    pub fn describe(&self) -> String {
        let mut out = format!("down {}, up {}", self.down.describe(), self.up.describe());
        if self.is_random() {
            out.push_str(&format!(", seed {}", self.seed));
        }
        if let Some(count) = self.count {
            out.push_str(&format!(", count {count}"));
        }
        out
    }

    /// Whether a phase is drawn from a range (the seed matters).
    pub fn is_random(&self) -> bool {
        self.down.min_ms != self.down.max_ms || self.up.min_ms != self.up.max_ms
    }

    /// The pulls, in order (endless without `count`).
    pub fn schedule(&self) -> Schedule {
        Schedule {
            flap: *self,
            rng: SplitMix64(self.seed),
            at_ms: 0,
            cycle: 0,
        }
    }
}

/// The pulls of a [`Flap`], in order.
#[derive(Debug, Clone)]
pub struct Schedule {
    flap: Flap,
    rng: SplitMix64,
    at_ms: u64,
    cycle: u32,
}

impl Iterator for Schedule {
    type Item = Cycle;

    fn next(&mut self) -> Option<Cycle> {
        if self.flap.count.is_some_and(|c| self.cycle >= c) {
            return None;
        }
        self.cycle = self.cycle.checked_add(1)?;
        // Up first, then down: one draw each, in that order.
        let down_at_ms = self.at_ms + self.flap.up.draw(&mut self.rng);
        let up_at_ms = down_at_ms + self.flap.down.draw(&mut self.rng);
        self.at_ms = up_at_ms;
        Some(Cycle {
            cycle: self.cycle,
            down_at_ms,
            up_at_ms,
        })
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fixed, good enough for schedules.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// One length: a number and a unit (`ms`, `s`, `m`, `h`), whole milliseconds.
fn parse_length(text: &str) -> Result<u64, String> {
    let accepted = "a length like 500ms, 2s, 1.5s, 1m or a range like 1s-3s";
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("\"{text}\" is negative: give {accepted}"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not {accepted}"))?;
    if value == 0.0 {
        return Err(format!(
            "\"{text}\" is zero: a phase of a flap lasts at least {}",
            show_ms(MIN_PHASE.as_millis() as u64)
        ));
    }
    let scale = match unit.trim() {
        "ms" => 1.0,
        "s" | "sec" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3600e3,
        "" => return Err(format!("\"{text}\" has no unit: give {accepted}")),
        _ => return Err(format!("\"{text}\" is not {accepted}")),
    };
    let ms = (value * scale).round();
    if ms < MIN_PHASE.as_millis() as f64 {
        return Err(format!(
            "\"{text}\" is shorter than {}: a phase of a flap lasts at least that long",
            show_ms(MIN_PHASE.as_millis() as u64)
        ));
    }
    if ms > MAX_PHASE.as_millis() as f64 {
        return Err(format!("\"{text}\" is longer than a day"));
    }
    Ok(ms as u64)
}

/// `2s`, `1.5s`, `500ms`, `2m`.
pub fn show_ms(ms: u64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 && ms >= 3_600_000 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 && ms >= 60_000 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms if ms >= 1000 => format!("{}s", ms as f64 / 1000.0),
        ms => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flap(down: &str, up: &str, seed: u64, count: Option<u32>) -> Flap {
        Flap {
            down: Span::parse(down).unwrap(),
            up: Span::parse(up).unwrap(),
            seed,
            count,
        }
    }

    #[test]
    fn lengths_and_ranges_as_people_write_them() {
        assert_eq!(
            Span::parse("2s"),
            Ok(Span {
                min_ms: 2000,
                max_ms: 2000
            })
        );
        assert_eq!(
            Span::parse("1s-3s"),
            Ok(Span {
                min_ms: 1000,
                max_ms: 3000
            })
        );
        assert_eq!(Span::parse("1.5s").unwrap().min_ms, 1500);
        assert_eq!(Span::parse("500ms - 2s").unwrap().max_ms, 2000);
        assert_eq!(Span::parse("1m").unwrap().describe(), "1m");
        assert_eq!(Span::parse("1s-3s").unwrap().describe(), "1s-3s");
        assert_eq!(
            Span::parse("-1s"),
            Err(
                "\"-1s\" is negative: give a length like 500ms, 2s, 1.5s, 1m or a range like \
                 1s-3s"
                    .into()
            )
        );
        assert_eq!(
            Span::parse("0"),
            Err("\"0\" is zero: a phase of a flap lasts at least 10ms".into())
        );
        assert_eq!(
            Span::parse("2"),
            Err(
                "\"2\" has no unit: give a length like 500ms, 2s, 1.5s, 1m or a range like \
                 1s-3s"
                    .into()
            )
        );
        assert_eq!(
            Span::parse("5ms"),
            Err("\"5ms\" is shorter than 10ms: a phase of a flap lasts at least that long".into())
        );
        assert_eq!(
            Span::parse("3s-1s"),
            Err("\"3s-1s\": the range's shortest (3s) is longer than its longest (1s)".into())
        );
        assert!(Span::parse("2 days").is_err());
        assert!(Span::parse("25h").is_err());
    }

    #[test]
    fn a_fixed_flap_is_periodic_and_starts_with_the_cable_in() {
        let cycles: Vec<Cycle> = flap("2s", "10s", 0, Some(3)).schedule().collect();
        let at: Vec<(u64, u64)> = cycles.iter().map(|c| (c.down_at_ms, c.up_at_ms)).collect();
        assert_eq!(
            at,
            vec![(10_000, 12_000), (22_000, 24_000), (34_000, 36_000)]
        );
        assert_eq!(cycles[2].cycle, 3);
        assert_eq!(
            flap("2s", "10s", 0, None).schedule().take(1000).count(),
            1000
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_draws_stay_in_their_ranges() {
        let a: Vec<Cycle> = flap("1s-3s", "5s-20s", 42, None)
            .schedule()
            .take(200)
            .collect();
        let b: Vec<Cycle> = flap("1s-3s", "5s-20s", 42, None)
            .schedule()
            .take(200)
            .collect();
        let c: Vec<Cycle> = flap("1s-3s", "5s-20s", 43, None)
            .schedule()
            .take(200)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut last_up = 0;
        for cycle in &a {
            let up = cycle.down_at_ms - last_up;
            let down = cycle.up_at_ms - cycle.down_at_ms;
            assert!((5000..=20_000).contains(&up), "{cycle:?}");
            assert!((1000..=3000).contains(&down), "{cycle:?}");
            last_up = cycle.up_at_ms;
        }
        // Pinned: a change of generator would change every user's schedules.
        let first = a[0];
        assert_eq!(
            (first.down_at_ms, first.up_at_ms),
            (
                5000 + SplitMix64(42).next() % 15_001,
                5000 + SplitMix64(42).next() % 15_001 + 1000 + {
                    let mut r = SplitMix64(42);
                    r.next();
                    r.next() % 2001
                }
            )
        );
        assert_eq!(SplitMix64(0).next(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn describe_says_what_the_file_says() {
        assert_eq!(flap("2s", "10s", 0, None).describe(), "down 2s, up 10s");
        assert_eq!(
            flap("1s-3s", "5s-20s", 42, Some(3)).describe(),
            "down 1s-3s, up 5s-20s, seed 42, count 3"
        );
        assert_eq!(show_ms(1500), "1.5s");
        assert_eq!(show_ms(86_400_000), "24h");
        assert_eq!(show_ms(5_400_000), "90m");
        assert_eq!(show_ms(250), "250ms");
    }
}
