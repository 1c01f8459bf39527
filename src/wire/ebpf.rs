//! The eBPF datapath's programs for one operation: every direction it makes shares one
//! program and one per-CPU map keyed by the ingress ifindex ([`crate::bpf::wire_by_ingress`]),
//! so a thousand wires cost one program load, not two thousand. The map is an array indexed
//! by ifindex when the operation's ends have small ifindexes (at most four slots per
//! direction: the verifier inlines an array lookup, a few instructions per frame), else a hash.
//! The kernel keeps program and map while any filter uses them; a later operation makes its
//! own pair.
//!
//! **Which path a direction takes.** Each map value holds a mode word: `bpf_redirect_peer`
//! (the frame arrives straight on the target veth's peer, in the peer's namespace) or plain
//! `bpf_redirect` (the frame leaves through the target's transmit path). redirect_peer is the
//! cheaper one but skips everything on the target's way out: its root qdisc (a tbf or netem
//! shaping or impairing the end) and its egress hook (a mirror's `out` copy). So a direction
//! takes the peer path only while its target is a veth whose peer lives in another namespace,
//! with no egress filter and no root qdisc of its own ([`shaping_root`] says which count). The
//! mode is changed in place in the map ([`settle_paths`]): the very next frame takes the other
//! path, with no re-attach, no frame lost and no carrier change.
//!
//! The filter's name records `peer=1` when the direction was made able to take the peer path
//! (the map says whether it does now): `mirror add` re-makes a direction without it before an
//! `out` mirror goes on the target, and [`settle_paths`] puts it back (an atomic replace of the
//! filter, same program and map) before it gives the peer path back.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};

use netlink_packet_core::NLM_F_CREATE;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use serde::Serialize;

use super::WireError;
use super::apply::Op;
use super::inventory::NsView;
use crate::bpf::map::Map;
use crate::bpf::{self, Program};
use crate::netns::Netns;
use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::{self, Filter};

/// The program and map of one operation's eBPF wire directions (more pairs if it outgrows
/// the first), kept open until the filters that use them are attached.
pub(crate) struct EbpfWires {
    /// Directions the next pair is sized for.
    capacity: u32,
    /// The largest ifindex a direction will arrive at, when known (arrays need it).
    highest: Option<u32>,
    pairs: Vec<(Program, Map, u32)>,
}

/// The bpf() syscall refused `context` (empty when the cause names what it was doing).
fn refused(context: String, source: impl std::error::Error + Send + Sync + 'static) -> WireError {
    WireError::Bpf {
        context,
        source: Box::new(source),
        hint: " (the eBPF datapath needs the bpf() syscall and CAP_BPF or root; --datapath tc works without)",
    }
}

impl EbpfWires {
    /// For about `directions` directions (two per wire) arriving at ifindexes up to
    /// `highest` (when known).
    pub(crate) fn new(directions: usize, highest: Option<u32>) -> Self {
        EbpfWires {
            capacity: u32::try_from(directions.max(2)).unwrap_or(u32::MAX),
            highest,
            pairs: Vec::new(),
        }
    }

    fn map(&self) -> std::io::Result<Map> {
        match self.highest {
            Some(highest) if highest < (4 * self.capacity).max(64) => {
                Map::percpu_array("pw_wires", bpf::WIRE_VALUE_SIZE, highest + 1)
            }
            _ => Map::percpu_hash("pw_wires", bpf::WIRE_VALUE_SIZE, self.capacity),
        }
    }

    /// The filter that sends what arrives at `from` to `to` (into `to`'s peer with `peer`),
    /// its entry put in the map first.
    pub(crate) fn direction(
        &mut self,
        from: &Link,
        to: &Link,
        peer: bool,
    ) -> Result<Op, WireError> {
        self.direction_on_path(from, to, peer, peer)
    }

    /// As [`Self::direction`], recording in the filter's name that the direction may take the
    /// peer path (`able`) while it starts on the path `peer` says.
    pub(crate) fn direction_on_path(
        &mut self,
        from: &Link,
        to: &Link,
        able: bool,
        peer: bool,
    ) -> Result<Op, WireError> {
        let capacity = self.capacity;
        let fits = |map: &Map, used: u32| used < capacity && map.holds(from.index.0);
        if self
            .pairs
            .last()
            .is_none_or(|(_, map, used)| !fits(map, *used))
        {
            let map = self.map().map_err(|e| {
                let context = format!(
                    "creating the map of eBPF wires ({} entries): ",
                    self.capacity
                );
                refused(context, e)
            })?;
            let program = Program::load_sched_cls(&bpf::wire_by_ingress(map.as_fd()), "pw_wires")
                .map_err(|e| refused(String::new(), e))?;
            self.pairs.push((program, map, 0));
        }
        let (program, map, used) = self.pairs.last_mut().expect("made above");
        map.update_all_cpus(from.index.0, &bpf::wire_value(to.index, peer))
            .map_err(|e| {
                let context = format!(
                    "adding {} -> {} to the map of eBPF wires: ",
                    from.name, to.name
                );
                refused(context, e)
            })?;
        *used += 1;
        let (request, _) = bpf::cls_bpf_filter(
            from.index,
            tc::INGRESS_PARENT,
            tc::WIRE_PRIO,
            program.as_fd(),
            &tc::ebpf_wire_record(&to.name, to.index, able || peer),
        );
        Ok(Op::AddFilter {
            index: from.index,
            parent: tc::INGRESS_PARENT,
            prio: tc::WIRE_PRIO,
            request,
            what: format!(
                "the {} -> {} eBPF redirect filter on {}",
                from.name, to.name, from.name
            ),
        })
    }
}

/// How a wire direction hands frames to the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// eBPF `bpf_redirect_peer`: straight into the target veth's peer; the target's root qdisc
    /// and egress hook never see the frame.
    Peer,
    /// eBPF `bpf_redirect`: out of the target, through its root qdisc and egress hook.
    Redirect,
    /// tc u32 + `mirred egress redirect`: out of the target, through its qdisc and egress hook.
    Mirred,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Path::Peer => "peer",
            Path::Redirect => "redirect",
            Path::Mirred => "mirred",
        })
    }
}

/// `tc qdisc show dev IF root`, as one request (NLM_F_ECHO, as for the ingress qdisc).
fn get_root_qdisc(index: IfIndex) -> (RouteNetlinkMessage, u16) {
    let mut message = TcMessage::default();
    message.header.index = index.0 as i32;
    message.header.parent = TcHandle::ROOT;
    (
        RouteNetlinkMessage::GetQueueDiscipline(message),
        netlink_packet_core::NLM_F_ECHO,
    )
}

/// The root qdisc in a reply that a frame sent out of the interface would meet and that
/// someone chose: its kind. `noqueue` (a veth's default: no queue at all) and any root the
/// kernel attached by itself when the device came up (handle `0:` — `mq`, `pfifo_fast`, or
/// `net.core.default_qdisc`'s kind) do not count; every qdisc a user or a tool added does (the
/// kernel gives it a handle, `8001:` and up when none is asked for), whatever its kind: tbf,
/// netem, htb, even an explicit pfifo_fast. Counting one too many costs only the peer path's
/// small speed-up; missing one would silently skip someone's shaping.
pub fn shaping_root(messages: &[RouteNetlinkMessage]) -> Option<String> {
    messages.iter().find_map(|message| {
        let RouteNetlinkMessage::NewQueueDiscipline(qdisc) = message else {
            return None;
        };
        if qdisc.header.parent != TcHandle::ROOT || qdisc.header.handle.major == 0 {
            return None;
        }
        qdisc.attributes.iter().find_map(|a| match a {
            TcAttribute::Kind(kind) if kind != "noqueue" => Some(kind.clone()),
            _ => None,
        })
    })
}

/// The kind of each interface's counted root qdisc ([`shaping_root`]): one pipelined round.
pub(crate) fn root_qdiscs(
    view: &mut NsView,
    indexes: &[IfIndex],
) -> Result<HashMap<IfIndex, String>, WireError> {
    let requests = indexes.iter().map(|i| get_root_qdisc(*i)).collect();
    let mut roots = HashMap::new();
    for (index, reply) in indexes.iter().zip(view.socket.batch(requests)) {
        match reply {
            Ok(messages) => {
                if let Some(kind) = shaping_root(&messages) {
                    roots.insert(*index, kind);
                }
            }
            // No root qdisc, or the device went meanwhile (the caller notices separately).
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::EINVAL | libc::ENODEV)) => {}
            Err(e) => {
                return Err(WireError::kernel(
                    format!(
                        "reading the root qdisc of ifindex {index} in {}",
                        view.netns.describe()
                    ),
                    e,
                ));
            }
        }
    }
    Ok(roots)
}

/// Whether `to` can take frames by the peer path at all: a veth whose peer lives in another
/// namespace (`bpf_redirect_peer` only enters another namespace).
pub(crate) fn peer_able(to: &Link) -> bool {
    to.is_veth() && to.peer_netnsid.is_some()
}

/// Why a direction into `to` must use plain `bpf_redirect` although `to` is [`peer_able`],
/// or `None` when the peer path skips nothing: a counted root qdisc (`root`), or filters on
/// `to`'s egress hook (a mirror's `out` copy, another tool's filter).
pub(crate) fn peer_would_skip(
    to: &Link,
    root: Option<&String>,
    egress_filters: usize,
) -> Option<String> {
    match (root, egress_filters) {
        (Some(kind), _) => Some(format!("{}'s root qdisc {kind}", to.name)),
        (None, 0) => None,
        (None, n) => Some(format!("{} filter(s) on {}'s egress hook", n, to.name)),
    }
}

/// The map behind an eBPF wire filter and whether it holds per-direction modes (the shared
/// map of [`bpf::wire_by_ingress`]; earlier versions made one program per direction with the
/// helper fixed in its code).
fn wire_map(filter: &Filter) -> Option<Map> {
    let id = *bpf::map::prog_map_ids(filter.prog_id?).ok()?.first()?;
    Map::from_id(id)
        .ok()
        .filter(|m| m.value_size() == bpf::WIRE_VALUE_SIZE)
}

/// The path an eBPF wire filter's direction takes now: the mode word in its map (the name's
/// `peer=1` for a program of an earlier version, which has no map of modes).
pub fn path_of(filter: &Filter) -> Path {
    if !filter.is_ebpf_wire() {
        return Path::Mirred;
    }
    let peer = match wire_map(filter) {
        Some(map) => map
            .lookup_percpu(filter.ifindex.0)
            .ok()
            .and_then(|values| values.first().map(|v| bpf::wire_peer(v)))
            .unwrap_or(false),
        None => filter.is_peer_redirect(),
    };
    match peer {
        true => Path::Peer,
        false => Path::Redirect,
    }
}

/// One direction [`settle_paths`] (or `link`) moved to another path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChange {
    /// The end the filter is on (frames arriving here…).
    pub from: String,
    /// … go to this end.
    pub to: String,
    /// The path they take now.
    pub path: Path,
    /// Why (a root qdisc, egress filters), or "nothing on <to>'s way out is skipped".
    pub because: String,
}

/// Puts the direction `from -> to` (its filter `filter`, already an eBPF wire) on the path
/// `to` calls for now; `None` when it is on it already.
pub(crate) fn settle_direction(
    view: &mut NsView,
    from: &Link,
    to: &Link,
    filter: &Filter,
    root: Option<&String>,
    egress_filters: usize,
) -> Result<Option<PathChange>, WireError> {
    let skip = peer_would_skip(to, root, egress_filters);
    let want = match (peer_able(to), &skip) {
        (true, None) => Path::Peer,
        _ => Path::Redirect,
    };
    if path_of(filter) == want {
        return Ok(None);
    }
    let failed = |e: std::io::Error| {
        WireError::io(
            format!(
                "switching the eBPF wire direction {} -> {} to the {want} path",
                from.name, to.name
            ),
            e,
        )
    };
    match wire_map(filter) {
        Some(map) => {
            if want == Path::Peer && !filter.is_peer_redirect() {
                // The name first (peer=1 with the plain mode is safe), then the mode.
                let program =
                    bpf::map::prog_fd_by_id(filter.prog_id.unwrap_or(0)).map_err(failed)?;
                replace_filter(view, from, to, filter, program.as_fd())?;
            }
            map.modify_all_cpus(from.index.0, |value| {
                bpf::set_wire_peer(value, want == Path::Peer)
            })
            .map_err(failed)?;
        }
        None => {
            // A program of an earlier version: its helper is fixed in its code. A new program
            // and map take its place in one atomic replace.
            let mut wires = EbpfWires::new(2, None);
            let able = peer_able(to);
            // Only its program is wanted here (the op would attach it as a new filter).
            wires.direction_on_path(from, to, able, want == Path::Peer)?;
            if let Some((program, _, _)) = wires.pairs.last() {
                replace_filter(view, from, to, filter, program.as_fd())?;
            }
        }
    }
    Ok(Some(PathChange {
        from: from.name.clone(),
        to: to.name.clone(),
        path: want,
        because: skip.unwrap_or_else(|| format!("nothing on {}'s way out is skipped", to.name)),
    }))
}

/// Replaces the eBPF wire filter on `from` in one request: the same priority and handle, so
/// the kernel swaps it under RCU and every frame meets either the old or the new one.
fn replace_filter(
    view: &mut NsView,
    from: &Link,
    to: &Link,
    filter: &Filter,
    program: BorrowedFd<'_>,
) -> Result<(), WireError> {
    let (mut request, _) = bpf::cls_bpf_filter(
        from.index,
        tc::INGRESS_PARENT,
        tc::WIRE_PRIO,
        program,
        &tc::ebpf_wire_record(&to.name, to.index, peer_able(to)),
    );
    if let RouteNetlinkMessage::NewTrafficFilter(message) = &mut request {
        message.header.handle = TcHandle::from(filter.handle);
    }
    // NLM_F_CREATE without NLM_F_EXCL: the filter with this handle is changed in place.
    view.socket.request(request, NLM_F_CREATE).map_err(|e| {
        WireError::kernel(
            format!(
                "replacing the {} -> {} eBPF redirect filter on {}",
                from.name, to.name, from.name
            ),
            e,
        )
    })?;
    Ok(())
}

/// Puts every eBPF wire direction that sends frames *to* one of `ends` (in `netns`) on the
/// path those ends call for now: plain `bpf_redirect` while an end has a root qdisc of its
/// own (tbf, netem…) or filters on its egress hook, `bpf_redirect_peer` again once they are
/// gone. Call it after adding or removing a root qdisc or an egress filter on a wire end;
/// `link` (run again) does the same for the wires it is given, and `show` reports a direction
/// that skips a qdisc. The switch is a write to the direction's map entry: no re-attach, no
/// frame lost, no carrier change. An end that is no eBPF wire's target is left alone.
pub fn settle_paths(netns: Netns, ends: &[&str]) -> Result<Vec<PathChange>, WireError> {
    let mut view = NsView::open(netns)?;
    let describe = view.netns.describe();
    let links = view.links_by_name(ends)?;
    let mut targets = Vec::new();
    for (name, link) in ends.iter().zip(links) {
        match link {
            Some(link) => targets.push(link),
            None => {
                return Err(WireError::Invalid(format!(
                    "settling the eBPF wire paths to {name}: no interface named {name} in {describe}"
                )));
            }
        }
    }
    let indexes: Vec<IfIndex> = targets.iter().map(|l| l.index).collect();
    view.load_tc(&indexes)?;
    let roots = root_qdiscs(&mut view, &indexes)?;
    let mut changes = Vec::new();
    for to in &targets {
        let state = view.tc(to.index)?.clone();
        let Some(partner) = state.wire_filter().and_then(Filter::wire_target) else {
            continue;
        };
        let Some(from) = view.link(partner)? else {
            continue;
        };
        let Some(filter) = view
            .tc(from.index)?
            .wire_filter()
            .filter(|f| f.is_ebpf_wire() && f.wire_target() == Some(to.index))
            .cloned()
        else {
            continue;
        };
        let change = settle_direction(
            &mut view,
            &from,
            to,
            &filter,
            roots.get(&to.index),
            state.egress.len(),
        )?;
        changes.extend(change);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::RouteNetlinkMessage;
    use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};

    fn root(handle: u32, kind: &str) -> RouteNetlinkMessage {
        let mut message = TcMessage::default();
        message.header.parent = TcHandle::ROOT;
        message.header.handle = TcHandle::from(handle);
        message.attributes.push(TcAttribute::Kind(kind.into()));
        RouteNetlinkMessage::NewQueueDiscipline(message)
    }

    #[test]
    fn only_a_root_qdisc_someone_added_counts() {
        assert_eq!(
            super::shaping_root(&[root(0x8001_0000, "tbf")]),
            Some("tbf".into())
        );
        assert_eq!(
            super::shaping_root(&[root(0x0001_0000, "pfifo_fast")]),
            Some("pfifo_fast".into()),
            "added explicitly"
        );
        for (handle, kind) in [
            (0, "noqueue"),
            (0, "mq"),
            (0, "pfifo_fast"),
            (0, "fq_codel"),
        ] {
            assert_eq!(super::shaping_root(&[root(handle, kind)]), None, "{kind}");
        }
        assert_eq!(super::shaping_root(&[root(0x8001_0000, "noqueue")]), None);
    }
}
