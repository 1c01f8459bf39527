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
pub use view::{GraphFormat, LinkView, graph, show};

use serde::Serialize;

use crate::netns::{self, NetnsError};
use crate::wire::WireError;
use file::LabFile;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    File(#[from] file::LabFileError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpOutcome {
    pub lab: String,
    pub host: Option<String>,
    pub changes: Vec<Change>,
}

/// What `up` would change, changing nothing: empty when the kernel matches the file.
pub fn plan(file: &LabFile, host: Option<&str>) -> Result<Vec<Change>, LabError> {
    let desired = Desired::from_file(file, host)?;
    let actual = observe::observe(&desired)?;
    let changes = plan::changes(&desired, &actual)?;
    apply::preflight(&desired, &changes)?;
    Ok(changes)
}

/// Makes the kernel match the file on this host: adds, removes and re-patches only what
/// differs. Running it twice changes nothing the second time.
pub fn up(file: &LabFile, host: Option<&str>) -> Result<UpOutcome, LabError> {
    let desired = Desired::from_file(file, host)?;
    let actual = observe::observe(&desired)?;
    let changes = plan::changes(&desired, &actual)?;
    // Whatever can still refuse (an underlay too small, an unknown tap owner) does so before
    // anything changes.
    apply::preflight(&desired, &changes)?;
    if !changes.is_empty() {
        apply::apply(&desired, &actual, &changes)?;
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
    pub namespaces_removed: Vec<String>,
    /// Stubs removed from namespaces the lab does not own (their interfaces given back).
    pub stubs_removed: Vec<String>,
}

/// Removes everything the lab made on this host — its namespaces (panel, nodes, with every
/// port, wire, hub and tunnel in them) and its stubs in other namespaces — and nothing else.
/// Works on a half-built lab; twice is fine.
pub fn down(file: &LabFile, host: Option<&str>) -> Result<DownOutcome, LabError> {
    let desired = Desired::from_file(file, host)?;
    let actual = observe::observe_marks(&desired)?;
    let mut outcome = DownOutcome::default();
    let mut failures = Vec::new();
    let owned: Vec<String> = desired
        .owned_namespaces()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for (spec, stub) in actual.stubs.keys() {
        // A stub in a namespace the lab owns goes with the namespace.
        if owned.contains(spec) {
            continue;
        }
        match apply::remove_stub(spec, stub) {
            Ok(()) => outcome.stubs_removed.push(format!("{spec}:{stub}")),
            Err(e) => failures.push(e.to_string()),
        }
    }
    for (name, state) in &actual.namespaces {
        let ours = matches!(state, observe::NsState::Ours | observe::NsState::Broken)
            || matches!(state, observe::NsState::Unmarked { empty: true });
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
