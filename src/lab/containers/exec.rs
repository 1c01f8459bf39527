//! `exec:` commands: split as containerlab splits them (no shell), checked by `plan`, run by
//! `up` once per container namespace (a mark on its loopback), listed while pending.

use super::*;

/// The output of one `exec:` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecResult {
    /// The node it ran in.
    pub node: String,
    /// The command as written.
    pub command: String,
    /// Its exit status.
    pub exit: i32,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
}

impl ExecResult {
    /// The failure in words, for a command that did not exit 0.
    pub fn failure(&self) -> Option<String> {
        (self.exit != 0).then(|| {
            format!(
                "node {}: exec `{}` exited with status {}",
                self.node, self.command, self.exit
            )
        })
    }
}

/// Runs the `exec:` commands of every container and ext-container node here whose namespace
/// has not run them yet, node after node, each command in order, and then marks that
/// namespace's loopback (`marks::CONTAINER_EXEC_RECORD`): a container made anew (a new
/// namespace) runs them again, one left running does not, and a container an `up` killed
/// half-way started gets them on the next `up`. A failing command does not stop the rest.
pub(in crate::lab) fn run_exec(
    runtime: Option<&Runtime>,
    file: &LabFile,
    host: Option<&str>,
) -> Result<Vec<ExecResult>, LabError> {
    let Some(runtime) = runtime else {
        return Ok(Vec::new());
    };
    let mut results = Vec::new();
    for (node, spec) in &file.nodes {
        if !here(spec.host.as_deref(), host) {
            continue;
        }
        let (container, exec, shares_host, record) = match &spec.kind {
            NodeKind::Container(c) => (
                &c.spec.name,
                &c.exec,
                c.spec.network_mode.as_deref() == Some("host"),
                exec_record(c.spec.network_mode.as_deref(), node),
            ),
            NodeKind::ExtContainer(e) => (&e.container, &e.exec, false, exec_record(None, node)),
            _ => continue,
        };
        // A container on the host's network has no namespace of its own to mark (the host's
        // loopback is not the lab's to touch): its commands run on every `up`.
        if exec.is_empty() || (!shares_host && exec_done(container, &record)?) {
            continue;
        }
        for command in exec {
            // Checked by `plan` already: a command that does not split is refused there.
            let argv = exec_words(command).unwrap_or_default();
            let result = match runtime.exec(container, &argv, command) {
                Ok(out) => ExecResult {
                    node: node.clone(),
                    command: command.clone(),
                    exit: out.exit,
                    stdout: out.stdout,
                    stderr: out.stderr,
                },
                Err(e) => ExecResult {
                    node: node.clone(),
                    command: command.clone(),
                    exit: -1,
                    stdout: String::new(),
                    stderr: e.to_string(),
                },
            };
            results.push(result);
        }
        if !shares_host {
            mark_exec_done(container, &record)?;
        }
    }
    Ok(results)
}

/// An `exec:` command split into the program and its arguments under a shell's quoting rules
/// (`shlex`), run without a shell, as containerlab does (its `exec.NewExecCmdFromString`):
/// `echo a; echo $X` echoes those words as written. A command that needs a shell says so
/// (`sh -c '…'`). `None`: unbalanced quotes, a trailing backslash, or no words at all.
pub(super) fn exec_words(command: &str) -> Option<Vec<String>> {
    shlex::split(command).filter(|words| !words.is_empty())
}

/// Refuses, before anything changes, an `exec:` command of a node here that does not split
/// into words.
pub(super) fn check_exec(file: &LabFile, host: Option<&str>) -> Result<(), LabError> {
    for (node, spec) in &file.nodes {
        if !here(spec.host.as_deref(), host) {
            continue;
        }
        let exec = match &spec.kind {
            NodeKind::Container(c) => &c.exec,
            NodeKind::ExtContainer(e) => &e.exec,
            _ => continue,
        };
        if let Some(bad) = exec.iter().find(|c| exec_words(c).is_none()) {
            return Err(LabError::Invalid(format!(
                "{}: node {node}: exec `{bad}`: cannot split it into words (an unbalanced \
                 quote, a trailing backslash, or nothing at all); exec commands are split as \
                 a shell would and run without one, as containerlab runs them",
                node_at(file, node)
            )));
        }
    }
    Ok(())
}

/// Whether a running, registered container node's `exec:` commands are still to run in its
/// namespace. A container on the host's network runs them on every `up`: not listed.
pub(super) fn pending_exec(
    exec: &[String],
    spec: &ContainerSpec,
    node: &str,
) -> Result<bool, LabError> {
    if exec.is_empty() || spec.network_mode.as_deref() == Some("host") {
        return Ok(false);
    }
    let record = exec_record(spec.network_mode.as_deref(), node);
    Ok(!exec_done(&spec.name, &record)?)
}

/// The loopback altname that says a node's commands ran in its namespace: the namespace's
/// own (`marks::CONTAINER_EXEC_RECORD`), or, for a node sharing another container's
/// namespace (`network-mode: container:…`), one with the node's name after it — else the
/// first of them to run would mark the others' as run too.
pub(super) fn exec_record(network_mode: Option<&str>, node: &str) -> String {
    match network_mode.is_some_and(|m| m.starts_with("container:")) {
        true => format!("{CONTAINER_EXEC_RECORD}.{node}"),
        false => CONTAINER_EXEC_RECORD.to_string(),
    }
}

pub(super) fn exec_done(name: &str, record: &str) -> Result<bool, LabError> {
    let (_, lo) = loopback(name)?;
    Ok(lo.altnames.iter().any(|a| a == record))
}

pub(super) fn mark_exec_done(name: &str, record: &str) -> Result<(), LabError> {
    let (mut socket, lo) = loopback(name)?;
    let (message, flags) = crate::nl::link::altname(lo.index, record, true);
    socket.request(message, flags).map_err(|e| {
        LabError::system(
            format!("marking netns {name}'s loopback ({record}): {e}"),
            e,
        )
    })?;
    Ok(())
}
