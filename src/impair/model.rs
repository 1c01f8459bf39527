//! What an impairment is — loss (random or in bursts), corruption, duplication, delay, jitter,
//! reordering, a rate — how one call's keys merge into what is set, and the record written in
//! the program filter's name. No kernel here: [`super`] sets and reads it.

use serde::Serialize;

use super::program;
use super::qdisc::Distribution;
use super::units;
use crate::marks::IMPAIR_RECORD;

/// Loss: independent per frame, or in bursts (netem's `loss gemodel p r 1-h 1-k`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum Loss {
    /// Each frame lost with this probability (percent).
    Random {
        /// Percent of frames lost.
        percent: f64,
    },
    /// The Gilbert–Elliott chain, percentages: `p` good → bad, `r` bad → good, `bad_loss`
    /// (1-h) lost in the bad state, `good_loss` (1-k) lost in the good state. The mean burst
    /// length is 1/r frames (with bad_loss 100 %), the long-run loss p/(p+r)·bad_loss +
    /// r/(p+r)·good_loss.
    GilbertElliott {
        /// Good → bad.
        p: f64,
        /// Bad → good.
        r: f64,
        /// Loss in the bad state (1-h).
        bad_loss: f64,
        /// Loss in the good state (1-k).
        good_loss: f64,
    },
}

impl Loss {
    fn is_off(&self) -> bool {
        match self {
            Loss::Random { percent } => *percent == 0.0,
            Loss::GilbertElliott { p, good_loss, .. } => *p == 0.0 && *good_loss == 0.0,
        }
    }

    /// netem's words: `10%`, `gemodel 1% 20% 100% 0%`.
    pub fn describe(&self) -> String {
        use units::show_percent as pc;
        match self {
            Loss::Random { percent } => pc(*percent),
            Loss::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => format!(
                "gemodel {} {} {} {}",
                pc(*p),
                pc(*r),
                pc(*bad_loss),
                pc(*good_loss)
            ),
        }
    }

    /// `P[/R[/1-H[/1-K]]]` as `--loss-burst` takes it (netem's defaults: r = 100 % - p,
    /// 1-h = 100 %, 1-k = 0 %). Fields are separated by `/` (or `,`; spaces alone as netem
    /// writes them); an empty field (`1%//50%`, `1%/20%/`) is refused, not skipped — skipping
    /// it would move the next value into its place.
    pub fn parse_gemodel(text: &str) -> Result<Loss, String> {
        let form = "give P[/R[/1-H[/1-K]]] in percent, e.g. 1%/20%";
        let trimmed = text.trim();
        let parts: Vec<&str> = match trimmed.contains(['/', ',']) {
            true => trimmed.split(['/', ',']).map(str::trim).collect(),
            false => trimmed.split_whitespace().collect(),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("\"{text}\" has an empty field: {form}"));
        }
        if parts.is_empty() || parts.len() > 4 {
            return Err(format!("\"{text}\" is not a Gilbert–Elliott model: {form}"));
        }
        let values = parts
            .iter()
            .map(|p| units::parse_percent(p))
            .collect::<Result<Vec<f64>, String>>()?;
        let p = values[0];
        Ok(Loss::GilbertElliott {
            p,
            r: values
                .get(1)
                .copied()
                .unwrap_or(units::round_percent(100.0 - p)),
            bad_loss: values.get(2).copied().unwrap_or(100.0),
            good_loss: values.get(3).copied().unwrap_or(0.0),
        })
    }
}

/// Everything one direction can carry. `None` is "not set"; in a change ([`Impairment::merged`])
/// a zero value removes what was set.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Impairment {
    /// Frames lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    /// Percent of frames with one bit flipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<f64>,
    /// Percent of frames sent twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<f64>,
    /// Delay in nanoseconds (netem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ns: Option<u64>,
    /// Jitter in nanoseconds (netem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_ns: Option<u64>,
    /// The jitter's distribution (netem; uniform when not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    /// Percent of frames sent at once, ahead of delayed ones (netem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reorder: Option<f64>,
    /// Rate in bit/s (tbf).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_bps: Option<u64>,
    /// tbf's bucket in bytes (default: 10 ms at the rate, at least 16 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_bytes: Option<u32>,
}

impl Impairment {
    /// `self` with what `change` names set, the rest kept; a zero in `change` removes that
    /// item (`--loss 0`, `--rate 0`…). Removing the delay removes jitter and reordering too;
    /// removing the rate removes its burst.
    pub fn merged(&self, change: &Impairment) -> Impairment {
        let mut out = *self;
        if let Some(loss) = change.loss {
            out.loss = (!loss.is_off()).then_some(loss);
        }
        out.corrupt = merge(out.corrupt, change.corrupt);
        out.duplicate = merge(out.duplicate, change.duplicate);
        out.delay_ns = merge(out.delay_ns, change.delay_ns);
        if change.delay_ns == Some(0) {
            out.jitter_ns = None;
            out.reorder = None;
            out.distribution = None;
        }
        if change.jitter_ns == Some(0) {
            out.distribution = None;
        }
        out.jitter_ns = merge(out.jitter_ns, change.jitter_ns);
        if change.distribution.is_some() {
            out.distribution = change.distribution;
        }
        out.reorder = merge(out.reorder, change.reorder);
        out.rate_bps = merge(out.rate_bps, change.rate_bps);
        if change.rate_bps == Some(0) {
            out.burst_bytes = None;
        }
        if change.burst_bytes.is_some() {
            out.burst_bytes = change.burst_bytes;
        }
        // A distribution without a jitter is not dropped here: [`Impairment::check`] refuses
        // it, rather than a `--distribution normal` alone changing nothing and saying so.
        out
    }

    /// Nothing set at all.
    pub fn is_empty(&self) -> bool {
        *self == Impairment::default()
    }

    /// Whether netem is needed.
    pub fn needs_netem(&self) -> bool {
        self.delay_ns.is_some() || self.jitter_ns.is_some() || self.reorder.is_some()
    }

    /// Refusals that need no kernel: combinations that mean nothing, values out of range.
    pub fn check(&self) -> Result<(), String> {
        let in_range = |what: &str, v: f64, zero_ok: bool| {
            if v.is_nan() || !(0.0..=100.0).contains(&v) || (!zero_ok && v == 0.0) {
                Err(format!(
                    "{what} must be more than 0% and at most 100%, not {v}%"
                ))
            } else {
                Ok(())
            }
        };
        match self.loss {
            Some(Loss::Random { percent }) => in_range("loss", percent, false)?,
            Some(Loss::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            }) => {
                in_range("the burst model's p (good to bad)", p, true)?;
                in_range("the burst model's r (bad to good)", r, false)?;
                in_range(
                    "the burst model's 1-h (loss in the bad state)",
                    bad_loss,
                    true,
                )?;
                in_range(
                    "the burst model's 1-k (loss in the good state)",
                    good_loss,
                    true,
                )?;
            }
            None => {}
        }
        for (what, v) in [
            ("corrupt", self.corrupt),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if let Some(v) = v {
                in_range(what, v, false)?;
            }
        }
        if self.delay_ns.is_none() {
            if self.jitter_ns.is_some() {
                return Err("jitter varies a delay: give --delay too".into());
            }
            if self.reorder.is_some() {
                return Err(
                    "reordering sends some frames ahead of delayed ones: give --delay too".into(),
                );
            }
        }
        if self.distribution.is_some() && self.jitter_ns.is_none() {
            return Err("a distribution shapes a jitter: give --jitter too".into());
        }
        if let (Some(jitter), Some(delay)) = (self.jitter_ns, self.delay_ns)
            && jitter > delay
        {
            return Err(format!(
                "jitter {} is larger than the delay {}: frames cannot leave before they arrive",
                units::show_duration(jitter),
                units::show_duration(delay)
            ));
        }
        if self.burst_bytes.is_some() && self.rate_bps.is_none() {
            return Err("a burst belongs to a rate: give --rate too".into());
        }
        Ok(())
    }

    /// The rate's bucket where the port is not known (a lab's plan compares with it): as
    /// given, else [`default_burst`] for a standard frame.
    pub fn burst(&self) -> Option<u32> {
        self.burst_for(0)
    }

    /// The rate's bucket on a port of `mtu`: as given, else [`default_burst`] (`None`
    /// without a rate).
    pub fn burst_for(&self, mtu: u32) -> Option<u32> {
        let rate = self.rate_bps?;
        Some(self.burst_bytes.unwrap_or_else(|| default_burst(rate, mtu)))
    }

    pub(super) fn params(&self) -> program::Params {
        use program::threshold as t;
        let mut params = program::Params {
            corrupt: t(self.corrupt.unwrap_or(0.0)),
            duplicate: t(self.duplicate.unwrap_or(0.0)),
            ..Default::default()
        };
        match self.loss {
            Some(Loss::Random { percent }) => params.loss = t(percent),
            Some(Loss::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            }) => {
                params.gilbert_elliott = true;
                params.ge_p = t(p);
                params.ge_r = t(r);
                params.ge_bad_loss = t(bad_loss);
                params.ge_good_loss = t(good_loss);
            }
            None => {}
        }
        params
    }

    /// The eBPF part back from the map's parameters, the qdisc part from the record.
    pub(super) fn from_parts(params: &program::Params, record: &Record) -> Impairment {
        use program::percent as pc;
        // Rounded first: a threshold that reads back as 0 is no setting (none can be set now:
        // [`units::PERCENT_RESOLUTION`]), so it never comes back as a 0% that `check` refuses.
        let some = |v: u64| Some(round(pc(v))).filter(|v| *v != 0.0);
        let loss = match params.gilbert_elliott {
            true => Some(Loss::GilbertElliott {
                p: round(pc(params.ge_p)),
                r: round(pc(params.ge_r)),
                bad_loss: round(pc(params.ge_bad_loss)),
                good_loss: round(pc(params.ge_good_loss)),
            }),
            false => some(params.loss).map(|percent| Loss::Random { percent }),
        };
        Impairment {
            loss,
            corrupt: some(params.corrupt),
            duplicate: some(params.duplicate),
            ..record.qdisc_part
        }
    }

    /// One line, in the command line's words: `loss 10% delay 50ms rate 10mbit` (the burst as
    /// [`Impairment::burst`]).
    pub fn describe(&self) -> String {
        self.describe_for(0)
    }

    /// [`Impairment::describe`] with the burst a port of `mtu` gets.
    pub fn describe_for(&self, mtu: u32) -> String {
        use units::{show_duration as d, show_percent as pc};
        let words: Vec<String> = [
            self.loss.map(|loss| format!("loss {}", loss.describe())),
            self.corrupt.map(|v| format!("corrupt {}", pc(v))),
            self.duplicate.map(|v| format!("duplicate {}", pc(v))),
            self.delay_ns.map(|v| format!("delay {}", d(v))),
            self.jitter_ns.map(|v| format!("jitter {}", d(v))),
            self.distribution
                .map(|v| format!("distribution {}", v.name())),
            self.reorder.map(|v| format!("reorder {}", pc(v))),
            self.rate_bps
                .map(|v| format!("rate {}", units::show_rate(v))),
            // burst_for() is `None` without a rate.
            self.burst_for(mtu).map(|b| format!("burst {b}b")),
        ]
        .into_iter()
        .flatten()
        .collect();
        match words.is_empty() {
            true => "nothing (frames pass unchanged)".into(),
            false => words.join(" "),
        }
    }
}

/// The bucket of a rate given without `--burst`: 10 ms at the rate, at least 16 KiB, and at
/// least one full frame of the port the frames leave by (`mtu` + its 14-byte Ethernet header;
/// 0 when the port is not known) — tbf drops every frame larger than its bucket.
pub fn default_burst(rate_bps: u64, mtu: u32) -> u32 {
    (rate_bps / 8 / 100)
        .max(16 * 1024)
        .max(u64::from(mtu) + 14)
        .min(u64::from(u32::MAX)) as u32
}

/// What a change ([`Impairment::merged`]) makes of one item: kept when the change does not
/// name it, removed by a zero, else the change's value.
pub(super) fn merge<T: PartialEq + Default>(was: Option<T>, change: Option<T>) -> Option<T> {
    match change {
        Some(v) if v == T::default() => None,
        Some(v) => Some(v),
        None => was,
    }
}

/// To the percentages' resolution: thresholds out of 2^32 read back as 9.999999999%.
pub(super) fn round(v: f64) -> f64 {
    units::round_percent(v)
}

/// Who set an impairment or pulled a cable: a lab's `up` or `watch --lab` doing what its file
/// says, or a command (`patchwire impair`, `cut`, `mend`) outside any file. A lab's `plan`
/// says which of its differences a command made (the file is the truth either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SetBy {
    /// `patchwire impair`/`cut` (and what records older than this field say).
    #[default]
    Command,
    /// A lab file, through `up` or a flap of `watch --lab`.
    File,
}

/// The record in the program filter's name: the exit it was made for, the qdisc part, and
/// who set it (` by=file` when a lab file did).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Record {
    pub(super) to: String,
    pub(super) qdisc_part: Impairment,
    pub(super) by: SetBy,
}

impl Record {
    pub(super) fn write(&self) -> String {
        let imp = &self.qdisc_part;
        let mut text = format!("{IMPAIR_RECORD}to={}", self.to);
        if let Some(v) = imp.delay_ns {
            text.push_str(&format!(" delay={v}"));
        }
        if let Some(v) = imp.jitter_ns {
            text.push_str(&format!(" jitter={v}"));
        }
        if let Some(v) = imp.distribution {
            text.push_str(&format!(" dist={}", v.name()));
        }
        if let Some(v) = imp.reorder {
            text.push_str(&format!(" reorder={v}"));
        }
        if let Some(v) = imp.rate_bps {
            text.push_str(&format!(" rate={v}"));
        }
        if let Some(v) = imp.burst_bytes {
            text.push_str(&format!(" burst={v}"));
        }
        if self.by == SetBy::File {
            text.push_str(" by=file");
        }
        text
    }

    pub(super) fn parse(name: &str) -> Option<Record> {
        let rest = name.strip_prefix(IMPAIR_RECORD)?;
        let mut record = Record::default();
        for word in rest.split(' ') {
            let (key, value) = word.split_once('=')?;
            let imp = &mut record.qdisc_part;
            match key {
                "to" => record.to = value.into(),
                "delay" => imp.delay_ns = value.parse().ok(),
                "jitter" => imp.jitter_ns = value.parse().ok(),
                "dist" => imp.distribution = Distribution::parse(value).ok(),
                "reorder" => imp.reorder = value.parse().ok(),
                "rate" => imp.rate_bps = value.parse().ok(),
                "burst" => imp.burst_bytes = value.parse().ok(),
                "by" if value == "file" => record.by = SetBy::File,
                _ => {}
            }
        }
        Some(record)
    }
}
