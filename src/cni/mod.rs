//! patchwire as a chained CNI plugin (`patchwire-cni`): after a main plugin (bridge, ptp,
//! macvlan…) has made `CNI_IFNAME` in the container's namespace, it makes a tap there for the
//! VM (Kata, Firecracker, qemu) and joins the two with a patchwire wire — or, in wire mode,
//! joins `CNI_IFNAME` to another interface already there.
//!
//! This module is the protocol (spec 1.0 and 1.1, and the 0.3/0.4 results it passes through):
//! the `CNI_*` environment, the configuration on stdin, results and errors as JSON on stdout
//! (nothing else ever goes there), exit status 0 or 1. `config.rs` reads the configuration,
//! `attach.rs` does the kernel work with the same wires, taps and records as the rest of
//! patchwire.

mod attach;
pub mod config;

use serde::Serialize;
use serde_json::{Value, json};

pub use attach::{Attachment, made, record};
pub use config::{Config, Mode, SUPPORTED_VERSIONS};

/// The version replies use when the input names none.
const LATEST: &str = "1.1.0";

/// An error as the spec shapes it: a well-known code (1–99) or one of patchwire-cni's own
/// (100: CHECK found the attachment not as configured; 999: the kernel refused something).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CniError {
    /// The spec's error code.
    pub code: u32,
    /// A short message characterizing the error.
    pub msg: String,
    /// What exactly is wrong, naming the thing and the problem.
    pub details: String,
}

impl CniError {
    /// An error with `code`, a short `msg` and the `details`.
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }
}

/// What the plugin writes to stdout and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// JSON (a result, a version report, an error), or empty.
    pub stdout: String,
    /// 0 on success, 1 on error.
    pub exit: i32,
}

/// What `patchwire-cni` prints on stderr when run by hand (no `CNI_COMMAND`), as the
/// reference plugins do.
pub fn about() -> String {
    format!(
        "patchwire-cni {}: a chained CNI plugin that wires CNI_IFNAME to a new tap (for a VM) or to \
         another interface, with patchwire's transparent wires.\nCNI protocol versions supported: {}\n\
         It is run by a container runtime with CNI_COMMAND set; see docs/cni.md for configuration.",
        env!("CARGO_PKG_VERSION"),
        SUPPORTED_VERSIONS.join(", ")
    )
}

/// The most of stdin read. A configuration with its prevResult is a few KB; parsed JSON takes
/// up to 100 times its size in memory, so larger input is refused rather than parsed.
pub const STDIN_MAX: usize = 1 << 20;

/// Reads the configuration from `input`: at most [`STDIN_MAX`] + 1 bytes, so that [`serve`]
/// can refuse more without the rest ever being read.
pub fn read_stdin(input: impl std::io::Read) -> Result<Vec<u8>, Reply> {
    use std::io::Read;
    let mut stdin = Vec::new();
    match input.take(STDIN_MAX as u64 + 1).read_to_end(&mut stdin) {
        Ok(_) => Ok(stdin),
        Err(e) => Err(io_error(&format!(
            "reading the configuration from stdin: {e}"
        ))),
    }
}

/// The reply when stdin cannot be read (code 5, I/O failure).
pub fn io_error(details: &str) -> Reply {
    let body = json!({"cniVersion": LATEST, "code": 5, "msg": "I/O failure", "details": details});
    Reply {
        stdout: body.to_string(),
        exit: 1,
    }
}

/// Serves one invocation: `env` reads the environment (`CNI_*`), `stdin` is the configuration.
pub fn serve(env: &dyn Fn(&str) -> Option<String>, stdin: &[u8]) -> Reply {
    let version = config::version_of(stdin).unwrap_or_else(|| LATEST.into());
    match handle(env, stdin) {
        Ok(None) => Reply {
            stdout: String::new(),
            exit: 0,
        },
        Ok(Some(value)) => Reply {
            stdout: value.to_string(),
            exit: 0,
        },
        Err(error) => {
            let mut body = serde_json::to_value(&error).unwrap_or_default();
            body["cniVersion"] = json!(version);
            Reply {
                stdout: body.to_string(),
                exit: 1,
            }
        }
    }
}

fn handle(env: &dyn Fn(&str) -> Option<String>, stdin: &[u8]) -> Result<Option<Value>, CniError> {
    if stdin.len() > STDIN_MAX {
        return Err(CniError::new(
            6,
            "failed to decode the network configuration",
            format!(
                "stdin holds more than {} KiB; a network configuration with its prevResult is a \
                 few KB",
                STDIN_MAX >> 10
            ),
        ));
    }
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let Some(command) = var("CNI_COMMAND") else {
        return Err(env_error(&["CNI_COMMAND"], "is not set"));
    };
    if command == "VERSION" {
        let version = config::version_of(stdin).unwrap_or_else(|| LATEST.into());
        return Ok(Some(json!({
            "cniVersion": version,
            "supportedVersions": SUPPORTED_VERSIONS,
        })));
    }
    if !["ADD", "DEL", "CHECK", "STATUS", "GC"].contains(&command.as_str()) {
        return Err(CniError::new(
            4,
            "invalid CNI_COMMAND",
            format!("CNI_COMMAND={command}: expected ADD, DEL, CHECK, STATUS, GC or VERSION"),
        ));
    }
    let mut config = Config::parse_for(stdin, &command)?;
    let needs = |minimum: &str| match config::at_least(&config.cni_version, minimum) {
        true => Ok(()),
        false => Err(CniError::new(
            1,
            "incompatible CNI version",
            format!(
                "{command} came with cniVersion {}; the spec has it from {minimum} on",
                config.cni_version
            ),
        )),
    };
    match command.as_str() {
        "CHECK" => needs("0.4.0")?,
        "STATUS" | "GC" => needs("1.1.0")?,
        _ => {}
    }
    match command.as_str() {
        "STATUS" => return attach::status(&config).map(|()| None),
        "GC" => return attach::gc(&config).map(|()| None),
        _ => {}
    }

    // ADD, DEL, CHECK: one attachment.
    let mut missing: Vec<&str> = ["CNI_CONTAINERID", "CNI_IFNAME"]
        .into_iter()
        .filter(|name| var(name).is_none())
        .collect();
    if command != "DEL" && var("CNI_NETNS").is_none() {
        missing.push("CNI_NETNS");
    }
    if !missing.is_empty() {
        return Err(env_error(&missing, "must be set for this command"));
    }
    let container_id = var("CNI_CONTAINERID").unwrap_or_default();
    if !valid_container_id(&container_id) {
        return Err(env_error(
            &["CNI_CONTAINERID"],
            &format!(
                "{container_id:?} is not a container ID (an alphanumeric, then alphanumerics, _, . or -)"
            ),
        ));
    }
    let ifname = var("CNI_IFNAME").unwrap_or_default();
    crate::nl::link::validate_name(&ifname)
        .map_err(|e| env_error(&["CNI_IFNAME"], &format!("{ifname:?}: {e}")))?;
    if ifname == "lo" && command != "DEL" {
        return Err(env_error(
            &["CNI_IFNAME"],
            "is lo, the loopback interface: a chained plugin joins the interface the main plugin \
             made (eth0, net1…)",
        ));
    }
    if let Some(args) = var("CNI_ARGS") {
        config.apply_args(&args)?;
    }
    if command != "DEL" {
        config.check_names(&ifname)?;
    }
    let attachment = Attachment {
        container_id,
        netns: var("CNI_NETNS"),
        ifname,
    };
    match command.as_str() {
        "ADD" => attach::add(&config, &attachment).map(Some),
        "DEL" => attach::del(&config, &attachment).map(|()| None),
        _ => attach::check(&config, &attachment).map(|()| None),
    }
}

fn env_error(names: &[&str], problem: &str) -> CniError {
    CniError::new(
        4,
        "invalid environment variables",
        format!("{} {problem}", names.join(", ")),
    )
}

fn valid_container_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(vars: &[(&str, &str)], stdin: &str) -> (Value, i32) {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let reply = serve(&env, stdin.as_bytes());
        let value = match reply.stdout.is_empty() {
            true => Value::Null,
            false => serde_json::from_str(&reply.stdout).expect("stdout is JSON"),
        };
        (value, reply.exit)
    }

    #[test]
    fn version_reports_the_list_in_the_callers_version() {
        let (value, exit) = call(&[("CNI_COMMAND", "VERSION")], r#"{"cniVersion": "0.4.0"}"#);
        assert_eq!(exit, 0);
        assert_eq!(value["cniVersion"], "0.4.0");
        assert_eq!(value["supportedVersions"], json!(SUPPORTED_VERSIONS));
        let (value, _) = call(&[("CNI_COMMAND", "VERSION")], "");
        assert_eq!(value["cniVersion"], LATEST);
    }

    #[test]
    fn environment_errors_are_code_4_naming_the_variables() {
        let config =
            r#"{"cniVersion": "1.0.0", "name": "n", "type": "patchwire-cni", "prevResult": {}}"#;
        let (value, exit) = call(&[("CNI_COMMAND", "ADD")], config);
        assert_eq!(exit, 1);
        assert_eq!(value["code"], 4);
        assert_eq!(value["cniVersion"], "1.0.0");
        assert_eq!(
            value["details"],
            "CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS must be set for this command"
        );
        let (value, _) = call(&[("CNI_COMMAND", "FROB")], config);
        assert_eq!(value["code"], 4);
        let (value, _) = call(
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "-bad"),
                ("CNI_IFNAME", "eth0"),
            ],
            config,
        );
        assert_eq!(value["code"], 4);
        assert!(
            value["details"]
                .as_str()
                .unwrap()
                .starts_with("CNI_CONTAINERID \"-bad\"")
        );
    }

    #[test]
    fn commands_newer_than_the_configuration_are_refused() {
        let old = r#"{"cniVersion": "0.3.1", "name": "n", "type": "patchwire-cni"}"#;
        let (value, _) = call(&[("CNI_COMMAND", "CHECK")], old);
        assert_eq!(value["code"], 1);
        let v1 = r#"{"cniVersion": "1.0.0", "name": "n", "type": "patchwire-cni"}"#;
        let (value, _) = call(&[("CNI_COMMAND", "GC")], v1);
        assert_eq!(value["code"], 1);
        assert_eq!(
            value["details"],
            "GC came with cniVersion 1.0.0; the spec has it from 1.1.0 on"
        );
    }

    #[test]
    fn del_without_a_namespace_succeeds_silently() {
        let config = r#"{"cniVersion": "1.1.0", "name": "n", "type": "patchwire-cni"}"#;
        let (value, exit) = call(
            &[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "c1"),
                ("CNI_IFNAME", "eth0"),
            ],
            config,
        );
        assert_eq!((value, exit), (Value::Null, 0));
    }

    #[test]
    fn container_ids_follow_the_spec() {
        assert!(valid_container_id("a1_b.c-d"));
        assert!(!valid_container_id(""));
        assert!(!valid_container_id("_a"));
        assert!(!valid_container_id("a/b"));
    }
}
