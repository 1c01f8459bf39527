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
//! * `file.rs` reads and checks the file; `names.rs` says what everything is called.
//! * `view.rs` is the lab seen from the kernel (`show --lab`) and its picture (`graph`).

pub mod file;

mod apply;
mod desired;
mod names;
mod observe;
mod plan;
mod view;

pub use desired::Desired;
pub use plan::Change;
pub use view::{GraphFormat, LinkView, capture_points, graph, show};

use serde::Serialize;

use crate::netns::{self, NetnsError};
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
}

/// Holds /run/patchwire/lab-LAB[.HOST].lock while a lab command runs: two `up`s (or an `up`
/// and a `down`) of one lab at once would each see the other's half-made work. A second one
/// waits for the first.
fn lock(desired: &Desired) -> Result<std::fs::File, LabError> {
    use std::os::fd::AsRawFd;
    let dir = std::path::Path::new("/run/patchwire");
    std::fs::create_dir_all(dir)?;
    let name = match &desired.host {
        Some(host) => format!("lab-{}.{host}.lock", desired.lab),
        None => format!("lab-{}.lock", desired.lab),
    };
    let file = std::fs::File::create(dir.join(name))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(file)
}

/// What `up` would change, changing nothing: empty when the kernel matches the file.
pub fn plan(file: &LabFile, host: Option<&str>) -> Result<Vec<Change>, LabError> {
    let desired = Desired::from_file(file, host)?;
    let _lock = lock(&desired)?;
    let actual = observe::observe(&desired)?;
    let changes = plan::changes(&desired, &actual)?;
    apply::preflight(&desired, &changes)?;
    Ok(changes)
}

/// Makes the kernel match the file on this host: adds, removes and re-patches only what
/// differs. Running it twice changes nothing the second time.
pub fn up(file: &LabFile, host: Option<&str>) -> Result<UpOutcome, LabError> {
    let desired = Desired::from_file(file, host)?;
    let _lock = lock(&desired)?;
    let actual = observe::observe(&desired)?;
    let changes = plan::changes(&desired, &actual)?;
    // Whatever can still refuse (an underlay too small, an unknown tap owner) does so before
    // anything changes.
    apply::preflight(&desired, &changes)?;
    if !changes.is_empty() {
        apply::apply(&desired, &changes).map_err(|e| {
            LabError::Invalid(format!(
                "{e} (the lab is partly changed: run patchwire up again once that is fixed, or \
                 patchwire down)"
            ))
        })?;
    }
    Ok(UpOutcome {
        lab: desired.lab,
        host: desired.host,
        changes,
    })
}

/// What `down` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownOutcome {
    /// The namespaces deleted (the panel and the nodes' own).
    pub namespaces_removed: Vec<String>,
    /// Stubs removed from namespaces the lab does not own (their interfaces given back).
    pub stubs_removed: Vec<String>,
}

/// Removes everything the lab made on this host — its namespaces (panel, nodes, with every
/// port, wire, hub and tunnel in them) and its stubs in other namespaces — and nothing else.
/// Works on a half-built lab; twice is fine.
pub fn down(file: &LabFile, host: Option<&str>) -> Result<DownOutcome, LabError> {
    let desired = Desired::from_file(file, host)?;
    let _lock = lock(&desired)?;
    let actual = observe::observe_marks(&desired)?;
    let mut outcome = DownOutcome::default();
    let mut failures = Vec::new();
    let owned: Vec<String> = desired
        .owned_namespaces()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
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
    for (name, state) in &actual.namespaces {
        let ours = matches!(state, observe::NsState::Ours | observe::NsState::Broken);
        if ours {
            match netns::delete_named(name) {
                Ok(()) => outcome.namespaces_removed.push(name.clone()),
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    match failures.is_empty() {
        true => Ok(outcome),
        false => Err(LabError::Invalid(failures.join("; "))),
    }
}
