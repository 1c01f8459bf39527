//! Container runtimes: podman and docker, found on the host and driven through their own
//! command-line clients with JSON output, as tools of their ecosystems do (kind drives docker
//! and podman this way, podman-compose drives podman). patchwire never runs a container
//! itself: the runtime creates, starts, inspects, execs and removes; patchwire wires the
//! network namespace the runtime made.
//!
//! This room sits below `lab` (which maps a lab file's container nodes onto [`ContainerSpec`])
//! and above `netns` (a running container's namespace is registered under /run/netns by name).
//!
//! The record of what runs is the runtime's own: labels on the containers (`marks::
//! CONTAINER_LAB_LABEL`…) and on a management network the lab created. There is no state file.
//!
//! Whatever a machine needs to run containers at all (podman's OCI runtime, default ulimits,
//! storage) is the user's runtime configuration (containers.conf, `CONTAINERS_CONF`,
//! storage.conf, `DOCKER_HOST`): patchwire adds no flags of its own beyond what the lab file
//! asks for, except `PATCHWIRE_PODMAN_ARGS`/`PATCHWIRE_DOCKER_ARGS` when a user sets them.
//!
//! Files: the runtime's choice and errors here; child processes bounded in time (`command.rs`);
//! containers (`container.rs`); management networks (`network.rs`); the spec (`spec.rs`).

mod command;
mod container;
mod network;
pub mod spec;

pub use container::{Container, ExecOutput, digest, spec_hash};
pub use spec::{ContainerSpec, NetworkSpec};

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// Which runtime drives container nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// podman (its CLI: `podman`).
    Podman,
    /// docker (its CLI: `docker`, talking to the daemon `DOCKER_HOST` names).
    Docker,
}

impl Kind {
    /// The runtime's name, as `--runtime` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Podman => "podman",
            Kind::Docker => "docker",
        }
    }

    /// The environment variable that names the client program, and the one that adds
    /// arguments before every subcommand.
    fn env(self) -> (&'static str, &'static str) {
        match self {
            Kind::Podman => ("PATCHWIRE_PODMAN", "PATCHWIRE_PODMAN_ARGS"),
            Kind::Docker => ("PATCHWIRE_DOCKER", "PATCHWIRE_DOCKER_ARGS"),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `--runtime`: a runtime asked for by name, or the first that answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// docker if its daemon answers, else podman (containerlab's default is docker too).
    #[default]
    Auto,
    /// This one, or an error saying why not.
    Only(Kind),
}

/// A runtime found on this host: its kind, the client program, and extra arguments the user
/// set for every call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runtime {
    /// podman or docker.
    pub kind: Kind,
    /// The client program that answered.
    pub program: PathBuf,
    /// `PATCHWIRE_PODMAN_ARGS` / `PATCHWIRE_DOCKER_ARGS`, split at whitespace: global options
    /// put before every subcommand (`--runtime runc` on a machine whose podman needs it).
    pub global_args: Vec<String>,
    /// Its version, as it reported it (docker's daemon's, podman's client's), for messages.
    pub version: String,
}

/// Why a runtime call failed. Every message names the runtime and what it was doing; the
/// runtime's own words (its stderr) follow.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No runtime answered.
    #[error("no container runtime found: {tried}")]
    NotFound {
        /// What was tried and why each failed, in words.
        tried: String,
    },
    /// The program could not be started.
    #[error("{runtime}: {doing}: running {program}: {source}")]
    Spawn {
        /// The runtime.
        runtime: Kind,
        /// What was being done.
        doing: String,
        /// The program.
        program: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// The program did not finish in time (it was killed).
    #[error("{runtime}: {doing}: no answer within {} s (killed `{command}`); is the runtime hung?", .after.as_secs())]
    Timeout {
        /// The runtime.
        runtime: Kind,
        /// What was being done.
        doing: String,
        /// The command line.
        command: String,
        /// The bound.
        after: Duration,
    },
    /// The program said no.
    #[error("{runtime}: {doing}: {}", stderr_words(.stderr, *.status))]
    Failed {
        /// The runtime.
        runtime: Kind,
        /// What was being done.
        doing: String,
        /// Its exit status.
        status: i32,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// The program's answer could not be read.
    #[error("{runtime}: {doing}: unexpected answer: {problem}")]
    Answer {
        /// The runtime.
        runtime: Kind,
        /// What was being done.
        doing: String,
        /// What was wrong with it.
        problem: String,
    },
}

fn stderr_words(stderr: &str, status: i32) -> String {
    match stderr.trim() {
        "" => format!("exit status {status}"),
        words => words.to_string(),
    }
}

/// How long one runtime call may take (create, start, inspect, remove…). A runtime that has to
/// unpack a large image on create can take a while; one that says nothing for this long is hung.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an `exec:` command may run.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(300);
/// How long asking whether a runtime answers may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds the runtime to use: `Only(kind)` is that one or an error saying why not; `Auto` is
/// docker when its daemon answers (`DOCKER_HOST` honoured), else podman; when neither, the
/// error names what was tried and what each said.
pub fn find(choice: Choice) -> Result<Runtime, RuntimeError> {
    let kinds: &[Kind] = match choice {
        Choice::Auto => &[Kind::Docker, Kind::Podman],
        Choice::Only(Kind::Docker) => &[Kind::Docker],
        Choice::Only(Kind::Podman) => &[Kind::Podman],
    };
    let mut tried = Vec::new();
    for kind in kinds {
        match candidates(*kind) {
            Err(why) => tried.push(format!("{kind}: {why}")),
            Ok(programs) => {
                for program in programs {
                    let mut runtime = Runtime {
                        kind: *kind,
                        program: program.clone(),
                        global_args: global_args(*kind),
                        version: String::new(),
                    };
                    match runtime.answers() {
                        Ok(version) => {
                            runtime.version = version;
                            return Ok(runtime);
                        }
                        Err(e) => tried.push(format!("{}: {e}", program.display())),
                    }
                }
            }
        }
    }
    let hint = match choice {
        Choice::Auto => {
            " (install podman or docker; for docker, start its daemon or set DOCKER_HOST; or \
             choose one with --runtime)"
        }
        Choice::Only(_) => "",
    };
    Err(RuntimeError::NotFound {
        tried: format!("{}{hint}", tried.join("; ")),
    })
}

/// The runtime `kind` through the client program `program` (a wrapper script that sets the
/// runtime's environment, say), if it answers.
pub fn at(kind: Kind, program: &Path) -> Result<Runtime, RuntimeError> {
    let mut runtime = Runtime {
        kind,
        program: program.to_path_buf(),
        global_args: global_args(kind),
        version: String::new(),
    };
    runtime.version = runtime.answers()?;
    Ok(runtime)
}

/// The programs that could be `kind`'s client: `PATCHWIRE_PODMAN`/`PATCHWIRE_DOCKER` when set,
/// else every one of that name on PATH, in PATH's order.
fn candidates(kind: Kind) -> Result<Vec<PathBuf>, String> {
    let (program_var, _) = kind.env();
    if let Some(program) = std::env::var_os(program_var).filter(|p| !p.is_empty()) {
        return Ok(vec![PathBuf::from(program)]);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut found: Vec<PathBuf> = Vec::new();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(kind.name());
        if is_executable(&candidate) {
            let real = std::fs::canonicalize(&candidate).unwrap_or(candidate.clone());
            if !found
                .iter()
                .any(|f| std::fs::canonicalize(f).unwrap_or(f.clone()) == real)
            {
                found.push(candidate);
            }
        }
    }
    match found.is_empty() {
        true => Err(format!("no {} program on PATH", kind.name())),
        false => Ok(found),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn global_args(kind: Kind) -> Vec<String> {
    let (_, args_var) = kind.env();
    std::env::var(args_var)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

impl Runtime {
    /// Whether the runtime answers: docker's daemon (`docker version` asks the server too),
    /// podman's client; its version.
    fn answers(&self) -> Result<String, RuntimeError> {
        let format = match self.kind {
            Kind::Docker => "{{.Server.Version}}",
            Kind::Podman => "{{.Client.Version}}",
        };
        let out = self.call(
            "asking whether it answers",
            &["version", "--format", format],
            PROBE_TIMEOUT,
        )?;
        match out.trim() {
            "" => Err(self.answer_error("asking whether it answers", "no version reported")),
            version => Ok(version.to_string()),
        }
    }

    /// `PROGRAM [global args] ARGS`, bounded by `timeout`: stdout on success, else the
    /// runtime's stderr in the error.
    fn call(&self, doing: &str, args: &[&str], timeout: Duration) -> Result<String, RuntimeError> {
        let out = self.run(doing, args, timeout)?;
        match out.status {
            0 => Ok(out.stdout),
            status => Err(self.failed(doing, status, &out.stderr)),
        }
    }

    /// `OBJECT inspect --format … NAME` (a container's, a network's): its stdout, or `None`
    /// when the runtime says there is no such object.
    fn inspect_object(
        &self,
        doing: &str,
        object: &str,
        name: &str,
    ) -> Result<Option<String>, RuntimeError> {
        let args = [object, "inspect", "--format", self.inspect_format(), name];
        let out = self.run(doing, &args, CALL_TIMEOUT)?;
        match out.status {
            0 => Ok(Some(out.stdout)),
            _ if says_missing(&out.stderr) => Ok(None),
            status => Err(self.failed(doing, status, &out.stderr)),
        }
    }

    /// A call that exited with `status`, the runtime's words on stderr in the error.
    fn failed(&self, doing: &str, status: i32, stderr: &str) -> RuntimeError {
        RuntimeError::Failed {
            runtime: self.kind,
            doing: doing.to_string(),
            status,
            stderr: stderr.trim().to_string(),
        }
    }

    /// The same, with the exit status and both streams given back whatever the status.
    fn run(
        &self,
        doing: &str,
        args: &[&str],
        timeout: Duration,
    ) -> Result<command::Output, RuntimeError> {
        let mut all: Vec<&str> = self.global_args.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        command::run(&self.program, &all, timeout).map_err(|e| match e {
            command::Error::Spawn(source) => RuntimeError::Spawn {
                runtime: self.kind,
                doing: doing.to_string(),
                program: self.program.display().to_string(),
                source,
            },
            command::Error::Timeout => RuntimeError::Timeout {
                runtime: self.kind,
                doing: doing.to_string(),
                command: format!("{} {}", self.program.display(), all.join(" ")),
                after: timeout,
            },
        })
    }

    fn answer_error(&self, doing: &str, problem: impl Into<String>) -> RuntimeError {
        RuntimeError::Answer {
            runtime: self.kind,
            doing: doing.to_string(),
            problem: problem.into(),
        }
    }
}

/// Whether a runtime's stderr says the object does not exist (docker: "No such container",
/// "No such object", "network X not found"; podman: "no such container", "no such network",
/// "network not found").
fn says_missing(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("no such") || lower.contains("not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_objects_are_read_from_both_runtimes_words() {
        assert!(says_missing("Error: No such object: clab-x-a"));
        assert!(says_missing(
            "Error: no container with name or ID \"x\" found: no such container"
        ));
        assert!(says_missing(
            "Error response from daemon: network clab not found"
        ));
        assert!(!says_missing("Error: permission denied"));
    }

    #[test]
    fn a_failure_shows_the_runtimes_words_or_its_status() {
        let e = RuntimeError::Failed {
            runtime: Kind::Podman,
            doing: "starting container clab-x-a".into(),
            status: 125,
            stderr: "Error: OCI runtime error".into(),
        };
        assert_eq!(
            e.to_string(),
            "podman: starting container clab-x-a: Error: OCI runtime error"
        );
        let e = RuntimeError::Failed {
            runtime: Kind::Docker,
            doing: "removing container clab-x-a".into(),
            status: 1,
            stderr: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "docker: removing container clab-x-a: exit status 1"
        );
    }
}
