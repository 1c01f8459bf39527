//! The root qdiscs of an impairment, on the port its frames leave by: tbf for a rate, netem for
//! delay, jitter and reordering (with a tbf under it when a rate is asked for too — netem's
//! own documented way: `tc qdisc add dev X parent 1:1 tbf …`). Requests are built as raw
//! `TcMessage`s (netlink-packet-route has no tbf or netem options); `TCA_OPTIONS` goes as an
//! opaque attribute, since netem's starts with a bare struct and only then nested attributes.
//!
//! patchwire's roots are recognised by their handles ([`TBF_ROOT`], [`NETEM_ROOT`]): one
//! per kind, so changing kind is one replace of the root (the kernel grafts the new qdisc in;
//! frames queued in the old one are dropped with it), and changing parameters within a kind is
//! a change in place (tbf keeps its queue; netem keeps its queue).

use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use serde::Serialize;

use crate::nl::link::IfIndex;

/// Handle major of a tbf patchwire put at the root ("WT").
pub const TBF_ROOT: u16 = 0x5754;
/// Handle major of a netem patchwire put at the root ("WN").
pub const NETEM_ROOT: u16 = 0x574e;
/// Handle major of the tbf under patchwire's netem.
pub const TBF_UNDER_NETEM: u16 = 0x5755;

const TCA_OPTIONS: u16 = 2;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TC_LINKLAYER_ETHERNET: u8 = 1;
const TCA_NETEM_DELAY_DIST: u16 = 2;
const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;
/// netem's default queue, in packets (tc's default too).
const NETEM_LIMIT: u32 = 1000;
/// The scale of netem's distribution tables (NETEM_DIST_SCALE).
const DIST_SCALE: f64 = 8192.0;
/// Entries in a distribution table (as iproute2's normal.dist).
const DIST_ENTRIES: usize = 4096;

/// How jitter is distributed around the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Uniform in [delay - jitter, delay + jitter] (netem without a table).
    #[default]
    Uniform,
    /// Normal, jitter the standard deviation (iproute2's normal.dist, computed here).
    Normal,
    /// Pareto (iproute2's pareto.dist, computed here).
    Pareto,
}

impl Distribution {
    /// As written on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
        }
    }

    /// From its name.
    pub fn parse(text: &str) -> Result<Distribution, String> {
        match text {
            "uniform" => Ok(Distribution::Uniform),
            "normal" => Ok(Distribution::Normal),
            "pareto" => Ok(Distribution::Pareto),
            "paretonormal" => Err(
                "the paretonormal distribution is not built in yet: use normal, pareto or uniform"
                    .into(),
            ),
            other => Err(format!(
                "unknown distribution \"{other}\": use normal, pareto or uniform"
            )),
        }
    }
}

/// What a netem root carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Netem {
    /// Delay, nanoseconds.
    pub delay: u64,
    /// Jitter, nanoseconds.
    pub jitter: u64,
    /// Its distribution.
    pub distribution: Distribution,
    /// Percent of frames sent at once, ahead of the delayed ones (needs a delay).
    pub reorder: f64,
}

/// What a tbf carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tbf {
    /// Bits per second.
    pub rate: u64,
    /// Bucket size in bytes (the largest burst sent at line rate).
    pub burst: u32,
}

fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(len.div_ceil(4) * 4);
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(len.div_ceil(4) * 4, 0);
    out
}

fn qdisc_message(
    ifindex: IfIndex,
    parent: TcHandle,
    handle: u16,
    kind: &str,
    options: Vec<u8>,
) -> TcMessage {
    let mut message = TcMessage::default();
    message.header.index = ifindex.0 as i32;
    message.header.parent = parent;
    message.header.handle = TcHandle {
        major: handle,
        minor: 0,
    };
    message.attributes = vec![
        TcAttribute::Kind(kind.into()),
        TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, options)),
    ];
    message
}

/// The options of a tbf: rate (linklayer ethernet, so no rate table is needed), burst in bytes
/// (the kernel turns it into its bucket time), and a queue of the burst plus 50 ms at the rate.
pub fn tbf_options(tbf: &Tbf) -> Vec<u8> {
    let bytes_per_second = tbf.rate / 8;
    let limit = (u64::from(tbf.burst) + bytes_per_second / 20).min(u64::from(u32::MAX)) as u32;
    let mut parms = [0u8; 36];
    // struct tc_ratespec: cell_log u8, linklayer u8, overhead u16, cell_align i16, mpu u16, rate u32.
    parms[1] = TC_LINKLAYER_ETHERNET;
    parms[8..12].copy_from_slice(&(bytes_per_second.min(u64::from(u32::MAX)) as u32).to_ne_bytes());
    // peakrate (12..24) unused; limit, buffer (set by TCA_TBF_BURST), mtu.
    parms[24..28].copy_from_slice(&limit.to_ne_bytes());
    let mut options = nla(TCA_TBF_PARMS, &parms);
    if bytes_per_second >= u64::from(u32::MAX) {
        options.extend(nla(TCA_TBF_RATE64, &bytes_per_second.to_ne_bytes()));
    }
    options.extend(nla(TCA_TBF_BURST, &tbf.burst.to_ne_bytes()));
    options
}

/// A percentage as netem's u32 probability (tc's `get_percent`).
fn probability(percent: f64) -> u32 {
    ((percent / 100.0) * f64::from(u32::MAX)).round() as u32
}

/// The options of a netem: the legacy struct (latency and jitter also in ticks of 64 ns for
/// old kernels), then 64-bit latency and jitter in ns, reordering, and the distribution table.
pub fn netem_options(netem: &Netem) -> Vec<u8> {
    let ticks = |ns: u64| (ns >> 6).min(u64::from(u32::MAX)) as u32;
    let reorder = probability(netem.reorder);
    // struct tc_netem_qopt: latency, limit, loss, gap, duplicate, jitter.
    let gap: u32 = u32::from(reorder > 0);
    let mut options = Vec::with_capacity(24);
    for word in [
        ticks(netem.delay),
        NETEM_LIMIT,
        0,
        gap,
        0,
        ticks(netem.jitter),
    ] {
        options.extend_from_slice(&word.to_ne_bytes());
    }
    options.extend(nla(
        TCA_NETEM_LATENCY64,
        &(netem.delay as i64).to_ne_bytes(),
    ));
    options.extend(nla(
        TCA_NETEM_JITTER64,
        &(netem.jitter as i64).to_ne_bytes(),
    ));
    if reorder > 0 {
        let mut value = reorder.to_ne_bytes().to_vec();
        value.extend_from_slice(&0u32.to_ne_bytes());
        options.extend(nla(TCA_NETEM_REORDER, &value));
    }
    if netem.jitter > 0 && netem.distribution != Distribution::Uniform {
        let table: Vec<u8> = distribution_table(netem.distribution)
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        options.extend(nla(TCA_NETEM_DELAY_DIST, &table));
    }
    options
}

/// `tc qdisc replace dev IF root handle 5754: tbf …`.
pub fn replace_tbf_root(ifindex: IfIndex, tbf: &Tbf) -> (RouteNetlinkMessage, u16) {
    let message = qdisc_message(ifindex, TcHandle::ROOT, TBF_ROOT, "tbf", tbf_options(tbf));
    (
        RouteNetlinkMessage::NewQueueDiscipline(message),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `tc qdisc replace dev IF root handle 574e: netem …`.
pub fn replace_netem_root(ifindex: IfIndex, netem: &Netem) -> (RouteNetlinkMessage, u16) {
    let message = qdisc_message(
        ifindex,
        TcHandle::ROOT,
        NETEM_ROOT,
        "netem",
        netem_options(netem),
    );
    (
        RouteNetlinkMessage::NewQueueDiscipline(message),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `tc qdisc replace dev IF parent 574e:1 handle 5755: tbf …`.
pub fn replace_tbf_under_netem(ifindex: IfIndex, tbf: &Tbf) -> (RouteNetlinkMessage, u16) {
    let parent = TcHandle {
        major: NETEM_ROOT,
        minor: 1,
    };
    let message = qdisc_message(ifindex, parent, TBF_UNDER_NETEM, "tbf", tbf_options(tbf));
    (
        RouteNetlinkMessage::NewQueueDiscipline(message),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `tc qdisc del dev IF root`.
pub fn delete_root(ifindex: IfIndex) -> RouteNetlinkMessage {
    let mut message = TcMessage::default();
    message.header.index = ifindex.0 as i32;
    message.header.parent = TcHandle::ROOT;
    RouteNetlinkMessage::DelQueueDiscipline(message)
}

/// `tc qdisc del dev IF parent 574e:1` (the tbf under netem).
pub fn delete_tbf_under_netem(ifindex: IfIndex) -> RouteNetlinkMessage {
    let mut message = TcMessage::default();
    message.header.index = ifindex.0 as i32;
    message.header.parent = TcHandle {
        major: NETEM_ROOT,
        minor: 1,
    };
    message.header.handle = TcHandle {
        major: TBF_UNDER_NETEM,
        minor: 0,
    };
    RouteNetlinkMessage::DelQueueDiscipline(message)
}

/// `tc qdisc show dev IF` (all its qdiscs): a dump filtered by the kernel to one interface is
/// not available for qdiscs, so callers pick by ifindex.
pub fn dump() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default())
}

/// One qdisc as read back: where it is, its kind, its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QdiscStats {
    /// `tbf`, `netem`.
    pub kind: String,
    /// Its handle major (patchwire's: [`TBF_ROOT`], [`NETEM_ROOT`], [`TBF_UNDER_NETEM`]).
    #[serde(skip)]
    pub handle: u16,
    /// Its parent is the root.
    #[serde(skip)]
    pub root: bool,
    /// Frames it sent.
    pub packets: u64,
    /// Frames it dropped (queue full, a frame above a tbf's burst).
    pub drops: u64,
    /// Times a frame had to wait (tbf: over the rate).
    pub overlimits: u64,
    /// Frames queued now.
    pub qlen: u32,
}

/// The qdiscs of `ifindex` in a [`dump`] reply.
pub fn qdiscs_of(messages: &[RouteNetlinkMessage], ifindex: IfIndex) -> Vec<QdiscStats> {
    messages
        .iter()
        .filter_map(|message| {
            let RouteNetlinkMessage::NewQueueDiscipline(qdisc) = message else {
                return None;
            };
            if qdisc.header.index != ifindex.0 as i32 {
                return None;
            }
            let mut stats = QdiscStats {
                kind: String::new(),
                handle: qdisc.header.handle.major,
                root: qdisc.header.parent == TcHandle::ROOT,
                packets: 0,
                drops: 0,
                overlimits: 0,
                qlen: 0,
            };
            for attribute in &qdisc.attributes {
                match attribute {
                    TcAttribute::Kind(kind) => stats.kind = kind.clone(),
                    TcAttribute::Stats(s) => {
                        stats.packets = u64::from(s.packets);
                        stats.drops = u64::from(s.drops);
                        stats.overlimits = u64::from(s.overlimits);
                        stats.qlen = s.qlen;
                    }
                    _ => {}
                }
            }
            Some(stats)
        })
        .collect()
}

/// Whether a qdisc is one patchwire put there for an impairment.
pub fn is_ours(stats: &QdiscStats) -> bool {
    matches!(
        (stats.kind.as_str(), stats.handle),
        ("tbf", TBF_ROOT) | ("netem", NETEM_ROOT) | ("tbf", TBF_UNDER_NETEM)
    )
}

/// Requests that only probe whether the kernel has netem: a netem with no delay at the root of
/// `ifindex` (exclusive create: in a fresh private namespace nothing else is there).
pub fn probe_netem(ifindex: IfIndex) -> (RouteNetlinkMessage, u16) {
    let netem = Netem {
        delay: 0,
        jitter: 0,
        distribution: Distribution::Uniform,
        reorder: 0.0,
    };
    let (message, _) = replace_netem_root(ifindex, &netem);
    (message, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO)
}

/// The table netem draws jitter from: 4096 values of the inverse CDF scaled by 8192, as
/// iproute2's `normal.dist` and `pareto.dist` (computed here from the same formulas, so no
/// file of iproute2 is needed).
pub fn distribution_table(distribution: Distribution) -> Vec<i16> {
    let clamp = |v: f64| v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    match distribution {
        Distribution::Uniform => Vec::new(),
        Distribution::Normal => (0..DIST_ENTRIES)
            .map(|i| {
                // iproute2 fills a 16384-slot table and prints every 4th; slot 0 holds the
                // last x whose CDF rounds to 0.
                let p = (i as f64 / DIST_ENTRIES as f64).max(0.5 / 16384.0);
                clamp(inverse_normal_cdf(p) * DIST_SCALE)
            })
            .collect(),
        Distribution::Pareto => (0..DIST_ENTRIES)
            .map(|i| {
                // pareto.c: a = 3, x = 1 / u^(1/a) for u from 1 down, centred and scaled.
                let u = (65536 - i * 16) as f64 / 65536.0;
                let x = 1.0 / u.powf(1.0 / 3.0);
                clamp((x - 1.5) * (4.0 / 3.0) * DIST_SCALE)
            })
            .collect(),
    }
}

/// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - low {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbf_options_carry_rate_burst_and_limit() {
        let options = tbf_options(&Tbf {
            rate: 10_000_000,
            burst: 4096,
        });
        // PARMS (4 + 36), BURST (4 + 4).
        assert_eq!(options.len(), 40 + 8);
        assert_eq!(u16::from_ne_bytes([options[0], options[1]]), 40);
        assert_eq!(u16::from_ne_bytes([options[2], options[3]]), TCA_TBF_PARMS);
        let parms = &options[4..40];
        assert_eq!(parms[1], TC_LINKLAYER_ETHERNET);
        assert_eq!(
            u32::from_ne_bytes(parms[8..12].try_into().unwrap()),
            1_250_000
        );
        assert_eq!(
            u32::from_ne_bytes(parms[24..28].try_into().unwrap()),
            4096 + 62_500
        );
        assert_eq!(
            u16::from_ne_bytes([options[42], options[43]]),
            TCA_TBF_BURST
        );
        assert_eq!(
            u32::from_ne_bytes(options[44..48].try_into().unwrap()),
            4096
        );
        // Above 34 Gbit/s the 32-bit rate saturates and RATE64 carries it.
        let fast = tbf_options(&Tbf {
            rate: 40_000_000_000,
            burst: 1 << 20,
        });
        assert_eq!(fast.len(), 40 + 12 + 8);
    }

    #[test]
    fn netem_options_start_with_the_struct() {
        let options = netem_options(&Netem {
            delay: 50_000_000,
            jitter: 5_000_000,
            distribution: Distribution::Normal,
            reorder: 25.0,
        });
        let word = |i: usize| u32::from_ne_bytes(options[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!(word(0), 50_000_000 >> 6);
        assert_eq!(word(1), NETEM_LIMIT);
        assert_eq!(word(3), 1, "reordering needs gap 1");
        assert_eq!(word(5), 5_000_000 >> 6);
        assert_eq!(
            u16::from_ne_bytes([options[26], options[27]]),
            TCA_NETEM_LATENCY64
        );
        // latency64, jitter64, reorder, then the table (4096 x i16).
        assert_eq!(options.len(), 24 + 12 + 12 + 12 + 4 + 2 * DIST_ENTRIES);
    }

    #[test]
    fn normal_table_is_the_scaled_quantile() {
        let table = distribution_table(Distribution::Normal);
        assert_eq!(table.len(), DIST_ENTRIES);
        assert_eq!(table[DIST_ENTRIES / 2], 0);
        // Phi^-1(0.8413) = 1 standard deviation = 8192.
        let one_sigma = table[(0.841_344_7 * DIST_ENTRIES as f64) as usize];
        assert!((i32::from(one_sigma) - 8192).abs() < 20, "{one_sigma}");
        assert!(table.windows(2).all(|w| w[0] <= w[1]));
        let pareto = distribution_table(Distribution::Pareto);
        assert_eq!(pareto.len(), DIST_ENTRIES);
        assert!(pareto.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn distributions_by_name() {
        assert_eq!(Distribution::parse("normal"), Ok(Distribution::Normal));
        assert_eq!(
            Distribution::parse("gauss"),
            Err("unknown distribution \"gauss\": use normal, pareto or uniform".into())
        );
    }
}
