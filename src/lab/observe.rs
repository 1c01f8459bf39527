//! What the kernel holds of a lab on this host, found from the records alone: namespaces whose
//! loopback carries the lab's mark, panel ports with their endpoint records, the wires and
//! hubs among them, and stubs in existing namespaces.

use std::collections::{BTreeMap, BTreeSet};

use super::LabError;
use super::desired::{Desired, NodeHome};
use super::names;
use crate::hub;
use crate::netns::{self, Netns};
use crate::nl::link::{self, Link};
use crate::wire;

/// A namespace name under /run/netns and whether the lab's mark is on its loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsState {
    Missing,
    /// Registered, but not a namespace (a create killed half-way) or unreadable.
    Broken,
    /// Ours (marked).
    Ours,
    /// Exists without the mark: someone else's (the lab marks a namespace before it is
    /// registered, so an interrupted create never leaves one like this).
    Unmarked,
    /// This lab's, but made for another host (its mark names that host): on one machine
    /// standing for several hosts, a node moved between hosts.
    OtherHost(String),
}

/// One stub found in a node's namespace.
#[derive(Debug, Clone)]
pub struct FoundStub {
    pub link: Link,
}

#[derive(Debug, Default)]
pub struct Actual {
    /// State of each namespace the lab would own, and of lab-marked ones found under
    /// /run/netns that the file no longer wants (name -> state).
    pub namespaces: BTreeMap<String, NsState>,
    /// Panel links by name: ports (with endpoint records) and VXLAN ports.
    pub ports: BTreeMap<String, Link>,
    pub wires: BTreeMap<(String, String), wire::Datapath>,
    /// Wires whose state is not healthy-complete (broken, half), by end name.
    pub broken_wire_ends: BTreeSet<String>,
    pub hubs: BTreeMap<String, BTreeSet<String>>,
    /// Hubs whose fan-out is incomplete (a filter deleted, a member gone): set again.
    pub broken_hubs: BTreeSet<String>,
    /// patchwire's mirrors in the panel, as `mirror show` rebuilds them.
    pub mirrors: BTreeMap<String, super::desired::MirrorPlan>,
    /// Mirrors whose destination or sources were re-made under them.
    pub broken_mirrors: BTreeSet<String>,
    /// Stubs of this lab in existing namespaces, by (netns spec, stub name).
    pub stubs: BTreeMap<(String, String), FoundStub>,
    /// Taps in VM nodes' namespaces, by (netns, tap name): their settings against the file's.
    pub taps: BTreeMap<(String, String), Link>,
    /// Directions of eBPF wires on another path than their target calls for now (a root
    /// qdisc added on a port after `up`, or removed): `wire::settle_paths` moves them.
    pub paths: Vec<PathDrift>,
    /// A `patchwire watch` is watching the panel now (it holds the panel's watch lock).
    pub watched: bool,
    /// The file whose flaps that watch runs (`watch --lab FILE`), from its lock file.
    pub flaps_run_by: Option<String>,
    /// Namespaces holding stubs (a VM node's, a `netns:` node's) a watch is watching now.
    pub watched_stub_namespaces: BTreeSet<String>,
    /// The far ends (node side) of existing ports with a `mac:` or a bridge to be a port of,
    /// by port name.
    pub far_ends: BTreeMap<String, Link>,
    /// The bridges the lab needs in the host's namespace that exist there, by name.
    pub bridges: BTreeMap<String, Link>,
    /// Interfaces this lab made in nodes (macvlan, dummy), found by their record: by
    /// endpoint, with the namespace (spec) they are in.
    pub devices: BTreeMap<super::file::Endpoint, (String, Link)>,
    /// The impairment on each panel port that has one (the frames arriving at it).
    pub impairs: BTreeMap<String, crate::impair::Impairment>,
    /// The panel ports `cut` took down.
    pub cut: BTreeSet<String>,
    /// The panel ports whose impairment or cut a command set (`patchwire impair`, `cut`), not
    /// this lab's file: what `plan` calls changed outside the file.
    pub by_command: BTreeSet<String>,
    /// Ports left out of `ports` because `up` makes them anew (a container node recreated or
    /// started again), by name: the endpoint each stands for, so that what is removed with
    /// them is still named by endpoint.
    pub forgotten: BTreeMap<String, String>,
}

/// One eBPF wire direction on the wrong path: frames arriving on port `from` go to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathDrift {
    pub from: String,
    pub to: String,
    /// The path it should take.
    pub wanted: wire::Path,
    /// Why, in words (`r2.e1's root qdisc tbf`, or "nothing on r2.e1's way out is skipped").
    pub because: String,
}

/// Everything: namespaces, the panel's ports, wires, hubs and mirrors, stubs.
pub fn observe(desired: &Desired) -> Result<Actual, LabError> {
    let mut actual = observe_marks(desired)?;
    if actual.namespaces.get(&desired.panel) == Some(&NsState::Ours) {
        observe_panel(desired, &mut actual)?;
        let panel = Netns::open(Some(&desired.panel))?;
        super::impairs::observe(&panel, &mut actual)?;
    }
    super::host_links::observe(desired, &mut actual)?;
    Ok(actual)
}

/// Only what `down` needs: which namespaces carry the lab's marks, and its stubs elsewhere.
pub fn observe_marks(desired: &Desired) -> Result<Actual, LabError> {
    let mut actual = Actual::default();
    let wanted: Vec<(String, String)> = desired.owned_namespaces();
    for (name, mark) in &wanted {
        actual
            .namespaces
            .insert(name.clone(), ns_state(name, mark)?);
    }
    // Lab-marked namespaces the file no longer wants (a node removed, or moved to another
    // host): only those carrying this lab's mark; anything else under a similar name is
    // someone else's.
    let prefix = format!("{}-", desired.lab);
    for name in netns::named() {
        if name.starts_with(&prefix) && !wanted.iter().any(|(n, _)| *n == name) {
            let mark =
                names::node_mark(&desired.lab, &name[prefix.len()..], desired.host.as_deref());
            if ns_state(&name, &mark)? == NsState::Ours {
                actual.namespaces.insert(name, NsState::Ours);
            }
        }
    }
    observe_stubs(desired, &mut actual)?;
    super::devices::observe(desired, &mut actual)?;
    Ok(actual)
}

/// The path each eBPF wire direction calls for now against the one it takes (only when the
/// panel has eBPF wires: one more look at the targets' root qdiscs and egress hooks).
fn observe_paths(
    panel: &Netns,
    links: &BTreeMap<crate::nl::link::IfIndex, Link>,
    filters: &BTreeMap<crate::nl::link::IfIndex, crate::nl::tc::Filter>,
    actual: &mut Actual,
) -> Result<(), LabError> {
    use crate::wire::ebpf;
    let directions: Vec<(&Link, &Link, &crate::nl::tc::Filter)> = filters
        .iter()
        .filter(|(_, f)| f.is_ebpf_wire())
        .filter_map(|(index, f)| Some((links.get(index)?, links.get(&f.wire_target()?)?, f)))
        .collect();
    if directions.is_empty() {
        return Ok(());
    }
    let mut view = wire::NsView::open(panel.try_clone()?)?;
    let targets: Vec<_> = directions.iter().map(|(_, to, _)| to.index).collect();
    view.load_tc(&targets)?;
    let roots = ebpf::root_qdiscs(&mut view, &targets)?;
    for (from, to, filter) in directions {
        let egress = view.tc(to.index)?.egress.len();
        let skipped = ebpf::peer_would_skip(to, roots.get(&to.index), egress);
        let (wanted, because) = match (ebpf::peer_able(to), skipped) {
            (true, None) => (
                wire::Path::Peer,
                format!("nothing on {}'s way out is skipped", to.name),
            ),
            (true, Some(skipped)) => (wire::Path::Redirect, skipped),
            (false, _) => continue,
        };
        if ebpf::path_of(filter) != wanted {
            actual.paths.push(PathDrift {
                from: from.name.clone(),
                to: to.name.clone(),
                wanted,
                because,
            });
        }
    }
    Ok(())
}

/// The lock file a watch of `netns` holds (watch/mod.rs names it by the namespace's inode).
pub(super) fn watch_lock_path(netns: &Netns) -> String {
    let key = netns.inode();
    format!("/run/patchwire/watch-{}-{}.lock", key.dev, key.inode)
}

/// Removes a watch lock file no live process holds (a `watch --lab` killed, or stopped by a
/// signal it did not handle, leaves its file behind): `down` tidies its panel's.
pub(super) fn remove_stale_watch_lock(path: &str) {
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    // flock: fails while a watcher (alive) holds it; released when its holder dies.
    if file.try_lock().is_ok() {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether a `patchwire watch` holds the namespace's watch lock
/// (/run/patchwire/watch-DEV-INO.lock, see watch/mod.rs) — read from /proc/locks rather than
/// by trying the lock, which would turn away a watcher starting in that instant.
pub(super) fn watcher_running(netns: &Netns) -> bool {
    use std::os::unix::fs::MetadataExt;
    let path = watch_lock_path(netns);
    let Ok(meta) = std::fs::metadata(&path) else {
        return false;
    };
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    // `1: FLOCK  ADVISORY  WRITE 4242 00:19:1234 0 EOF`: the file as MAJ:MIN:INO (hex, hex, dec).
    locks.lines().any(|line| {
        line.split_whitespace().any(|field| {
            let mut parts = field.split(':');
            let (Some(maj), Some(min), Some(ino), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            u32::from_str_radix(maj, 16).ok() == Some(major)
                && u32::from_str_radix(min, 16).ok() == Some(minor)
                && ino.parse::<u64>().ok() == Some(meta.ino())
        })
    })
}

/// A namespace's state. Only a name that is not a namespace (the empty file an interrupted
/// create leaves) is `Broken`; not being allowed to open or enter it (no CAP_SYS_ADMIN) is an
/// error: read as broken, `plan` would propose to remake every namespace of a running lab.
fn ns_state(name: &str, mark: &str) -> Result<NsState, LabError> {
    let path = std::path::Path::new(netns::NETNS_RUN_DIR).join(name);
    if !path.exists() {
        return Ok(NsState::Missing);
    }
    let netns = match Netns::open(Some(name)) {
        Ok(netns) => netns,
        Err(netns::NetnsError::NotANetns { .. } | netns::NetnsError::NotFound { .. }) => {
            return Ok(NsState::Broken);
        }
        Err(e) => return Err(permission(e)),
    };
    let mut socket = netns.route().map_err(permission)?;
    // The mark is on the loopback: one lookup.
    let Ok(lo) = link::parse_one(socket.request_raw(link::get_by_name("lo"), 0)) else {
        return Ok(NsState::Broken);
    };
    if lo.altnames.iter().any(|a| a == mark) {
        return Ok(NsState::Ours);
    }
    // The same node's mark for another host: `patchwire.lab.LAB.node.NODE.HOST`.
    let stem = mark.rsplit_once('.').map_or(mark, |(stem, _)| stem);
    Ok(
        match lo
            .altnames
            .iter()
            .find(|a| a.starts_with(stem) && a.as_str() != mark)
        {
            Some(other) => NsState::OtherHost(other.rsplit('.').next().unwrap_or("?").to_string()),
            None => NsState::Unmarked,
        },
    )
}

/// EPERM/EACCES on opening or entering a lab's namespace, said as what is missing.
fn permission(e: netns::NetnsError) -> LabError {
    let denied = match &e {
        netns::NetnsError::Open { source, .. } | netns::NetnsError::Enter { source, .. } => {
            matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES))
        }
        _ => false,
    };
    match denied {
        true => LabError::system(
            format!(
                "{e}: entering a lab's namespaces needs CAP_SYS_ADMIN (run as root); nothing \
                 was changed"
            ),
            e,
        ),
        false => e.into(),
    }
}

fn observe_panel(desired: &Desired, actual: &mut Actual) -> Result<(), LabError> {
    let panel = Netns::open(Some(&desired.panel))?;
    let mut socket = panel.route()?;
    for found in link::list(&mut socket).map_err(|e| {
        LabError::system(
            format!("listing the links of netns {}: {e}", desired.panel),
            e,
        )
    })? {
        // Everything in the panel is the lab's: a port without its record is one an
        // interrupted `up` left half-made (it is made again).
        let ours = !found.loopback;
        if ours {
            actual.ports.insert(found.name.clone(), found);
        }
    }
    // The wires as pairs of filters (ingress hooks only: no health, offloads or addresses
    // needed here — `show --lab` reports those).
    let mut view = wire::NsView::open(panel.try_clone()?)?;
    view.ingress_only = true;
    let wire::Wiring { links, filters, .. } = view.wiring()?;
    for (index, filter) in &filters {
        let name = |i: &crate::nl::link::IfIndex| links.get(i).map(|l| l.name.clone());
        let target = filter.wire_target().filter(|t| t.0 != 0);
        let back = target
            .and_then(|t| filters.get(&t))
            .and_then(|f| f.wire_target());
        match (name(index), target.and_then(|t| name(&t))) {
            // Complete: both ends there, both directions installed. Anything else is
            // repaired (linked again) or removed.
            (Some(a), Some(b)) if back == Some(*index) => {
                let datapath = match filter.is_ebpf_wire() {
                    true => wire::Datapath::Ebpf,
                    false => wire::Datapath::Tc,
                };
                actual
                    .wires
                    .insert(if a < b { (a, b) } else { (b, a) }, datapath);
            }
            (Some(a), _) => {
                actual.broken_wire_ends.insert(a);
            }
            _ => {}
        }
    }
    observe_paths(&panel, &links, &filters, actual)?;
    actual.watched = watcher_running(&panel);
    // `mirror show` reads every filter of the panel: only when the lab has mirrors, or the
    // panel still holds some (one action dump tells).
    let any_mirror = !desired.mirrors.is_empty() || !view.mirror_destinations()?.is_empty();
    let mirrors = match any_mirror {
        true => crate::mirror::show(panel.try_clone()?)?,
        false => Vec::new(),
    };
    for status in mirrors {
        let plan = super::desired::MirrorPlan {
            sources: status
                .sources
                .iter()
                .map(|s| s.name.clone())
                .chain(status.sources_gone.iter().cloned())
                .collect(),
            to: status.destination.name.clone(),
            direction: status.direction,
            vlans: status.vlans.as_ref().map(ToString::to_string),
            output_vlan: status.output_vlan,
            filter: status.filter.clone(),
        };
        // A broken mirror (a port re-made under it), or one whose `out` copies no longer fit
        // the wires (a frame missed or copied twice), is made again.
        let whole = status.health != wire::Health::Broken && !status.coverage_off;
        if whole {
            actual.mirrors.insert(status.name.clone(), plan);
        } else {
            actual.broken_mirrors.insert(status.name.clone());
        }
    }
    for status in hub::show_in(&mut view)? {
        let members: BTreeSet<String> = status
            .members
            .iter()
            .filter(|m| m.present)
            .map(|m| m.name.clone())
            .collect();
        if !hub_complete(&mut view, &status)? {
            actual.broken_hubs.insert(status.name.clone());
        }
        actual.hubs.insert(status.name.clone(), members);
    }
    Ok(())
}

/// Whether every member of a hub is there and fans out to exactly all the others: anything
/// else (a member gone, a filter deleted or missing someone) is repaired by setting the hub
/// again. Carrier, MTU and the like are not the lab's to repair and do not count.
fn hub_complete(view: &mut wire::NsView, status: &hub::HubStatus) -> Result<bool, LabError> {
    if status.members.iter().any(|m| !m.present) {
        return Ok(false);
    }
    let all: BTreeSet<crate::nl::link::IfIndex> =
        status.members.iter().filter_map(|m| m.index).collect();
    for index in &all {
        let targets: BTreeSet<crate::nl::link::IfIndex> = view
            .tc(*index)?
            .hub_filters()
            .flat_map(|f| f.hub_actions())
            .map(|a| a.to)
            .collect();
        let others: BTreeSet<_> = all.iter().copied().filter(|i| i != index).collect();
        if targets != others {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Stubs live in namespaces the lab does not own; they are found by their record.
fn observe_stubs(desired: &Desired, actual: &mut Actual) -> Result<(), LabError> {
    // Stubs exist only in namespaces the lab does not own and in VM nodes' namespaces.
    let mut specs: BTreeSet<String> = BTreeSet::new();
    for home in desired.nodes.values() {
        if !matches!(home, NodeHome::Owned { vm: None, .. }) {
            specs.insert(home.spec().to_string());
        }
    }
    for spec in specs {
        let owned = matches!(
            desired.nodes.values().find(|h| h.spec() == spec),
            Some(NodeHome::Owned { .. })
        );
        if owned && actual.namespaces.get(&spec) != Some(&NsState::Ours) {
            continue;
        }
        let Ok(netns) = Netns::open(Some(&spec)) else {
            continue;
        };
        if watcher_running(&netns) {
            actual.watched_stub_namespaces.insert(spec.clone());
        }
        let mut socket = netns.route()?;
        let links = link::list(&mut socket)
            .map_err(|e| LabError::system(format!("listing the links of netns {spec}: {e}"), e))?;
        for found in links {
            if owned && found.is_tap() {
                actual
                    .taps
                    .insert((spec.clone(), found.name.clone()), found.clone());
            }
            let ours = found
                .altnames
                .iter()
                .any(|a| names::parse_stub_record(a).is_some_and(|(lab, _)| lab == desired.lab));
            if ours {
                actual.stubs.insert(
                    (spec.clone(), found.name.clone()),
                    FoundStub { link: found },
                );
            }
        }
    }
    Ok(())
}
