//! Labs as files: `up`, `plan`, `down`, `show --lab` and `graph` for a whole topology — nodes in
//! many namespaces, wires, hub segments, VM taps and links across hosts — from one YAML file.
//!
//! The lab sits above wires and hubs and composes them: it plans what should exist
//! (`desired.rs`), reads what does (`observe.rs`, from the marks it left: no state file),
//! lists the difference (`plan.rs`) and makes it with the same `wire::link` and `hub::set` the
//! commands use (`apply.rs`). Its ports live in a namespace of its own, the panel
//! (`LAB.panel`); each endpoint `NODE:IF` is a veth pair with `IF` in the node's namespace
//! and the port in the panel, where wires and hubs join ports like cables and hubs.
//!
//! * `file/` reads and checks the file; `names.rs` says what everything is called.
//! * `view.rs` is the lab seen from the kernel (`show --lab`) and its picture (`graph`).
//! * `list.rs` finds every lab on the host from its marks (`show --labs`).
//! * `containers.rs` runs container nodes through the runtime (`crate::runtime`) before the
//!   plumbing wires them, their `exec:` after, and removes them on `down`.

pub mod file;

mod apply;
mod containers;
mod desired;
mod devices;
mod host_links;
mod impairs;
mod list;
mod names;
mod observe;
mod plan;
pub mod ports;
mod taps;
mod view;

pub use containers::StaleNode;
pub use containers::{ContainerChange, ExecResult};
pub use desired::Desired;
pub use impairs::flapping;
pub use list::{LabSummary, check_lab_name, list, list_with};
pub use plan::{Change, Plan};
pub use view::{GraphFormat, LinkView, capture_points, graph, show, show_with};

use serde::Serialize;

use crate::netns::{self, Netns, NetnsError};
use crate::wire::WireError;
use file::LabFile;

/// Why a lab operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab file could not be read or is wrong.
    #[error(transparent)]
    File(#[from] file::LabFileError),
    /// The file cannot be carried out here (an unknown host, a namespace that is not the lab's, an
    /// underlay too small…), or some of `down`'s removals failed; the message says what.
    #[error("{0}")]
    Invalid(String),
    /// Making or removing a wire or a hub failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Opening, creating or deleting a namespace failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// A system call failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The container runtime (podman, docker) failed or could not be found.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A system, kernel or namespace call failed: `message` says what was being done (the
    /// cause's text is in it), `source` keeps the cause so its kind (EPERM…) can be read.
    #[error("{message}")]
    System {
        /// The whole message, holding the cause's text (and any hint).
        message: String,
        /// The io::Error, NlError, NetnsError or LabError underneath.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LabError {
    /// A failed system call said as `message`, which holds `source`'s text already.
    fn system(
        message: String,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        LabError::System {
            message,
            source: source.into(),
        }
    }
}

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpOutcome {
    /// The lab's name.
    pub lab: String,
    /// The host of the file this machine is (`--host`), for a lab over several machines.
    pub host: Option<String>,
    /// What was changed, in the order it was done; empty when nothing differed.
    pub changes: Vec<Change>,
    /// What was left alone on purpose (a port `watch` holds down), in words.
    pub notes: Vec<String>,
    /// The `exec:` commands run by this `up` (in containers whose namespace had not run them:
    /// made or wired for the first time, or made again), in node order, with their output;
    /// one that failed does not stop the others.
    pub exec: Vec<ExecResult>,
}

/// What lab commands take besides the file and the host.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The container runtime for container nodes (`--runtime`).
    pub runtime: crate::runtime::Choice,
    /// The runtime's client program, with `runtime` naming its kind (`Choice::Auto` means
    /// docker then): for library users whose runtime environment is set by a wrapper. `None`:
    /// found on PATH (or PATCHWIRE_PODMAN / PATCHWIRE_DOCKER).
    pub program: Option<std::path::PathBuf>,
}

/// Holds /run/patchwire/lab-LAB[.HOST].lock while a lab command runs: two `up`s (or an `up`
/// and a `down`) of one lab at once would each see the other's half-made work. A second one
/// waits for the first.
///
/// The file goes when the command ends, so none pile up: the holder unlinks it while still
/// holding the lock. A waiter that had opened the old file gets the lock once the holder is
/// done, sees that the path no longer names the file it locked (gone, or another inode) and
/// starts over on the path's new file — so two commands never hold "the" lock at once.
struct LabLock {
    _held: crate::sys::HeldLock,
}

/// `command` is written into the file while it is held: `watch` reads `down` there to tell a
/// lab being taken down from wires breaking (it reports the teardown as such, not as failures).
fn lock(desired: &Desired, command: &str) -> Result<LabLock, LabError> {
    let dir = std::path::Path::new(LOCK_DIR);
    let name = match &desired.host {
        Some(host) => format!("lab-{}.{host}.lock", desired.lab),
        None => format!("lab-{}.lock", desired.lab),
    };
    let path = dir.join(name);
    let failed = |what: &str, e: std::io::Error| {
        let needs = match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                " (lab commands need root: CAP_NET_ADMIN, CAP_SYS_ADMIN to create and enter \
                 namespaces, and write access to /run/patchwire and /run/netns)"
            }
            _ => "",
        };
        LabError::system(format!("{what} {}: {e}{needs}", path.display()), e)
    };
    let held = crate::sys::hold_lock(&path).map_err(|(what, e)| failed(what, e))?;
    {
        use std::io::Write;
        let _ = held.file.set_len(0);
        let _ = (&held.file).write_all(command.as_bytes());
    }
    sweep_stale_locks(&path);
    Ok(LabLock { _held: held })
}

/// Removes lock files nobody holds (left by earlier versions, which never removed theirs), by
/// the same rule as [`LabLock`]'s drop: taken, checked to still be the path's file, unlinked
/// while locked. A file someone holds is skipped; one a waiter has open is fine, as that
/// waiter checks the path again once it gets the lock.
fn sweep_stale_locks(ours: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(LOCK_DIR) else {
        return;
    };
    for entry in entries.flatten().take(256) {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path == ours || !name.starts_with("lab-") || !name.ends_with(".lock") {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if file.try_lock().is_err() {
            continue;
        }
        let same = match (file.metadata(), std::fs::metadata(&path)) {
            (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
            _ => false,
        };
        if same {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Where lab commands keep their lock files (only while they run).
const LOCK_DIR: &str = "/run/patchwire";

/// What `up` would change, changing nothing: `changes` empty when the kernel matches the file;
/// `notes` say what `up` leaves alone on purpose (a port `watch` holds down).
pub fn plan(file: &LabFile, host: Option<&str>) -> Result<Plan, LabError> {
    plan_with(file, host, &Options::default())
}

/// [`plan`] with options (the container runtime). Container changes come first, as `up`
/// makes them first.
pub fn plan_with(file: &LabFile, host: Option<&str>, options: &Options) -> Result<Plan, LabError> {
    file.check_ids(host).map_err(LabError::Invalid)?;
    let runtime = containers::runtime_for(file, host, options)?;
    let _lock = lock(&Desired::key(file, host)?, "plan")?;
    let containers = containers::plan(runtime.as_ref(), file, host)?;
    let mut desired = Desired::with_fresh(file, host, &containers.fresh, &containers.mgmt_bridge)?;
    devices::inherit_parent_mtus(&mut desired)?;
    let mut actual = observe::observe(&desired)?;
    containers::forget_fresh_ports(&mut actual, &containers.fresh);
    let plan = plan::changes(&desired, &actual)?;
    apply::preflight(&desired, &plan.changes)?;
    let mut notes = containers.notes;
    notes.extend(exec_not_run_again(
        file,
        &desired,
        &containers.fresh,
        &plan.changes,
        runtime.as_ref(),
    ));
    notes.extend(plan.notes);
    Ok(Plan {
        changes: containers
            .changes
            .into_iter()
            .map(Change::Container)
            .chain(plan.changes)
            .collect(),
        notes,
    })
}

/// A lab file that does not read, as far as `down` needs it: the lab's name (its `name:`,
/// `${VAR}` and `$VAR` expanded from the environment), whether it names `hosts:`, and the
/// hosts of that lab that have a panel on this machine (`None`: a lab on one machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableLab {
    /// The lab's name, a valid one.
    pub name: String,
    /// The file has `hosts:`: `down --name` needs `--host`.
    pub multi_host: bool,
    /// The lab has namespaces on this machine.
    pub up_here: bool,
}

/// The name of the lab in a file that fails to read (an unset variable making a value
/// invalid, a key added after `up`): read from its `name:` alone. `None` when even that does
/// not read, or names no valid lab.
pub fn unreadable_lab(path: &str) -> Option<UnreadableLab> {
    let (_, text) = file::read_source(path).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // The top-level `name:` and `hosts:` lines, read as lines: the file did not read, so it is
    // not parsed again (a YAML parser unbounded in depth or aliases could hang on it: the
    // reader's bounds are what refused it).
    let name = text.lines().find_map(|l| {
        let value = l.strip_prefix("name:")?.split(" #").next()?.trim();
        Some(value.trim_matches(|c| c == '"' || c == '\'').to_string())
    })?;
    let multi_host = text.lines().any(|l| l.starts_with("hosts:"));
    let name = expand_name(&name)?;
    list::check_lab_name(&name).ok()?;
    let up_here = netns::named().iter().any(|n| {
        n == &names::panel(&name, None)
            || n.starts_with(&format!("{name}.panel."))
            || n.starts_with(&format!("{name}-"))
    });
    Some(UnreadableLab {
        name,
        multi_host,
        up_here,
    })
}

/// `$VAR`, `${VAR}` and `${VAR:-DEFAULT}` in a lab's name, from the environment; `None` when
/// one is unset (the name is then not known).
fn expand_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (inner, next) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}')?;
                (&braced[..end], &braced[end + 1..])
            }
            None => {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..len], &after[len..])
            }
        };
        let (var, default) = match inner.split_once(":-") {
            Some((var, default)) => (var, Some(default)),
            None => (inner, None),
        };
        let value = std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| default.map(String::from))?;
        out.push_str(&value);
        rest = next;
    }
    out.push_str(rest);
    Some(out)
}

/// Kept container nodes with `exec:` that gain interfaces: their commands ran once, when the
/// container started, and are not run again for the new ones (docs/containers.md#exec).
fn exec_not_run_again(
    file: &LabFile,
    desired: &Desired,
    fresh: &std::collections::BTreeSet<String>,
    changes: &[Change],
    runtime: Option<&crate::runtime::Runtime>,
) -> Vec<String> {
    let mut gained: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for change in changes {
        let Change::CreatePort { port, .. } = change else {
            continue;
        };
        let Some(endpoint) = desired.ports.get(port).and_then(|p| p.endpoint.as_ref()) else {
            continue;
        };
        gained
            .entry(endpoint.node.as_str())
            .or_default()
            .push(endpoint.interface.as_str());
    }
    let mut notes = Vec::new();
    for (node, interfaces) in gained {
        if fresh.contains(node) {
            continue;
        }
        let Some(file::NodeKind::Container(c)) = file.nodes.get(node).map(|n| &n.kind) else {
            continue;
        };
        if c.exec.is_empty() {
            continue;
        }
        let client = runtime.map_or_else(|| "RUNTIME".to_string(), |r| r.kind.to_string());
        notes.push(format!(
            "node {node} keeps running: its exec: commands ran when its container started and \
             are not run again for {} (to run them with every interface there: {client} stop \
             {}, then patchwire up {} starts it again and runs them)",
            interfaces.join(", "),
            c.spec.name,
            file.path
        ));
    }
    notes
}

/// Makes the kernel match the file on this host: adds, removes and re-patches only what
/// differs. Running it twice changes nothing the second time.
pub fn up(file: &LabFile, host: Option<&str>) -> Result<UpOutcome, LabError> {
    up_with(file, host, &Options::default())
}

/// [`up`] with options. Container nodes first (the management network, containers removed,
/// recreated and created, their namespaces registered), then the plumbing wires them like
/// existing namespaces, then their `exec:` commands run.
pub fn up_with(
    file: &LabFile,
    host: Option<&str>,
    options: &Options,
) -> Result<UpOutcome, LabError> {
    file.check_ids(host).map_err(LabError::Invalid)?;
    let runtime = containers::runtime_for(file, host, options)?;
    let key = Desired::key(file, host)?;
    let _lock = lock(&key, "up")?;
    let partly = |e: LabError| {
        // Several lines (one per node the runtime failed): the advice on a line of its own.
        let gap = match e.to_string().contains('\n') {
            true => "\n",
            false => " ",
        };
        LabError::system(
            format!(
                "{e}{gap}(the lab is partly changed: run patchwire up again once that is fixed, \
                 or patchwire down)"
            ),
            e,
        )
    };
    let containers = containers::plan(runtime.as_ref(), file, host)?;
    // With containers to change, what `plan` lists: the plumbing's changes as the kernel is
    // before the containers change (removing a node's container deletes its ports first, so
    // the plan made after it no longer sees them), which is what `up` reports.
    let mut planned = None;
    if !containers.changes.is_empty() {
        // Whatever the plumbing would refuse, it refuses before a container changes.
        let mut desired =
            Desired::with_fresh(file, host, &containers.fresh, &containers.mgmt_bridge)?;
        devices::inherit_parent_mtus(&mut desired)?;
        let mut actual = observe::observe(&desired)?;
        containers::forget_fresh_ports(&mut actual, &containers.fresh);
        let plan = plan::changes(&desired, &actual)?;
        apply::preflight(&desired, &plan.changes)?;
        containers::apply(runtime.as_ref(), &containers, &key.lab, &key.panel).map_err(partly)?;
        planned = Some(plan.changes);
    }
    // The management network exists now: `mgmt-net` links join the bridge the runtime made.
    let mgmt = containers::mgmt_bridge(runtime.as_ref(), file, host)?;
    let mut desired = Desired::with_mgmt(file, host, &mgmt)?;
    devices::inherit_parent_mtus(&mut desired)?;
    let actual = observe::observe(&desired)?;
    let Plan { changes, notes } = plan::changes(&desired, &actual)?;
    // Whatever can still refuse (an underlay too small, an unknown tap owner) does so before
    // anything changes.
    apply::preflight(&desired, &changes)?;
    if !changes.is_empty() {
        apply::apply(&desired, &changes).map_err(partly)?;
    }
    list::record_file(&desired, &file.path);
    let exec = containers::run_exec(runtime.as_ref(), file, host).map_err(partly)?;
    let reported = planned.unwrap_or(changes);
    let mut all_notes = containers.notes;
    all_notes.extend(exec_not_run_again(
        file,
        &desired,
        &containers.fresh,
        &reported,
        runtime.as_ref(),
    ));
    all_notes.extend(notes);
    Ok(UpOutcome {
        lab: desired.lab,
        host: desired.host,
        changes: containers
            .changes
            .into_iter()
            .map(Change::Container)
            .chain(reported)
            .collect(),
        notes: all_notes,
        exec,
    })
}

/// What `down` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownOutcome {
    /// The namespaces deleted (the panel and the nodes' own).
    pub namespaces_removed: Vec<String>,
    /// Stubs removed from namespaces the lab does not own (their interfaces given back).
    pub stubs_removed: Vec<String>,
    /// Interfaces the lab made in namespaces it does not own (`netns:` nodes), deleted with
    /// their panel ports.
    pub interfaces_removed: Vec<String>,
    /// Interfaces the lab made in the host's namespace (bridge and host nodes' endpoints, the
    /// host sides of `type: host` and `mgmt-net` links), deleted with their panel ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_interfaces_removed: Vec<String>,
    /// VM taps deleted before their namespace (`NETNS:TAP`).
    pub taps_removed: Vec<String>,
    /// The lab's containers removed (by their `patchwire.lab` label).
    pub containers_removed: Vec<String>,
    /// Management networks the lab had made, removed (none of its containers on them).
    pub networks_removed: Vec<String>,
    /// Container namespaces' registrations under /run/netns removed (containers' and
    /// ext-containers').
    pub registrations_removed: Vec<String>,
    /// What `down` could not remove because it was already gone (a `netns:` node's namespace
    /// deleted before `down`), one sentence each.
    pub notes: Vec<String>,
}

/// Removes everything the lab made on this host — its namespaces (panel, nodes, with every
/// port, wire, hub and tunnel in them) and its stubs in other namespaces — and nothing else.
/// Works on a half-built lab; twice is fine.
pub fn down(file: &LabFile, host: Option<&str>) -> Result<DownOutcome, LabError> {
    down_with(file, host, &Options::default())
}

/// [`down`] with options: the lab's containers go too (found by their labels, whatever the
/// file says now), ext-containers' registrations (the containers stay), and a management
/// network the lab made once nothing is on it.
pub fn down_with(
    file: &LabFile,
    host: Option<&str>,
    options: &Options,
) -> Result<DownOutcome, LabError> {
    let runtime = containers::runtime_for(file, host, options)?;
    let desired = Desired::for_down(file, host)?;
    let ext = containers::ext_registrations(file, host);
    let mut outcome = remove(&desired, runtime.as_ref(), &ext)?;
    // Said after the removal: the lab's own namespaces go whatever became of the others. A
    // container node's registration gone is nothing to say: its container is the record.
    for (node, netns) in &desired.gone {
        if containers::is_container_node(file, node) {
            continue;
        }
        outcome.notes.push(format!(
            "node {node}: netns {netns} is already gone (with whatever the lab made in it)"
        ));
    }
    Ok(outcome)
}

/// `down` for a lab whose file is gone or now names another lab (`show --labs` lists it as
/// orphaned): its namespaces are found by their marks; its stubs in every namespace under
/// /run/netns (a stub in a namespace known only by a path needs the file); its containers and
/// networks by their labels, when a runtime answers.
pub fn down_by_name(lab: &str, host: Option<&str>) -> Result<DownOutcome, LabError> {
    down_by_name_with(lab, host, &Options::default())
}

/// [`down_by_name`] with options: the runtime asked about the lab's containers is the one
/// `options` name; by default the first that answers, asked only when the lab left container
/// registrations under /run/netns, and none is no error.
pub fn down_by_name_with(
    lab: &str,
    host: Option<&str>,
    options: &Options,
) -> Result<DownOutcome, LabError> {
    list::check_lab_name(lab)?;
    let mut desired = Desired {
        lab: lab.to_string(),
        host: host.map(String::from),
        panel: names::panel(lab, host),
        ..Desired::default()
    };
    for name in netns::named() {
        // `LAB-NODE`: the node's, if it carries the node's mark (anything else is left alone).
        let home = match name.strip_prefix(&format!("{lab}-")) {
            Some(node) => (
                node.to_string(),
                desired::NodeHome::Owned {
                    netns: name.clone(),
                    vm: None,
                },
            ),
            None if name == desired.panel => continue,
            None => (
                format!("netns {name}"),
                desired::NodeHome::Existing { spec: name },
            ),
        };
        desired.nodes.insert(home.0, home.1);
    }
    let runtime = match (&options.program, options.runtime) {
        (Some(program), choice) => {
            let kind = match choice {
                crate::runtime::Choice::Only(kind) => kind,
                crate::runtime::Choice::Auto => crate::runtime::Kind::Docker,
            };
            Some(crate::runtime::at(kind, program)?)
        }
        // Asked only when the lab left container registrations (`clab-LAB-…`): a lab without
        // containers never asks a runtime anything. The one holding the lab's containers.
        (None, crate::runtime::Choice::Auto) => netns::named()
            .iter()
            .any(|n| n.starts_with(&format!("clab-{lab}-")))
            .then(|| containers::holding_runtime(lab, host))
            .transpose()?
            .flatten(),
        (None, _) => Some(crate::runtime::find(options.runtime)?),
    };
    remove(&desired, runtime.as_ref(), &[])
}

fn remove(
    desired: &Desired,
    runtime: Option<&crate::runtime::Runtime>,
    ext: &[String],
) -> Result<DownOutcome, LabError> {
    let _lock = lock(desired, "down")?;
    // The panel's watch lock, named by the panel's inode: found before the panel goes.
    let watch_lock = Netns::open(Some(&desired.panel))
        .ok()
        .map(|panel| observe::watch_lock_path(&panel));
    let actual = observe::observe_marks(desired)?;
    let mut outcome = DownOutcome::default();
    let mut failures = Vec::new();
    let owned: Vec<String> = desired
        .owned_namespaces()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    // Interfaces the lab made in nodes (macvlan, dummy) go first, also from its own
    // namespaces: the kernel destroys a deleted namespace on its own time, and a macvlan
    // would hold its host interface (in promiscuous mode) until then.
    for (endpoint, (spec, _)) in &actual.devices {
        match devices::delete_one(&desired.lab, spec, &endpoint.interface, false) {
            Ok(()) if owned.contains(spec) => {}
            Ok(()) => outcome
                .interfaces_removed
                .push(format!("{endpoint} ({spec})")),
            Err(e) => failures.push(e.to_string()),
        }
    }
    for ((spec, stub), found) in &actual.stubs {
        // A stub in a namespace the lab owns goes with the namespace.
        if owned.contains(spec) {
            continue;
        }
        let interface = found
            .link
            .altnames
            .iter()
            .find_map(|a| names::parse_stub_record(a))
            .map(|(_, endpoint)| endpoint.interface)
            .unwrap_or_default();
        match apply::remove_stub(spec, stub, &interface) {
            Ok(()) => outcome.stubs_removed.push(format!("{spec}:{stub}")),
            Err(e) => failures.push(e.to_string()),
        }
    }
    // The panel's ports go before the namespace: deleting a namespace only drops its name,
    // and the kernel tears it down later, on its own time. A port's far end in a `netns:`
    // node (and a VXLAN port's UDP socket) would outlive `down` until then, and an `up` or a
    // second `down` at once would find it. Deleting a veth deletes both ends at once.
    if actual.namespaces.get(&desired.panel) == Some(&observe::NsState::Ours) {
        match apply::delete_panel_ports(desired) {
            Ok(removed) => {
                let in_host = |endpoint: &String| {
                    let node = endpoint.split_once(':').map_or("", |(n, _)| n);
                    desired
                        .nodes
                        .get(node)
                        .is_some_and(|h| h.spec() == desired.host_netns)
                };
                let (host, elsewhere): (Vec<String>, Vec<String>) =
                    removed.into_iter().partition(in_host);
                outcome.interfaces_removed.extend(elsewhere);
                outcome.host_interfaces_removed = host;
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    // VM taps go before their namespace too: a qemu holding one keeps the namespace (and the
    // tap in it) alive after its name is gone. Deleting the tap detaches it from qemu at once.
    for (netns, tap) in actual.taps.keys() {
        if actual.namespaces.get(netns) != Some(&observe::NsState::Ours) {
            continue;
        }
        let held = taps::holders(netns, tap);
        match apply::delete_link(netns, tap) {
            Ok(()) => outcome.taps_removed.push(format!("{netns}:{tap}")),
            Err(e) => failures.push(e.to_string()),
        }
        for (pid, comm) in held {
            outcome.notes.push(format!(
                "tap {tap} in netns {netns} was held by process {pid} ({comm}): deleted under \
                 it, that VM has lost this interface (stop it, or give it a tap again after up)"
            ));
        }
    }
    for (name, state) in &actual.namespaces {
        let ours = matches!(state, observe::NsState::Ours | observe::NsState::Broken);
        if ours {
            match netns::delete_named(name) {
                Ok(()) => outcome.namespaces_removed.push(name.clone()),
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    // Containers after the panel's ports: their far ends went with the ports.
    match containers::remove_all(runtime, &desired.lab, desired.host.as_deref(), ext) {
        Ok(removed) => {
            outcome.containers_removed = removed.containers;
            outcome.networks_removed = removed.networks;
            outcome.registrations_removed = removed.registrations;
            outcome.notes.extend(removed.notes);
        }
        Err(e) => failures.push(e.to_string()),
    }
    if let Some(path) = &watch_lock {
        observe::remove_stale_watch_lock(path);
    }
    match failures.is_empty() {
        true => Ok(outcome),
        false => Err(LabError::Invalid(failures.join("; "))),
    }
}

#[cfg(test)]
mod unreadable_tests {
    use super::expand_name;

    #[test]
    fn a_lab_name_expands_its_variables_or_is_not_known() {
        // SAFETY: tests of this module set only this variable, and nothing reads it elsewhere.
        unsafe { std::env::set_var("PWT_UNIT_NAME_PART", "x1") };
        assert_eq!(expand_name("lab").as_deref(), Some("lab"));
        assert_eq!(
            expand_name("a-${PWT_UNIT_NAME_PART}").as_deref(),
            Some("a-x1")
        );
        assert_eq!(
            expand_name("$PWT_UNIT_NAME_PART-b").as_deref(),
            Some("x1-b")
        );
        assert_eq!(expand_name("${PWT_UNIT_UNSET:-d}").as_deref(), Some("d"));
        assert_eq!(expand_name("${PWT_UNIT_UNSET}"), None);
        assert_eq!(expand_name("${PWT_UNIT_NAME_PART"), None);
    }
}
