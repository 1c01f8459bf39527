//! Read-only: which panel port stands for a running lab's endpoint `NODE:IF`, for commands
//! that act on one (`impair --lab`, `cut --lab`, `mend --lab`, `watch --lab`). The lab is
//! found from the file's absolute path its panel's loopback records (`lab::list::panels`), else by
//! the file's name as `plan` and `up` find it; the port from its `patchwire.port.NODE.IF`
//! altname — no state file.

use std::path::Path;

use super::LabError;
use super::file::Endpoint;
use super::names;
use crate::netns::Netns;
use crate::nl::link;

/// A running lab's endpoint: its panel namespace and the panel port that stands for it.
pub struct PanelPort {
    /// The lab's name.
    pub lab: String,
    /// The panel namespace's name.
    pub panel: String,
    /// The panel namespace, open.
    pub netns: Netns,
    /// The port's name in it.
    pub port: String,
}

/// The panel namespace of the lab brought up from `file` on this host.
pub fn panel_of(file: &Path) -> Result<Netns, LabError> {
    let (_, panel) = running_lab(file)?;
    Ok(Netns::open(Some(&panel))?)
}

/// (lab, panel) of the lab of `file`: the one brought up from that very path, else the one
/// of the file's name (as `plan` and `up` find it: a copy of the file, or the file moved, is
/// the same lab).
fn running_lab(file: &Path) -> Result<(String, String), LabError> {
    let absolute = std::fs::canonicalize(file)
        .map_err(|e| LabError::Invalid(format!("reading lab file {}: {e}", file.display())))?;
    let absolute = absolute.to_string_lossy().into_owned();
    let labs = super::list::panels()?;
    let found = |lab: &super::list::PanelRecord| (lab.lab.clone(), lab.panel.clone());
    if let Some(found) = labs
        .iter()
        .find(|l| l.file.as_deref() == Some(absolute.as_str()))
        .map(found)
    {
        return Ok(found);
    }
    let name = super::file::load(&file.to_string_lossy())?.name;
    match labs.iter().find(|l| l.lab == name).map(found) {
        Some(found) => Ok(found),
        None => Err(LabError::Invalid(format!(
            "lab {name} (from {}) does not run on this host (patchwire show --labs lists them; \
             patchwire up {} starts it)",
            file.display(),
            file.display()
        ))),
    }
}

/// The panel port of `endpoint` (`NODE:IF`) in the lab brought up from `file` on this host.
pub fn panel_port(file: &Path, endpoint: &str) -> Result<PanelPort, LabError> {
    let Some((node, interface)) = endpoint.split_once(':') else {
        return Err(LabError::Invalid(format!(
            "\"{endpoint}\" is not an endpoint: with --lab, name it NODE:IF as in the lab file"
        )));
    };
    let wanted = Endpoint {
        node: node.into(),
        interface: interface.into(),
    };
    let (lab_name, panel) = running_lab(file)?;
    let netns = Netns::open(Some(&panel))?;
    let mut socket = netns.route()?;
    let record = names::port_record(&wanted);
    let links = link::list(&mut socket)
        .map_err(|e| LabError::Invalid(format!("listing the ports of {panel}: {e}")))?;
    match links.iter().find(|l| l.altnames.contains(&record)) {
        Some(port) => Ok(PanelPort {
            lab: lab_name.clone(),
            panel,
            netns,
            port: port.name.clone(),
        }),
        None => {
            let mut known: Vec<String> = links
                .iter()
                .flat_map(|l| l.altnames.iter())
                .filter_map(|a| names::parse_port_record(a))
                .map(|e| format!("{}:{}", e.node, e.interface))
                .collect();
            known.sort();
            if let Some(members) = hub_side_members(file, &wanted) {
                return Err(LabError::Invalid(format!(
                    "{endpoint} is the hub node's side of its link in {} ({} is kind: hub, with \
                     no port of its own in lab {lab_name}): name the member endpoint of that link \
                     instead: {}",
                    file.display(),
                    wanted.node,
                    members.join(", ")
                )));
            }
            Err(LabError::Invalid(format!(
                "{endpoint} is no endpoint of lab {} on this host (its endpoints: {})",
                lab_name,
                known.join(", ")
            )))
        }
    }
}

/// When `endpoint` is a `kind: hub` node's side of a link in the lab file: the link's other
/// endpoints (the members, each with a panel port of its own). `None` when it is not, or the
/// file does not read (the plain "no endpoint" message stands then).
fn hub_side_members(file: &Path, endpoint: &Endpoint) -> Option<Vec<String>> {
    let lab = super::file::load(&file.to_string_lossy()).ok()?;
    let is_hub = |e: &Endpoint| {
        lab.nodes
            .get(&e.node)
            .is_some_and(|n| matches!(n.kind, super::file::NodeKind::Hub))
    };
    if !is_hub(endpoint) {
        return None;
    }
    let link = lab.links.iter().find(|l| l.endpoints.contains(endpoint))?;
    let members: Vec<String> = link
        .endpoints
        .iter()
        .filter(|e| !is_hub(e))
        .map(ToString::to_string)
        .collect();
    (!members.is_empty()).then_some(members)
}
