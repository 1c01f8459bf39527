//! Every lab on this host, found from the marks on its namespaces' loopbacks (`show --labs`):
//! no state file. The panel's loopback also carries the path of the file last brought up, in
//! its alias (`ip -n LAB.panel link show lo`), so a lab whose file was renamed, deleted or
//! now names another lab can be shown as orphaned, with the command that removes it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::LabError;
use super::desired::Desired;
use crate::netns::{self, Netns, NetnsError};
use crate::nl::link;
use crate::wire;

/// One lab found on this host.
#[derive(Debug, Clone, Serialize)]
pub struct LabSummary {
    /// The lab's name.
    pub lab: String,
    /// The host of the file this machine is, for a lab over several machines.
    pub host: Option<String>,
    /// The panel's namespace; `None` when only node namespaces are left.
    pub panel: Option<String>,
    /// The file last brought up (absolute), when the lab recorded it.
    pub file: Option<String>,
    /// Every node of the lab on this host: those whose namespaces it made and its `netns:`
    /// nodes (found from the panel ports' records), sorted.
    pub nodes: Vec<String>,
    /// The `netns:` nodes among `nodes`: existing namespaces the lab only reaches into.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub existing: Vec<String>,
    /// Wires and hubs in the panel.
    pub links: usize,
    /// `ok`, `degraded`, `broken` (the worst of its wires and hubs), `empty` (no links),
    /// `half` (no panel: an interrupted `up` or `down`).
    pub health: String,
    /// Why the lab has no file to run `up`/`down` with, when it has none.
    pub orphaned: Option<String>,
    /// Brought up from standard input (`patchwire up -`): no file to name, not orphaned.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_stdin: bool,
    /// The command that removes it.
    pub remove: String,
    /// Container nodes whose container does not run as registered (stopped, gone,
    /// restarted), with what brings each back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<super::containers::StaleNode>,
}

/// The labs on this host, by name and host.
pub fn list() -> Result<Vec<LabSummary>, LabError> {
    list_with(&super::Options::default())
}

/// [`list`] with options: the container runtime asked about container nodes (`-r`).
pub fn list_with(options: &super::Options) -> Result<Vec<LabSummary>, LabError> {
    let mut labs: BTreeMap<(String, Option<String>), LabSummary> = BTreeMap::new();
    for name in netns::named() {
        let Some(lo) = loopback(&name)? else {
            continue;
        };
        for mark in &lo.altnames {
            let Some(found) = parse_mark(mark) else {
                continue;
            };
            let key = (found.lab.clone(), found.host.clone());
            let entry = labs.entry(key).or_insert_with(|| LabSummary {
                lab: found.lab.clone(),
                host: found.host.clone(),
                panel: None,
                file: None,
                nodes: Vec::new(),
                existing: Vec::new(),
                links: 0,
                health: "half".into(),
                orphaned: None,
                from_stdin: false,
                remove: String::new(),
                stale: Vec::new(),
            });
            match found.node {
                Some(node) => entry.nodes.push(node),
                None => {
                    entry.panel = Some(name.clone());
                    entry.file = lo.alias.clone().filter(|a| a.starts_with('/'));
                    entry.from_stdin = lo.alias.as_deref() == Some(STDIN_RECORD);
                    // A lab taken down meanwhile is not an error of the listing.
                    let (links, health) =
                        panel_health(&name).unwrap_or_else(|e| (0, format!("unreadable: {e}")));
                    entry.links = links;
                    entry.health = health;
                    entry.existing = port_nodes(&name);
                }
            }
        }
    }
    let mut labs: Vec<LabSummary> = labs.into_values().collect();
    for lab in &mut labs {
        // A node with a port but no namespace of the lab's own is a `netns:` node.
        let made = lab.nodes.clone();
        lab.existing.retain(|n| !made.contains(n));
        lab.nodes.extend(lab.existing.iter().cloned());
        lab.nodes.sort();
        lab.orphaned = orphaned(lab);
        // Bridge and host nodes (and the host side of `type: host` links) have ports too, but
        // they are the host's namespace, not `netns:` nodes: the file tells.
        if let (None, Some(path)) = (&lab.orphaned, &lab.file)
            && let Ok(file) = super::file::load(path)
        {
            lab.existing
                .retain(|n| match file.nodes.get(n).map(|spec| &spec.kind) {
                    Some(
                        super::file::NodeKind::Bridge
                        | super::file::NodeKind::Host
                        | super::file::NodeKind::Container(_)
                        | super::file::NodeKind::ExtContainer(_),
                    ) => false,
                    None => n != super::names::HOST_NODE,
                    Some(_) => true,
                });
            // Container nodes are counted by their registrations (a lab of containers and no
            // links has no ports to find them by).
            let registered = netns::named();
            for (node, spec) in &file.nodes {
                let container = match &spec.kind {
                    super::file::NodeKind::Container(c) => &c.spec.name,
                    super::file::NodeKind::ExtContainer(e) => &e.container,
                    _ => continue,
                };
                if super::containers::here(spec.host.as_deref(), lab.host.as_deref())
                    && registered.contains(container)
                    && !lab.nodes.contains(node)
                {
                    lab.nodes.push(node.clone());
                }
            }
            lab.nodes.sort();
        }
        // With its file, the lab's health is `show --lab`'s: a VM link with no VM is degraded
        // there (its second wire, in the node, says so), not in the panel alone.
        if let (None, Some(path), Some(_)) = (&lab.orphaned, &lab.file, &lab.panel)
            && let Ok(file) = super::file::load(path)
            && let Ok((views, stale)) = super::show_with(&file, lab.host.as_deref(), options)
        {
            // A node whose container is stopped, gone or restarted: the lab is not whole,
            // links or not.
            if !stale.is_empty() && matches!(lab.health.as_str(), "ok" | "empty") {
                lab.health = "degraded".into();
            }
            lab.stale = stale;
            let rank = |h: &str| match h {
                "ok" => 1,
                "degraded" => 2,
                "missing" => 3,
                "broken" => 4,
                _ => 0,
            };
            if let Some(worst) = views
                .iter()
                .map(|v| v.health.as_str())
                .max_by_key(|h| rank(h))
                && rank(worst) > 0
            {
                lab.health = worst.to_string();
            }
        }
        let host = lab
            .host
            .as_deref()
            .map(|h| format!(" --host {h}"))
            .unwrap_or_default();
        lab.remove = match (&lab.orphaned, &lab.file) {
            (None, Some(file)) => format!("patchwire down {file}{host}"),
            _ => format!("patchwire down --name {}{host}", lab.lab),
        };
    }
    Ok(labs)
}

/// A running lab's panel as its loopback records it: what a command acting on one lab looks
/// for (`impair`/`cut`/`mend`/`watch --lab`), without [`list`]'s health and files.
pub(super) struct PanelRecord {
    /// The lab's name.
    pub lab: String,
    /// The panel namespace's name.
    pub panel: String,
    /// The file last brought up (absolute), when recorded.
    pub file: Option<String>,
}

/// The labs' panels on this host. Only namespaces named as panels are entered
/// (`names::panel`: `LAB.panel[.HOST]`), so the cost follows the labs, not every namespace.
pub(super) fn panels() -> Result<Vec<PanelRecord>, LabError> {
    let mut found = Vec::new();
    for name in netns::named().into_iter().filter(|n| n.contains(".panel")) {
        let Some(lo) = loopback(&name)? else {
            continue;
        };
        for mark in &lo.altnames {
            if let Some(Mark {
                lab, node: None, ..
            }) = parse_mark(mark)
            {
                found.push(PanelRecord {
                    lab,
                    panel: name.clone(),
                    file: lo.alias.clone().filter(|a| a.starts_with('/')),
                });
            }
        }
    }
    // As `list` orders them: a lab's panel without a host before its hosts' panels.
    found.sort_by(|a, b| (&a.lab, &a.panel).cmp(&(&b.lab, &b.panel)));
    Ok(found)
}

/// What the panel's loopback records for a lab brought up from standard input (`up -`).
const STDIN_RECORD: &str = "<stdin>";

/// Records the lab file's absolute path on the panel's loopback (its alias), for
/// `show --labs`. Best effort: a lab works without it, and a path longer than an alias
/// (255 bytes) is not recorded.
pub fn record_file(desired: &Desired, path: &str) {
    let absolute = match path {
        "-" | "<stdin>" => std::path::PathBuf::from(STDIN_RECORD),
        _ => match std::fs::canonicalize(path) {
            Ok(absolute) => absolute,
            Err(_) => return,
        },
    };
    let Some(absolute) = absolute.to_str().filter(|p| p.len() <= 255) else {
        return;
    };
    let Ok(panel) = Netns::open(Some(&desired.panel)) else {
        return;
    };
    let Ok(mut socket) = panel.route() else {
        return;
    };
    let Ok(lo) = link::parse_one(socket.request_raw(link::get_by_name("lo"), 0)) else {
        return;
    };
    if lo.alias.as_deref() != Some(absolute) {
        let _ = socket.batch(vec![(link::set_alias_and_up(lo.index, absolute, true), 0)]);
    }
}

/// A lab name as the file reader accepts it (so `--name` cannot reach outside the lab's own
/// marks and namespaces).
pub fn check_lab_name(lab: &str) -> Result<(), LabError> {
    let ok = !lab.is_empty()
        && lab.len() <= 32
        && lab
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match ok {
        true => Ok(()),
        false => Err(LabError::Invalid(format!(
            "--name {lab:?}: not a lab name (1-32 characters from A-Z a-z 0-9 _ -)"
        ))),
    }
}

struct Mark {
    lab: String,
    node: Option<String>,
    host: Option<String>,
}

/// `patchwire.lab.LAB.panel[.HOST]` or `patchwire.lab.LAB.node.NODE[.HOST]` (names.rs).
fn parse_mark(mark: &str) -> Option<Mark> {
    let rest = mark.strip_prefix(crate::marks::LAB_RECORD)?;
    let parts: Vec<&str> = rest.split('.').collect();
    let host = |i: usize| parts.get(i).map(|h| h.to_string());
    match parts.as_slice() {
        [lab, "panel"] | [lab, "panel", _] => Some(Mark {
            lab: lab.to_string(),
            node: None,
            host: host(2),
        }),
        [lab, "node", node] | [lab, "node", node, _] => Some(Mark {
            lab: lab.to_string(),
            node: Some(node.to_string()),
            host: host(3),
        }),
        _ => None,
    }
}

/// A namespace's loopback; `None` for a name that is not a usable namespace (not ours to
/// judge here). Entering needs CAP_SYS_ADMIN: that is an error, not "no lab".
fn loopback(name: &str) -> Result<Option<link::Link>, LabError> {
    let netns = match Netns::open(Some(name)) {
        Ok(netns) => netns,
        Err(NetnsError::NotFound { .. } | NetnsError::NotANetns { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut socket = match netns.route() {
        Ok(socket) => socket,
        Err(NetnsError::Enter { source, .. })
            if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) =>
        {
            return Err(LabError::Invalid(format!(
                "entering netns {name}: {source}: listing labs needs CAP_SYS_ADMIN (run as root)"
            )));
        }
        Err(_) => return Ok(None),
    };
    Ok(link::parse_one(socket.request_raw(link::get_by_name("lo"), 0)).ok())
}

/// The nodes the panel's ports stand for (from their records), sorted, each once.
fn port_nodes(panel: &str) -> Vec<String> {
    let Ok(mut socket) = Netns::open(Some(panel)).and_then(|n| n.route()) else {
        return Vec::new();
    };
    let Ok(links) = link::list(&mut socket) else {
        return Vec::new();
    };
    let nodes: std::collections::BTreeSet<String> = links
        .iter()
        .flat_map(|l| &l.altnames)
        .filter_map(|a| super::names::parse_port_record(a))
        .map(|e| e.node)
        .collect();
    nodes.into_iter().collect()
}

/// (wires + hubs, worst health) of a panel.
fn panel_health(panel: &str) -> Result<(usize, String), LabError> {
    let netns = Netns::open(Some(panel))?;
    let wires = wire::show(netns.try_clone()?)?;
    let hubs = crate::hub::show(netns.try_clone()?)?;
    let healths = wires
        .iter()
        .map(|w| w.health)
        .chain(hubs.iter().map(|h| h.health));
    let worst = healths.clone().max();
    let count = wires.len() + hubs.len();
    Ok((
        count,
        worst.map_or_else(|| "empty".to_string(), |h| h.to_string()),
    ))
}

/// Why `patchwire down FILE` cannot remove the lab any more, if it cannot.
fn orphaned(lab: &LabSummary) -> Option<String> {
    if lab.from_stdin {
        return None;
    }
    let Some(path) = &lab.file else {
        return Some(match &lab.panel {
            Some(_) => "no file recorded (brought up by an older patchwire)".into(),
            None => "no panel: left by an interrupted up or down".into(),
        });
    };
    match super::file::load(path) {
        Err(_) if !std::path::Path::new(path).exists() => Some(format!("{path} is gone")),
        Err(e) => Some(format!("{path} does not read as a lab file any more: {e}")),
        Ok(file) if file.name != lab.lab => {
            Some(format!("{path} now names lab {} (renamed)", file.name))
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_name_the_lab_its_node_and_host() {
        let panel = parse_mark("patchwire.lab.t1.panel").unwrap();
        assert_eq!(
            (panel.lab.as_str(), panel.node, panel.host),
            ("t1", None, None)
        );
        let node = parse_mark("patchwire.lab.t1.node.r1.a").unwrap();
        assert_eq!(
            (
                node.lab.as_str(),
                node.node.as_deref(),
                node.host.as_deref()
            ),
            ("t1", Some("r1"), Some("a"))
        );
        assert!(parse_mark("patchwire.port.r1.eth1").is_none());
        assert!(parse_mark("patchwire.lab.t1.other").is_none());
        assert!(check_lab_name("t1-x_2").is_ok());
        assert_eq!(
            check_lab_name("../x").unwrap_err().to_string(),
            "--name \"../x\": not a lab name (1-32 characters from A-Z a-z 0-9 _ -)"
        );
    }
}
