//! `show`'s view of container nodes whose container does not run as registered (stopped,
//! gone, restarted, or not in the runtime asked).

use super::*;

/// A container or ext-container node whose links cannot pass frames although the kernel
/// holds them: its container stopped (its registration under /run/netns keeps the old
/// namespace, with the link ends in it, alive), was removed, or was restarted (the
/// registration names its old namespace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleNode {
    /// The node.
    pub node: String,
    /// Its container.
    pub container: String,
    /// `stopped`, `gone`, `restarted`, or `unknown` (the runtime asked has none of the lab's
    /// containers, but a process runs in the node's registered namespace: another runtime's?).
    pub state: String,
    /// What is wrong and what brings it back, in words.
    pub problem: String,
}

/// The container and ext-container nodes here whose container does not run as registered
/// (`show --lab`, `show --labs`). Only nodes the lab brought up count: a registration under
/// /run/netns, or (container nodes) a container of the lab's; a lab that is not up has
/// nothing stale (its links are `missing`). The runtime asked is `options`'s; by default the
/// one holding the lab's containers (docker first, as `up` picks), so a podman lab on a host
/// where docker answers too is not taken for gone. No runtime answering is nothing to say.
pub(in crate::lab) fn stale_nodes(
    file: &LabFile,
    host: Option<&str>,
    options: &crate::lab::Options,
) -> Vec<StaleNode> {
    let nodes: Vec<(&String, String, bool)> = file
        .nodes
        .iter()
        .filter(|(_, spec)| here(spec.host.as_deref(), host))
        .filter_map(|(node, spec)| match &spec.kind {
            NodeKind::Container(c) => Some((node, c.spec.name.clone(), false)),
            NodeKind::ExtContainer(e) => Some((node, e.container.clone(), true)),
            _ => None,
        })
        .collect();
    if nodes.is_empty() {
        return Vec::new();
    }
    let Some((runtime, found, named)) = lab_runtime(file, host, options) else {
        return Vec::new();
    };
    // The command that brings the lab back, with what it needs to find the same runtime.
    let up = format!(
        "patchwire up {}{}{}",
        file.path,
        host.map(|h| format!(" --host {h}")).unwrap_or_default(),
        match named {
            true => format!(" -r {}", runtime.kind),
            false => String::new(),
        }
    );
    let mut stale = Vec::new();
    for (node, name, ext) in nodes {
        let registered = std::path::Path::new(NETNS_RUN_DIR).join(&name).exists();
        let container = match ext {
            true if !registered => continue,
            true => match runtime.inspect(&name) {
                Ok(c) => c,
                Err(_) => continue,
            },
            false => found.iter().find(|f| f.name == name).cloned(),
        };
        let kind = runtime.kind;
        let (state, problem) = match container {
            None if !registered => continue,
            None if ext => (
                "gone",
                format!(
                    "node {node}: ext-container {name} is gone: make it again (patchwire never \
                     starts an ext-container), then {up}"
                ),
            ),
            // The runtime asked holds none of the lab's containers, yet a process runs in the
            // registered namespace: the container may well run in another runtime (docker at
            // a socket of its own, say). `up` would make a second one: not advised.
            None if found.is_empty() && netns_in_use(&name) => {
                let other = match kind {
                    runtime::Kind::Podman => runtime::Kind::Docker,
                    runtime::Kind::Docker => runtime::Kind::Podman,
                };
                (
                    "unknown",
                    format!(
                        "node {node}: container {name}: not found in {kind}; its namespace is \
                         registered and a process runs in it — is it in another runtime? \
                         patchwire show --lab {}{} -r {other}",
                        file.path,
                        host.map(|h| format!(" --host {h}")).unwrap_or_default(),
                    ),
                )
            }
            None => (
                "gone",
                format!("node {node}: container {name} is gone: {up} makes it again"),
            ),
            Some(c) if !c.running || c.pid.is_none() => match ext {
                true => (
                    "stopped",
                    format!(
                        "node {node}: ext-container {name} is stopped: start it ({kind} start \
                         {name}), then {up}"
                    ),
                ),
                false => (
                    "stopped",
                    format!("node {node}: container {name} is stopped: {up} starts it again"),
                ),
            },
            // Running but not registered: `up` did not get that far; its links are missing.
            Some(_) if !registered => continue,
            Some(c) => {
                if c.pid.is_some_and(|pid| registered_as(&name, pid)) {
                    continue;
                }
                let what = if ext { "ext-container" } else { "container" };
                (
                    "restarted",
                    format!(
                        "node {node}: {what} {name} was restarted, and its links are still in \
                         its old namespace: {up} wires them again"
                    ),
                )
            }
        };
        stale.push(StaleNode {
            node: node.clone(),
            container: name,
            state: state.to_string(),
            problem,
        });
    }
    stale
}

/// The runtime to ask about a lab's containers, the lab's containers there, and whether a
/// command needs `-r` to find it again: the one `options` names, or by default the one
/// holding the lab's containers ([`holder`]; docker's when both do).
pub(super) fn lab_runtime(
    file: &LabFile,
    host: Option<&str>,
    options: &crate::lab::Options,
) -> Option<(Runtime, Vec<Container>, bool)> {
    if options.program.is_some() || options.runtime != Choice::Auto {
        let runtime = runtime_for(file, host, options).ok().flatten()?;
        let found = lab_containers(&runtime, &file.name, host).ok()?;
        return Some((runtime, found, options.runtime != Choice::Auto));
    }
    match holder(&file.name, host) {
        Ok(found) => found,
        // Both hold some: docker's are shown, with `-r docker` in the advice.
        Err(_) => answering(&file.name, host)
            .into_iter()
            .find(|(_, found)| !found.is_empty())
            .map(|(runtime, found)| (runtime, found, true)),
    }
}
