//! Impairments: what happens to the frames one direction of a wire carries — loss (random or
//! in bursts), corruption, duplication, delay with jitter, reordering, a rate — set on the
//! port the frames arrive at (the *entry*: a wire end, or a lab's panel port) and changed in
//! place.
//!
//! The mechanism, by what the kernel offers everywhere:
//! - loss, corruption and duplication: an eBPF program on the entry's ingress hook, just ahead
//!   of the wire's filter ([`program`]), its parameters in a map changed in place;
//! - a rate: tbf as the root qdisc of the port the frames leave by (the *exit*: the wire's
//!   other end);
//! - delay, jitter, reordering: netem as that root (with the tbf under it for a rate) where the
//!   kernel has `sch_netem`, refused with the module named where it has not ([`netem_available`]).
//!
//! After a root qdisc comes or goes, the wire's eBPF paths are settled
//! ([`crate::wire::settle_paths`]): `bpf_redirect_peer` would skip the exit's qdisc.
//!
//! **The record** is the program's cls_bpf filter name on the entry,
//! `pw-impair to=EXIT [delay=…] [jitter=…] [dist=…] [reorder=…] [rate=…] [burst=…]`: with
//! the map's parameters it is everything `impair show` reports, with no state file. The
//! filter stays (with all-zero parameters it passes every frame) until [`clear`].
//!
//! **For a lab** (issue 21's `impair:` keys): [`set`] with the panel, the port of the endpoint
//! whose sent frames are impaired, and the whole impairment wanted for that direction —
//! idempotent, changing only what differs; [`clear`] when the file names none; [`read`] for
//! `plan` to compare; [`cable::cut`] / [`cable::mend`] for `state: down`.

pub mod cable;
pub mod flap;
pub mod lock;
mod model;
pub mod program;
pub mod qdisc;
pub mod units;

use std::os::fd::AsFd;
use std::sync::OnceLock;

use netlink_packet_core::NLM_F_CREATE;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::TcHandle;
use serde::Serialize;

use crate::bpf::map::{self, Map};
use crate::bpf::{self, Program};
use crate::marks::{IMPAIR_PRIO, IMPAIR_RECORD};
use crate::netns::{Netns, NetnsError};
use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::{self, Filter};
use crate::wire::{NsView, WireError};

pub use lock::{ImpairLock, lock};
use model::Record;
pub use model::{Impairment, Loss, SetBy, default_burst};
pub use program::Counters;
pub use qdisc::{Distribution, QdiscStats};

/// Why an impairment could not be read or set.
#[derive(Debug, thiserror::Error)]
pub enum ImpairError {
    /// Bad input, or something patchwire refuses; the message says what and why.
    #[error("{0}")]
    Invalid(String),
    /// The kernel or a system call refused (with what was being done).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Opening or entering a namespace failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

impl ImpairError {
    /// Whether the cause is a missing privilege (main's "needs root" hint).
    pub fn is_permission(&self) -> bool {
        match self {
            ImpairError::Wire(e) => e.is_permission(),
            ImpairError::Netns(e) => e.raw_os_error() == Some(libc::EPERM),
            ImpairError::Invalid(_) => false,
        }
    }
}

fn io(context: String, error: std::io::Error) -> ImpairError {
    ImpairError::Wire(WireError::io(context, error))
}

/// Whether the kernel has netem, tried once per process in a private namespace (a netem root
/// on its loopback; the kernel loads `sch_netem` if it can).
pub fn netem_available() -> Result<bool, ImpairError> {
    static ANSWER: OnceLock<Result<bool, String>> = OnceLock::new();
    let answer = ANSWER.get_or_init(|| {
        let netns = Netns::create_private("netem-probe").map_err(|e| e.to_string())?;
        let mut socket = netns.route().map_err(|e| e.to_string())?;
        let (request, flags) = qdisc::probe_netem(IfIndex(1));
        match socket.request(request, flags) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::EOPNOTSUPP)) => Ok(false),
            Err(e) => Err(format!("trying a netem qdisc in a private namespace: {e}")),
        }
    });
    answer
        .clone()
        .map_err(|e| ImpairError::Invalid(format!("cannot tell whether the kernel has netem: {e}")))
}

/// The refusal where netem is missing: what was asked, the module, what works without it.
pub fn netem_missing(what: &str) -> ImpairError {
    ImpairError::Invalid(format!(
        "{what} needs the netem qdisc, and this kernel has no sch_netem (load it with \
         `modprobe sch_netem`, or use a kernel that builds it: every distribution kernel does); \
         loss, corruption, duplication and rate work without it"
    ))
}

/// One impaired direction as `impair show` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Direction {
    /// The port the frames arrive at (a wire end; a lab's panel port).
    pub port: String,
    /// The port they leave by (the wire's other end), where the qdiscs are.
    pub to: String,
    /// What is set (the burst only when given: a change merged over it recomputes a default).
    #[serde(skip)]
    pub impairment: Impairment,
    /// What is in effect, as JSON shows it: the same, with the burst the rate has whether it
    /// was given or is the default ([`default_burst`] for the exit's MTU).
    #[serde(rename = "impairment")]
    pub in_effect: Impairment,
    /// The same in words.
    pub summary: String,
    /// The program's counters (from the kernel).
    pub counters: Counters,
    /// patchwire's qdiscs on `to`, with their counters.
    pub qdiscs: Vec<QdiscStats>,
    /// Who set it: `file` (a lab's `up`) or `command` (`patchwire impair`).
    pub set_by: SetBy,
}

/// What [`set`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The direction as it is now.
    pub direction: Direction,
    /// What changed, in words (empty when it was set already).
    pub changes: Vec<String>,
}

/// The entry's link, or the error a user understands.
fn entry_link(view: &mut NsView, entry: &str) -> Result<Link, ImpairError> {
    crate::nl::link::validate_name(entry).map_err(ImpairError::Invalid)?;
    match view.links_by_name(&[entry])?.pop().flatten() {
        Some(link) => Ok(link),
        None => Err(ImpairError::Invalid(format!(
            "no interface named {entry} in {}",
            view.netns.describe()
        ))),
    }
}

fn impair_filter(filters: &[Filter]) -> Option<&Filter> {
    filters.iter().find(|f| {
        f.prio == IMPAIR_PRIO
            && f.kind == "bpf"
            && f.name
                .as_deref()
                .is_some_and(|n| n.starts_with(IMPAIR_RECORD))
    })
}

/// The port the entry's frames leave by: the wire's other end. `None` for a hub member (its
/// frames leave by several ports).
fn exit_of(view: &mut NsView, entry: &Link) -> Result<Option<Link>, ImpairError> {
    let state = view.tc(entry.index)?.clone();
    if let Some(target) = state.wire_filter().and_then(Filter::wire_target) {
        return match view.link(target)? {
            Some(link) => Ok(Some(link)),
            None => Err(ImpairError::Invalid(format!(
                "{}'s wire is broken (its other end is gone): repair it before impairing it",
                entry.name
            ))),
        };
    }
    if state.hub_filters().next().is_some() {
        return Ok(None);
    }
    Err(ImpairError::Invalid(format!(
        "{} is on no wire or hub in {}: an impairment acts on the frames a wire carries \
         (patchwire link {} OTHER first)",
        entry.name,
        view.netns.describe(),
        entry.name
    )))
}

/// The program's map behind an impairment filter.
fn filter_map(filter: &Filter) -> std::io::Result<Map> {
    let prog = filter.prog_id.unwrap_or(0);
    let id = *map::prog_map_ids(prog)?
        .first()
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT))?;
    Map::from_id(id)
}

fn read_params(map: &Map) -> std::io::Result<program::Params> {
    let values = map.lookup_percpu(program::PARAMS_KEY)?;
    Ok(values
        .first()
        .map(|v| program::Params::decode(v))
        .unwrap_or_default())
}

fn qdiscs_on(view: &mut NsView, index: IfIndex) -> Result<Vec<QdiscStats>, ImpairError> {
    let messages = view.socket.dump(qdisc::dump()).map_err(|e| {
        WireError::kernel(
            format!("reading the qdiscs in {}", view.netns.describe()),
            e,
        )
    })?;
    Ok(qdisc::qdiscs_of(&messages, index))
}

/// The other end of the wire `port` is on (for `--both`); `None` for a hub member.
pub fn wire_partner(netns: &Netns, port: &str) -> Result<Option<String>, ImpairError> {
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    let link = entry_link(&mut view, port)?;
    view.load_tc(&[link.index])?;
    Ok(exit_of(&mut view, &link)?.map(|l| l.name))
}

/// The impairment on the frames arriving at `entry`, `None` when there is none.
pub fn read(netns: &Netns, entry: &str) -> Result<Option<Direction>, ImpairError> {
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    let link = entry_link(&mut view, entry)?;
    view.load_tc(&[link.index])?;
    let filters = view.tc(link.index)?.filters.clone();
    let Some(filter) = impair_filter(&filters) else {
        return Ok(None);
    };
    direction_of(&mut view, &link, filter).map(Some)
}

fn direction_of(view: &mut NsView, link: &Link, filter: &Filter) -> Result<Direction, ImpairError> {
    let record = filter
        .name
        .as_deref()
        .and_then(Record::parse)
        .unwrap_or_default();
    let what = |e| io(format!("reading the impairment map of {}", link.name), e);
    let map = filter_map(filter).map_err(what)?;
    let params = read_params(&map).map_err(what)?;
    let counters = Counters::from_sums(&map.sum_u64s(program::STATS_KEY).map_err(what)?);
    let exit = view.links_by_name(&[record.to.as_str()])?.pop().flatten();
    let qdiscs = match &exit {
        Some(exit) => qdiscs_on(view, exit.index)?
            .into_iter()
            .filter(qdisc::is_ours)
            .collect(),
        None => Vec::new(),
    };
    let mtu = exit.map_or(0, |e| e.mtu);
    let impairment = Impairment::from_parts(&params, &record);
    Ok(Direction {
        port: link.name.clone(),
        to: record.to.clone(),
        summary: impairment.describe_for(mtu),
        in_effect: Impairment {
            burst_bytes: impairment.burst_for(mtu),
            ..impairment
        },
        impairment,
        counters,
        qdiscs,
        set_by: record.by,
    })
}

/// Every impaired direction in `netns`, by port name.
pub fn show(netns: &Netns) -> Result<Vec<Direction>, ImpairError> {
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    let links = view.all_links()?;
    let indexes: Vec<IfIndex> = links.iter().map(|l| l.index).collect();
    view.load_tc_all(&indexes)?;
    let mut out = Vec::new();
    for link in &links {
        let filters = view.tc(link.index)?.filters.clone();
        if let Some(filter) = impair_filter(&filters) {
            out.push(direction_of(&mut view, link, filter)?);
        }
    }
    out.sort_by(|a, b| a.port.cmp(&b.port));
    Ok(out)
}

/// What [`refusals`] found: the entry, its exit (`None`: a hub member) and the exit's qdiscs.
struct Checked {
    link: Link,
    exit: Option<Link>,
    present: Vec<QdiscStats>,
}

/// Every refusal of setting `want` on `entry` (bad values, netem missing, a root qdisc of
/// someone else's on the exit, a hub member asked for a rate or delay, a burst smaller than
/// a frame), before any change.
fn refusals(view: &mut NsView, entry: &str, want: &Impairment) -> Result<Checked, ImpairError> {
    want.check()
        .map_err(|e| ImpairError::Invalid(format!("impairing {entry}: {e}")))?;
    let link = entry_link(view, entry)?;
    view.load_tc(&[link.index])?;
    let exit = exit_of(view, &link)?;
    let wants_qdisc = want.needs_netem() || want.rate_bps.is_some();
    if want.needs_netem() && !netem_available()? {
        return Err(netem_missing("a delay, jitter or reordering"));
    }
    let Some(exit) = exit else {
        if wants_qdisc {
            return Err(ImpairError::Invalid(format!(
                "{entry} is a hub member: its frames leave by every other member, so a rate or \
                 delay has no single port to live on; loss, corruption and duplication work"
            )));
        }
        return Ok(Checked {
            link,
            exit: None,
            present: Vec::new(),
        });
    };
    // Only an explicit burst can be too small: the default is at least one frame.
    if let Some(burst) = want.burst_for(exit.mtu)
        && burst < exit.mtu + 14
    {
        return Err(ImpairError::Invalid(format!(
            "impairing {entry}: a burst of {burst} bytes is less than one frame of {} ({} bytes \
             with its Ethernet header): tbf would drop every full-size frame",
            exit.name,
            exit.mtu + 14
        )));
    }
    let present = qdiscs_on(view, exit.index)?;
    let foreign = present
        .iter()
        .find(|q| q.root && !qdisc::is_ours(q) && q.handle != 0 && q.kind != "noqueue");
    if let (Some(foreign), true) = (foreign, wants_qdisc) {
        return Err(ImpairError::Invalid(format!(
            "{} already has a root qdisc {} that patchwire did not add: remove it (or leave out \
             --rate/--delay) — two shapers on one port would fight",
            exit.name, foreign.kind
        )));
    }
    Ok(Checked {
        link,
        exit: Some(exit),
        present,
    })
}

/// Whether [`set`] would refuse `want` on `entry`, changing nothing: `--both` checks both
/// directions before it changes either.
pub fn check_set(netns: &Netns, entry: &str, want: &Impairment) -> Result<(), ImpairError> {
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    refusals(&mut view, entry, want).map(|_| ())
}

/// Sets the impairment of the frames arriving at `entry` to exactly `want` (an empty one
/// leaves a program that passes everything: use [`clear`] to remove it). Idempotent: what is
/// set already is not touched (a qdisc whose parameters are those wanted is not sent again);
/// loss, corruption and duplication change in the map (no re-attach), a rate or delay in
/// place in its qdisc. Refusals ([`refusals`]) come before any change. Callers that read,
/// merge and set hold [`lock`] around it.
pub fn set(netns: &Netns, entry: &str, want: &Impairment) -> Result<Applied, ImpairError> {
    set_as(netns, entry, want, SetBy::Command)
}

/// [`set`], recording who sets it (a lab's `up` says [`SetBy::File`]), so that a lab's `plan`
/// can tell what a command changed outside the file.
pub fn set_as(
    netns: &Netns,
    entry: &str,
    want: &Impairment,
    by: SetBy,
) -> Result<Applied, ImpairError> {
    let describe = netns.describe();
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    let Checked {
        link,
        exit,
        present,
    } = refusals(&mut view, entry, want)?;
    let Some(exit) = exit else {
        return set_program(&mut view, &link, "", want, by, &describe, Vec::new());
    };
    // What the qdisc step is undone to when a later step fails: the record of the
    // impairment set now (none: no qdisc of ours).
    let filters = view.tc(link.index)?.filters.clone();
    let before = match impair_filter(&filters) {
        Some(filter) => direction_of(&mut view, &link, filter)?.impairment,
        None => Impairment::default(),
    };
    let mut changes = Vec::new();
    let done = set_qdiscs(
        &mut view,
        &exit,
        want,
        Some(&before),
        &present,
        &mut changes,
    )
    .and_then(|roots| {
        set_program(&mut view, &link, &exit.name, want, by, &describe, changes).map(|a| (roots, a))
    });
    let (roots_changed, applied) = match done {
        Ok(done) => done,
        Err(e) => return Err(undo_qdiscs(netns, &exit, &before, e)),
    };
    if roots_changed {
        let copy = netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?;
        crate::wire::settle_paths(copy, &[exit.name.as_str()])?;
    }
    Ok(applied)
}

/// A later step failed (`failure`): the exit's qdiscs are put back to those of `before` (the
/// impairment set before), so the kernel is left as it was. The failure is returned, with
/// the undo's own failure if it failed too.
fn undo_qdiscs(
    netns: &Netns,
    exit: &Link,
    before: &Impairment,
    failure: ImpairError,
) -> ImpairError {
    let undo = || -> Result<(), ImpairError> {
        let mut view = NsView::open(
            netns
                .try_clone()
                .map_err(|e| io("opening a namespace".into(), e))?,
        )?;
        let present = qdiscs_on(&mut view, exit.index)?;
        set_qdiscs(&mut view, exit, before, None, &present, &mut Vec::new())?;
        Ok(())
    };
    match undo() {
        Ok(()) => failure,
        Err(undo) => ImpairError::Invalid(format!(
            "{failure}; putting back the qdiscs of {} as they were failed too: {undo}",
            exit.name
        )),
    }
}

/// Testing hook (`PATCHWIRE_IMPAIR_FAULT=program`): the program step's last kernel request
/// (attaching the program, or updating its filter's record) is sent for an interface index
/// that cannot exist, so the kernel refuses it (ENODEV) after the qdisc step succeeded — to
/// prove [`set`] leaves the kernel as it was.
fn fault_at_program() -> bool {
    std::env::var("PATCHWIRE_IMPAIR_FAULT").is_ok_and(|v| v == "program")
}

/// The interface index a request of the program step is sent for (see [`fault_at_program`]).
fn program_target(real: IfIndex) -> IfIndex {
    match fault_at_program() {
        true => IfIndex(0x7fff_fff0),
        false => real,
    }
}

/// The qdiscs `imp` asks for on a port of `mtu`: netem (delay, jitter, reordering), tbf (rate).
fn qdiscs_for(imp: &Impairment, mtu: u32) -> (Option<qdisc::Netem>, Option<qdisc::Tbf>) {
    let netem = imp.delay_ns.map(|delay| qdisc::Netem {
        delay,
        jitter: imp.jitter_ns.unwrap_or(0),
        distribution: imp.distribution.unwrap_or_default(),
        reorder: imp.reorder.unwrap_or(0.0),
    });
    let tbf = imp.rate_bps.map(|rate| qdisc::Tbf {
        rate,
        burst: imp.burst_for(mtu).unwrap_or(16 * 1024),
    });
    (netem, tbf)
}

/// The qdisc part on the exit; whether a root qdisc came, went or changed kind. `was` is the
/// impairment recorded now (`None`: unknown, send everything): a qdisc whose parameters are
/// those wanted and that is present is not sent again, so `changes` lists only what changed.
fn set_qdiscs(
    view: &mut NsView,
    exit: &Link,
    want: &Impairment,
    was: Option<&Impairment>,
    present: &[QdiscStats],
    changes: &mut Vec<String>,
) -> Result<bool, ImpairError> {
    let ours_root = present.iter().find(|q| q.root && qdisc::is_ours(q));
    let (netem, tbf) = qdiscs_for(want, exit.mtu);
    let (was_netem, was_tbf) = match was {
        Some(was) => qdiscs_for(was, exit.mtu),
        None => (None, None),
    };
    let root_kind = ours_root.map(|q| q.kind.as_str());
    let tbf_under = present.iter().any(|q| q.handle == qdisc::TBF_UNDER_NETEM);
    let same_netem = netem.is_some() && netem == was_netem && root_kind == Some("netem");
    let same_tbf_under = same_netem && tbf.is_some() && tbf == was_tbf && tbf_under;
    let same_tbf_root =
        netem.is_none() && tbf.is_some() && tbf == was_tbf && root_kind == Some("tbf");
    let mut requests: Vec<((RouteNetlinkMessage, u16), String)> = Vec::new();
    let mut roots_changed = false;
    match (netem, tbf) {
        (Some(netem), tbf) => {
            roots_changed = root_kind != Some("netem");
            if !same_netem {
                requests.push((
                    qdisc::replace_netem_root(exit.index, &netem),
                    format!("netem on {}", exit.name),
                ));
            }
            match tbf {
                Some(_) if same_tbf_under => {}
                Some(tbf) => requests.push((
                    qdisc::replace_tbf_under_netem(exit.index, &tbf),
                    format!("tbf under netem on {}", exit.name),
                )),
                None if tbf_under => requests.push((
                    (qdisc::delete_tbf_under_netem(exit.index), 0),
                    format!("removing the tbf under netem on {}", exit.name),
                )),
                None => {}
            }
        }
        (None, Some(tbf)) => {
            roots_changed = root_kind != Some("tbf");
            if !same_tbf_root {
                requests.push((
                    qdisc::replace_tbf_root(exit.index, &tbf),
                    format!("tbf on {}", exit.name),
                ));
            }
        }
        (None, None) => {
            if ours_root.is_some() {
                roots_changed = true;
                requests.push((
                    (qdisc::delete_root(exit.index), 0),
                    format!("removing patchwire's root qdisc on {}", exit.name),
                ));
            }
        }
    }
    for ((request, flags), what) in requests {
        view.socket.request(request, flags).map_err(|e| {
            WireError::kernel(format!("setting {what} in {}", view.netns.describe()), e)
        })?;
        changes.push(what);
    }
    Ok(roots_changed)
}

/// The program part on the entry: the map updated in place, or the program loaded and attached.
fn set_program(
    view: &mut NsView,
    link: &Link,
    exit: &str,
    want: &Impairment,
    by: SetBy,
    describe: &str,
    mut changes: Vec<String>,
) -> Result<Applied, ImpairError> {
    let record = Record {
        to: exit.into(),
        qdisc_part: Impairment {
            loss: None,
            corrupt: None,
            duplicate: None,
            ..*want
        },
        by,
    };
    let name = record.write();
    let params = want.params();
    let filters = view.tc(link.index)?.filters.clone();
    let failed =
        |what: &str, e: std::io::Error| io(format!("{what} of {} in {describe}", link.name), e);
    match impair_filter(&filters) {
        Some(filter) => {
            let map = filter_map(filter).map_err(|e| failed("finding the impairment map", e))?;
            let old = read_params(&map).map_err(|e| failed("reading the impairment map", e))?;
            if old != params {
                map.update_all_cpus(program::PARAMS_KEY, &params.encode())
                    .map_err(|e| failed("changing the impairment parameters", e))?;
                changes.push(format!("parameters of {}'s impairment program", link.name));
            }
            if filter.name.as_deref() != Some(name.as_str()) || fault_at_program() {
                // Same priority and handle, same program: the kernel swaps the filter under
                // RCU and every frame meets either the old or the new one.
                let program = map::prog_fd_by_id(filter.prog_id.unwrap_or(0))
                    .map_err(|e| failed("finding the impairment program", e))?;
                let (mut request, _) = bpf::cls_bpf_filter(
                    program_target(link.index),
                    tc::INGRESS_PARENT,
                    IMPAIR_PRIO,
                    program.as_fd(),
                    &name,
                );
                if let RouteNetlinkMessage::NewTrafficFilter(message) = &mut request {
                    message.header.handle = TcHandle::from(filter.handle);
                }
                if let Err(e) = view.socket.request(request, NLM_F_CREATE) {
                    // Undone: the parameters go back with the qdiscs ([`undo_qdiscs`]).
                    if old != params {
                        let _ = map.update_all_cpus(program::PARAMS_KEY, &old.encode());
                    }
                    return Err(WireError::kernel(
                        format!("updating the record of {}'s impairment", link.name),
                        e,
                    )
                    .into());
                }
            }
        }
        None => {
            let map = Map::percpu_array("pw_impair", program::VALUE_SIZE, 2)
                .map_err(|e| failed("creating the impairment map", e))?;
            map.update_all_cpus(program::PARAMS_KEY, &params.encode())
                .map_err(|e| failed("writing the impairment parameters", e))?;
            let program = Program::load_sched_cls(&program::build(map.as_fd()), "pw_impair")
                .map_err(|e| {
                    ImpairError::Wire(WireError::Bpf {
                        context: format!("loading the impairment program for {}: ", link.name),
                        source: Box::new(e),
                        hint: " (impairments need the bpf() syscall and CAP_BPF or root)",
                    })
                })?;
            let mut added_clsact = false;
            if view.tc(link.index)?.qdisc.is_none() {
                let (request, flags) = tc::add_clsact(link.index);
                match view.socket.request(request, flags) {
                    Ok(_) => added_clsact = true,
                    Err(e) if e.errno() == Some(libc::EEXIST) => {}
                    Err(e) => {
                        return Err(WireError::kernel(
                            format!("adding a clsact qdisc to {} in {describe}", link.name),
                            e,
                        )
                        .into());
                    }
                }
            }
            if let Err(e) = bpf::attach_cls_bpf(
                &mut view.socket,
                program_target(link.index),
                tc::INGRESS_PARENT,
                IMPAIR_PRIO,
                &program,
                &name,
            ) {
                // Undone: a clsact added for it goes again (the qdiscs: [`undo_qdiscs`]).
                if added_clsact {
                    let _ = view.socket.request(tc::delete_clsact(link.index), 0);
                }
                return Err(WireError::kernel(
                    format!("attaching the impairment program to {}", link.name),
                    e,
                )
                .into());
            }
            changes.push(format!("impairment program on {}", link.name));
        }
    }
    // A fresh view: the one above cached the hook as it was before the change.
    let mut view = NsView::open(
        view.netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    let view = &mut view;
    view.load_tc(&[link.index])?;
    let filters = view.tc(link.index)?.filters.clone();
    let filter = impair_filter(&filters).ok_or_else(|| {
        ImpairError::Invalid(format!(
            "the impairment filter on {} vanished while it was being set (another process?)",
            link.name
        ))
    })?;
    let direction = direction_of(view, link, filter)?;
    Ok(Applied { direction, changes })
}

/// Removes every impairment of the frames arriving at `entry`: its program filter and
/// patchwire's root qdisc on the exit (then settles the wire's paths). `Ok(false)` when there
/// was none.
pub fn clear(netns: &Netns, entry: &str) -> Result<bool, ImpairError> {
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?,
    )?;
    let link = entry_link(&mut view, entry)?;
    view.load_tc(&[link.index])?;
    let filters = view.tc(link.index)?.filters.clone();
    let Some(filter) = impair_filter(&filters) else {
        return Ok(false);
    };
    let record = filter
        .name
        .as_deref()
        .and_then(Record::parse)
        .unwrap_or_default();
    let exit = match record.to.is_empty() {
        true => None,
        false => view.links_by_name(&[record.to.as_str()])?.pop().flatten(),
    };
    let mut root_gone = false;
    if let Some(exit) = &exit {
        let present = qdiscs_on(&mut view, exit.index)?;
        if present.iter().any(|q| q.root && qdisc::is_ours(q)) {
            view.socket
                .request(qdisc::delete_root(exit.index), 0)
                .map_err(|e| {
                    WireError::kernel(format!("removing the root qdisc of {}", exit.name), e)
                })?;
            root_gone = true;
        }
    }
    view.socket
        .request(
            tc::delete_filters_at(link.index, tc::INGRESS_PARENT, IMPAIR_PRIO),
            0,
        )
        .map_err(|e| {
            WireError::kernel(
                format!("removing the impairment program of {}", link.name),
                e,
            )
        })?;
    if let (true, Some(exit)) = (root_gone, &exit) {
        let copy = netns
            .try_clone()
            .map_err(|e| io("opening a namespace".into(), e))?;
        crate::wire::settle_paths(copy, &[exit.name.as_str()])?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
