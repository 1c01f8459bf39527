//! Making the containers' part of the plan (`up`): the management network, removals,
//! creations a few at a time and in waves (a container sharing another's namespace after it),
//! a name taken meanwhile adopted or refused, then the namespaces registered.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::*;

/// How many containers are created and started at once: runtimes serialise much of their work
/// on locks of their own, and a few at a time already overlaps the rest.
const PARALLEL: usize = 4;

/// Makes the containers' part of the plan: the management network, removals (ports of the
/// node first, then the registration, then the container), creations (a few at once), and
/// registrations. Testing hook: `PATCHWIRE_LAB_KILL_AT=20` kills the process once the first
/// container is made (the others may be half-made), as `apply`'s stop points do.
pub(in crate::lab) fn apply(
    runtime: Option<&Runtime>,
    plan: &ContainerPlan,
    lab: &str,
    panel: &str,
) -> Result<(), LabError> {
    let Some(runtime) = runtime else {
        return Ok(());
    };
    if let Some(network) = &plan.network {
        runtime.ensure_network(network, lab)?;
    }
    // Ports whose far ends are in a namespace about to go or be replaced: deleted now, so the
    // plumbing makes them anew (the kernel would delete them only once it destroys the old
    // namespace, on its own time).
    delete_node_ports(panel, &plan.fresh)?;
    let removed: BTreeSet<String> = plan.removes.iter().map(|(n, _)| n.clone()).collect();
    delete_node_ports(panel, &removed)?;
    for (_, container) in &plan.removes {
        netns::delete_named(container)?;
    }
    let doomed: Vec<&str> = plan.removes.iter().map(|(_, c)| c.as_str()).collect();
    runtime.remove_many(&doomed)?;
    for network in &plan.drop_networks {
        runtime.remove_lab_network_if_unused(network)?;
    }
    let network = plan.network.as_ref().map(|n| n.name.as_str());
    let results = Mutex::new(Vec::new());
    let start =
        |creates: &[&(String, ContainerSpec)]| start_all(runtime, plan, creates, network, &results);
    // In waves: a container that shares another's network namespace (`network-mode:
    // container:NAME`) starts once that one runs.
    let mut waiting: Vec<&(String, ContainerSpec)> = plan.creates.iter().collect();
    while !waiting.is_empty() {
        let pending: BTreeSet<&str> = waiting.iter().map(|(_, s)| s.name.as_str()).collect();
        let (ready, later): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|(_, s)| shares_with(s).is_none_or(|o| !pending.contains(o)));
        if ready.is_empty() {
            // Containers that share each other's namespace: the runtime says what it thinks.
            start(&later);
            break;
        }
        start(&ready);
        waiting = later;
    }
    // Each node's failure on a line of its own, where the node is written, with the runtime's
    // own words.
    let line = |node: &str, why: &str| {
        let at = plan.at.get(node).map_or("", String::as_str);
        // The runtime's words may run over lines (podman's pull progress, then its error):
        // they follow, indented, so each node's failure starts a line of its own.
        // Left out: docker's "See 'docker run --help'." and podman's retry warnings (its
        // last line says the same).
        let why = why
            .trim()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| !(l.starts_with("See '") && l.ends_with(" --help'.")))
            .filter(|l| !(l.contains("level=warning") && l.contains("retrying in")))
            .collect::<Vec<_>>()
            .join("\n  ");
        format!("{at}: node {node}: {why}")
    };
    let mut results = results.into_inner().expect("results lock");
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let failed: BTreeSet<&str> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(node, _)| node.as_str())
        .collect();
    let mut failures: Vec<String> = results
        .iter()
        .filter_map(|(node, r)| r.as_ref().err().map(|e| line(node, e)))
        .collect();
    // One inspection for all that started (a call per container would cost as much again
    // as the runtime's own work on a busy host), then their namespaces registered.
    let names: Vec<&str> = plan.creates.iter().map(|(_, s)| s.name.as_str()).collect();
    let running = runtime.inspect_many(&names)?;
    for (node, spec) in &plan.creates {
        let Some(found) = running.iter().find(|c| c.name == spec.name) else {
            continue; // failed above
        };
        if failed.contains(node.as_str()) {
            continue; // said above (someone else's container under its name, say)
        }
        match found.pid {
            Some(pid) => {
                let registered = netns::register(&spec.name, pid)
                    .map_err(LabError::from)
                    .and_then(|_| mark_registered(&spec.name, lab));
                if let Err(e) = registered {
                    failures.push(line(node, &e.to_string()));
                }
            }
            None => failures.push(line(
                node,
                &format!(
                    "{}: container {} exited right after it started (see {} logs {})",
                    runtime.kind, spec.name, runtime.kind, spec.name
                ),
            )),
        }
    }
    if !failures.is_empty() {
        return Err(LabError::Invalid(failures.join("\n")));
    }
    for (_, container, pid) in &plan.registers {
        netns::register(container, *pid)?;
        mark_registered(container, lab)?;
    }
    Ok(())
}

/// Creates and starts the containers of `creates` (or starts those of `plan.starts`), a few
/// at a time, each node's result in `results`.
fn start_all(
    runtime: &Runtime,
    plan: &ContainerPlan,
    creates: &[&(String, ContainerSpec)],
    network: Option<&str>,
    results: &Mutex<Vec<(String, Result<(), String>)>>,
) {
    let queue = Mutex::new(creates.iter().copied().collect::<VecDeque<_>>());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(creates.len()) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue lock").pop_front();
                    let Some((node, spec)) = next else {
                        break;
                    };
                    let made = match plan.starts.contains(&spec.name) {
                        true => runtime.start(&spec.name).map_err(|e| e.to_string()),
                        false => run_or_adopt(runtime, plan, node, spec, network),
                    };
                    results
                        .lock()
                        .expect("results lock")
                        .push((node.clone(), made));
                    crate::lab::apply::stop_point(20);
                }
            });
        }
    });
}

/// `run` the node's container; when its name is taken meanwhile (after `plan` listed the
/// containers: the `run` of an `up` killed a moment ago finished on its own), the container
/// found is adopted if it is the lab's node's — as the file says: kept, started when it does
/// not run; else removed and made again — and refused if it is anyone else's.
fn run_or_adopt(
    runtime: &Runtime,
    plan: &ContainerPlan,
    node: &str,
    spec: &ContainerSpec,
    network: Option<&str>,
) -> Result<(), String> {
    let taken = match runtime.run_detached(spec, network) {
        Ok(()) => return Ok(()),
        Err(e) if e.to_string().contains("already in use") => e,
        Err(e) => return Err(e.to_string()),
    };
    let Some(found) = runtime.inspect(&spec.name).map_err(|e| e.to_string())? else {
        return Err(taken.to_string());
    };
    let label = |c: &ContainerSpec, key: &str| c.labels.get(key).cloned();
    let ours = found.labels.get(CONTAINER_LAB_LABEL) == label(spec, CONTAINER_LAB_LABEL).as_ref()
        && found.labels.get(CONTAINER_NODE_LABEL) == label(spec, CONTAINER_NODE_LABEL).as_ref()
        && found.labels.get(CONTAINER_HOST_LABEL) == label(spec, CONTAINER_HOST_LABEL).as_ref();
    if !ours {
        let at = plan.at.get(node).map_or("", String::as_str);
        let host = label(spec, CONTAINER_HOST_LABEL);
        let refusal = not_ours(runtime, at, &plan.lab, node, &spec.name, host.as_deref());
        // The caller puts the place and node first.
        let why = refusal
            .split_once(&format!("node {node}: "))
            .map_or(refusal.clone(), |(_, rest)| rest.to_string());
        return Err(why);
    }
    let same = |key: &str| found.labels.get(key) == label(spec, key).as_ref();
    if same(CONTAINER_SPEC_LABEL) && same(CONTAINER_EXEC_LABEL) {
        return match found.running {
            true => Ok(()),
            false => runtime.start(&spec.name).map_err(|e| e.to_string()),
        };
    }
    runtime.remove(&spec.name).map_err(|e| e.to_string())?;
    runtime
        .run_detached(spec, network)
        .map_err(|e| e.to_string())
}

/// Deletes the panel ports of `nodes` (found by their records; their far ends go with them).
fn delete_node_ports(panel: &str, nodes: &BTreeSet<String>) -> Result<(), LabError> {
    if nodes.is_empty() {
        return Ok(());
    }
    let Ok(netns) = Netns::open(Some(panel)) else {
        return Ok(());
    };
    let mut socket = netns.route()?;
    let links = crate::nl::link::list(&mut socket)
        .map_err(|e| LabError::system(format!("listing the links of netns {panel}: {e}"), e))?;
    for found in links {
        let node = found
            .altnames
            .iter()
            .find_map(|a| names::parse_port_record(a))
            .map(|e| e.node);
        if node.is_some_and(|n| nodes.contains(&n)) {
            crate::lab::apply::delete_link(panel, &found.name)?;
        }
    }
    Ok(())
}
