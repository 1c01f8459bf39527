//! The plugin's network configuration (JSON on stdin) and `CNI_ARGS`, checked key by key so a
//! mistake is named with its key and value, as the spec asks (error code 2 for an unknown key,
//! 7 for a bad value).

use serde_json::{Map, Value};

use super::CniError;
use crate::wire::Datapath;

/// Spec versions this plugin speaks. Results are the runtime's own `prevResult` with the tap
/// added, so every version from the one that introduced chaining (0.3.0) on is the same work.
pub const SUPPORTED_VERSIONS: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// Keys the protocol or the spec's well-known list put into a plugin's configuration. They are
/// accepted and, apart from the ones read below, ignored.
const PROTOCOL_KEYS: [&str; 9] = [
    "cniVersion",
    "cniVersions",
    "name",
    "type",
    "prevResult",
    "runtimeConfig",
    "args",
    "capabilities",
    "dns",
];

/// patchwire-cni's own keys.
const OWN_KEYS: [&str; 10] = [
    "mode",
    "tapName",
    "vnetHdr",
    "queues",
    "owner",
    "group",
    "peer",
    "datapath",
    "txChecksum",
    "vmInterface",
];

/// What the attachment joins to `CNI_IFNAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A new tap in the container's namespace, for the VM (Kata, Firecracker, qemu).
    Tap(TapConfig),
    /// Another interface already in the container's namespace.
    Wire {
        /// Its name.
        peer: String,
    },
}

/// The tap made in tap mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TapConfig {
    /// Its name; `None` is `tap` + `CNI_IFNAME` (see [`Config::tap_name`]).
    pub name: Option<String>,
    /// Frames carry a virtio-net header (qemu `vnet_hdr=on`, Firecracker).
    pub vnet_hdr: bool,
    /// More than one makes a multi-queue tap.
    pub queues: u32,
    /// The uid allowed to open it (an unprivileged VMM).
    pub owner: Option<u32>,
    /// The gid allowed to open it.
    pub group: Option<u32>,
}

/// A plugin configuration as the runtime hands it over.
#[derive(Debug, Clone)]
pub struct Config {
    /// The spec version in use (`cniVersion`).
    pub cni_version: String,
    /// The network's name.
    pub network: String,
    /// Tap or wire mode.
    pub mode: Mode,
    /// How the wire moves frames.
    pub datapath: Datapath,
    /// Turn TX checksum offload of both ends on or off; `None` leaves it.
    pub tx_checksum: Option<bool>,
    /// Also report the VM's own interface the way tc-redirect-tap does (Firecracker's Go SDK
    /// reads it): an interface named like the tap whose sandbox is the container ID, with the
    /// MAC of `CNI_IFNAME` and the IP configuration the VM should take.
    pub vm_interface: bool,
    /// The previous plugin's result (ADD, CHECK; DEL when the runtime kept it).
    pub prev_result: Option<Value>,
    /// GC: the attachments that are still valid, as `(container ID, ifname)`.
    pub valid_attachments: Option<Vec<(String, String)>>,
}

/// The version this configuration asks for, when it says one (for error replies even when the
/// rest of it is wrong).
pub fn version_of(raw: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(raw).ok()?;
    value.get("cniVersion")?.as_str().map(str::to_string)
}

/// Whether `version` is at least `minimum` (both `X.Y.Z`).
pub fn at_least(version: &str, minimum: &str) -> bool {
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(version) >= parse(minimum)
}

impl Config {
    /// Parses and checks the configuration read from stdin.
    pub fn parse(raw: &[u8]) -> Result<Config, CniError> {
        Config::parse_for(raw, "ADD")
    }

    /// Parses and checks the configuration for `command`. DEL and GC give back what ADD made
    /// and need no owner or group: a user or group that no longer exists (deleted after ADD)
    /// is left unresolved instead of failing them, so a pod can always be torn down.
    pub fn parse_for(raw: &[u8], command: &str) -> Result<Config, CniError> {
        let resolve_ids = !matches!(command, "DEL" | "GC");
        let value: Value = serde_json::from_slice(raw).map_err(|e| {
            CniError::new(
                6,
                "failed to decode the network configuration",
                format!("stdin is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(map) = value else {
            return Err(CniError::new(
                6,
                "failed to decode the network configuration",
                "stdin must be one JSON object (the plugin's configuration)",
            ));
        };
        for (key, value) in &map {
            if PROTOCOL_KEYS.contains(&key.as_str())
                || OWN_KEYS.contains(&key.as_str())
                || key.starts_with("cni.dev/")
            {
                continue;
            }
            let hint = match key.as_str() {
                "ipam" => " (patchwire-cni assigns no addresses: put ipam on the main plugin before it in the chain)".to_string(),
                "ipMasq" => " (patchwire-cni sets up no NAT: put ipMasq on the main plugin)".to_string(),
                _ => crate::suggest::suggestion(key, &OWN_KEYS)
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_else(|| format!(" (patchwire-cni's keys: {})", OWN_KEYS.join(", "))),
            };
            return Err(CniError::new(
                2,
                "unsupported field in the network configuration",
                format!(
                    "unsupported field {}: {}{hint}",
                    clipped(&format!("{key:?}")),
                    clipped(&value.to_string())
                ),
            ));
        }

        let cni_version = required_str(&map, "cniVersion")?;
        if !SUPPORTED_VERSIONS.contains(&cni_version.as_str()) {
            return Err(CniError::new(
                1,
                "incompatible CNI version",
                format!(
                    "the configuration's cniVersion is {cni_version:?}; patchwire-cni supports {}",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ));
        }
        let network = required_str(&map, "name")?;
        let mode = match optional_str(&map, "mode")?.as_deref() {
            None | Some("tap") => {
                if let Some(peer) = map.get("peer") {
                    return Err(invalid(format!(
                        "peer {peer}: only wire mode has a peer (add \"mode\": \"wire\", or remove peer)"
                    )));
                }
                let name = optional_str(&map, "tapName")?;
                if let Some(name) = &name {
                    crate::nl::link::validate_name(name)
                        .map_err(|e| invalid(format!("tapName: {e}")))?;
                }
                let queues = optional_u32(&map, "queues")?.unwrap_or(1);
                if !(1..=crate::vm::MAX_QUEUES).contains(&queues) {
                    return Err(invalid(format!(
                        "queues {queues}: a tap has 1 to {} queues",
                        crate::vm::MAX_QUEUES
                    )));
                }
                Mode::Tap(TapConfig {
                    name,
                    vnet_hdr: optional_bool(&map, "vnetHdr")?.unwrap_or(false),
                    queues,
                    owner: optional_id(&map, "owner", crate::vm::user_id, resolve_ids)?,
                    group: optional_id(&map, "group", crate::vm::group_id, resolve_ids)?,
                })
            }
            Some("wire") => {
                for key in [
                    "tapName",
                    "vnetHdr",
                    "queues",
                    "owner",
                    "group",
                    "vmInterface",
                ] {
                    if let Some(value) = map.get(key) {
                        return Err(invalid(format!(
                            "{key} {value}: wire mode makes no tap (remove {key}, or use \"mode\": \"tap\")"
                        )));
                    }
                }
                let Some(peer) = optional_str(&map, "peer")? else {
                    return Err(invalid(
                        "wire mode needs \"peer\": the interface in the container's namespace to wire CNI_IFNAME to",
                    ));
                };
                crate::nl::link::validate_name(&peer).map_err(|e| invalid(format!("peer: {e}")))?;
                Mode::Wire { peer }
            }
            Some(other) => {
                return Err(invalid(format!(
                    "mode {other:?}: one of \"tap\" (a tap for a VM, the default) or \"wire\" (two existing interfaces)"
                )));
            }
        };
        let datapath = match optional_str(&map, "datapath")?.as_deref() {
            None | Some("tc") => Datapath::Tc,
            Some("ebpf") => Datapath::Ebpf,
            Some(other) => {
                return Err(invalid(format!(
                    "datapath {other:?}: one of \"tc\" (u32 + mirred, the default) or \"ebpf\" (cls_bpf redirect)"
                )));
            }
        };
        let prev_result = match map.get("prevResult") {
            None | Some(Value::Null) => None,
            Some(value @ Value::Object(_)) => Some(value.clone()),
            Some(other) => {
                return Err(invalid(format!(
                    "prevResult must be a result object, got {other}"
                )));
            }
        };
        // The spec's key; its first 1.1.0 text said `cni.dev/attachments`, which libcni sends
        // too. null (libcni with no list) is an empty list: none is valid any more.
        let listed = map
            .get("cni.dev/valid-attachments")
            .or_else(|| map.get("cni.dev/attachments"));
        let valid_attachments = match listed {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| {
                        let field =
                            |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
                        match (field("containerID"), field("ifname")) {
                            (Some(id), Some(ifname)) => Ok((id, ifname)),
                            _ => Err(invalid(format!(
                                "cni.dev/valid-attachments: {item} lacks containerID or ifname"
                            ))),
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(other) => {
                return Err(invalid(format!(
                    "cni.dev/valid-attachments must be a list, got {other}"
                )));
            }
        };
        Ok(Config {
            cni_version,
            network,
            vm_interface: matches!(mode, Mode::Tap(_))
                && optional_bool(&map, "vmInterface")?.unwrap_or(false),
            mode,
            datapath,
            tx_checksum: optional_bool(&map, "txChecksum")?,
            prev_result,
            valid_attachments,
        })
    }

    /// Configuration mistakes that show only with `CNI_IFNAME` (ADD, CHECK): a peer that is
    /// `CNI_IFNAME` itself or the loopback, a tap named like `CNI_IFNAME` or `lo`. Code 7, not
    /// the kernel's 999: nothing was tried.
    pub fn check_names(&self, ifname: &str) -> Result<(), CniError> {
        match &self.mode {
            Mode::Wire { peer } if peer == ifname => Err(invalid(format!(
                "peer {peer} is CNI_IFNAME itself: wire mode joins CNI_IFNAME to another interface \
                 of the pod"
            ))),
            Mode::Wire { peer } if peer == "lo" => Err(invalid(
                "peer lo is the loopback interface, which carries no frames to a wire: name an \
                 Ethernet-like interface of the pod (veth, tap, macvlan)",
            )),
            Mode::Tap(TapConfig {
                name: Some(name), ..
            }) if name == ifname || name == "lo" => Err(invalid(format!(
                "tapName {name} is {}: the tap is a new interface next to CNI_IFNAME, with a name \
                 of its own",
                if name == "lo" {
                    "the loopback's name"
                } else {
                    "CNI_IFNAME itself"
                }
            ))),
            _ => Ok(()),
        }
    }

    /// Applies `CNI_ARGS` (`K=V;K=V`): tc-redirect-tap's `TC_REDIRECT_TAP_NAME`, `_UID`, `_GID`
    /// (so Firecracker's Go SDK can use this plugin unchanged) override the tap's name and
    /// owner. Unknown keys are refused unless `IgnoreUnknown=1` (or true) is among them, as the
    /// reference plugins do; Kubernetes always sends `IgnoreUnknown=1` with its `K8S_POD_*`.
    pub fn apply_args(&mut self, args: &str) -> Result<(), CniError> {
        let mut pairs = Vec::new();
        for item in args.split(';').filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(CniError::new(
                    4,
                    "invalid CNI_ARGS",
                    format!("CNI_ARGS item {item:?} is not KEY=VALUE"),
                ));
            };
            pairs.push((key, value));
        }
        let ignore_unknown = pairs.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("IgnoreUnknown") && matches!(*v, "1" | "true" | "True")
        });
        for (key, value) in pairs {
            let tap = match &mut self.mode {
                Mode::Tap(tap) => Some(tap),
                Mode::Wire { .. } => None,
            };
            let id = |what: &str| {
                value.parse::<u32>().map_err(|_| {
                    CniError::new(
                        4,
                        "invalid CNI_ARGS",
                        format!("CNI_ARGS {key}={value}: the {what} must be a number"),
                    )
                })
            };
            match (key, tap) {
                ("TC_REDIRECT_TAP_NAME", Some(tap)) => {
                    crate::nl::link::validate_name(value).map_err(|e| {
                        CniError::new(4, "invalid CNI_ARGS", format!("CNI_ARGS {key}: {e}"))
                    })?;
                    tap.name = Some(value.to_string());
                }
                ("TC_REDIRECT_TAP_UID", Some(tap)) => tap.owner = Some(id("uid")?),
                ("TC_REDIRECT_TAP_GID", Some(tap)) => tap.group = Some(id("gid")?),
                (k, _) if k.eq_ignore_ascii_case("IgnoreUnknown") => {}
                _ if ignore_unknown => {}
                _ => {
                    return Err(CniError::new(
                        2,
                        "unsupported CNI_ARGS",
                        format!(
                            "CNI_ARGS {key}={value} is not one patchwire-cni knows (it reads \
                             TC_REDIRECT_TAP_NAME, TC_REDIRECT_TAP_UID, TC_REDIRECT_TAP_GID in tap \
                             mode); add IgnoreUnknown=1 to pass others"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The tap's name in tap mode: the configured one, else `tap` + `CNI_IFNAME`
    /// (`tapeth0`), so two attachments of one container never collide.
    pub fn tap_name(&self, ifname: &str) -> Result<Option<String>, CniError> {
        let Mode::Tap(tap) = &self.mode else {
            return Ok(None);
        };
        if let Some(name) = &tap.name {
            return Ok(Some(name.clone()));
        }
        let name = format!("tap{ifname}");
        if name.len() > 15 {
            return Err(invalid(format!(
                "the default tap name {name:?} is longer than 15 bytes: set \"tapName\""
            )));
        }
        Ok(Some(name))
    }
}

fn invalid(details: impl Into<String>) -> CniError {
    CniError::new(7, "invalid network configuration", details)
}

fn required_str(map: &Map<String, Value>, key: &str) -> Result<String, CniError> {
    optional_str(map, key)?.ok_or_else(|| invalid(format!("{key:?} is missing")))
}

fn optional_str(map: &Map<String, Value>, key: &str) -> Result<Option<String>, CniError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!("{key} must be a string, got {other}"))),
    }
}

fn optional_bool(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, CniError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(format!("{key} must be true or false, got {other}"))),
    }
}

fn optional_u32(map: &Map<String, Value>, key: &str) -> Result<Option<u32>, CniError> {
    match map.get(key) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be a whole number, got {value}"))),
    }
}

/// A uid/gid given as a number or a name (looked up in /etc/passwd or /etc/group).
fn optional_id(
    map: &Map<String, Value>,
    key: &str,
    lookup: fn(&str) -> Result<u32, crate::wire::WireError>,
    resolve: bool,
) -> Result<Option<u32>, CniError> {
    let text = match map.get(key) {
        None => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(value) if value.is_u64() => value.to_string(),
        Some(other) => {
            return Err(invalid(format!(
                "{key} must be a number or a name, got {other}"
            )));
        }
    };
    match lookup(&text) {
        Ok(id) => Ok(Some(id)),
        Err(_) if !resolve => Ok(None),
        Err(e) => Err(invalid(format!("{key}: {e}"))),
    }
}

/// A key or value as an error shows it: at most 40 characters, then `…` and its full size (a
/// 1 MB value is not echoed whole, as the lab file's errors elide theirs).
fn clipped(text: &str) -> String {
    const KEPT: usize = 40;
    match text.char_indices().nth(KEPT) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, CniError> {
        Config::parse(json.as_bytes())
    }

    const BASE: &str = r#""cniVersion": "1.0.0", "name": "lab", "type": "patchwire-cni""#;

    #[test]
    fn defaults_are_a_tap_on_tc() {
        let config = parse(&format!("{{{BASE}}}")).unwrap();
        assert_eq!(
            config.mode,
            Mode::Tap(TapConfig {
                queues: 1,
                ..TapConfig::default()
            })
        );
        assert_eq!(config.datapath, Datapath::Tc);
        assert_eq!(config.tap_name("eth0").unwrap().as_deref(), Some("tapeth0"));
        assert!(!config.vm_interface);
    }

    #[test]
    fn unknown_keys_name_key_value_and_a_suggestion() {
        let e = parse(&format!(r#"{{{BASE}, "tapname": "t0"}}"#)).unwrap_err();
        assert_eq!(e.code, 2);
        assert_eq!(
            e.details,
            r#"unsupported field "tapname": "t0" (did you mean "tapName"?)"#
        );
        // A big value is not echoed whole.
        let big = "x".repeat(990_000);
        let e = parse(&format!(r#"{{{BASE}, "tapname": "{big}"}}"#)).unwrap_err();
        assert_eq!(
            e.details,
            r#"unsupported field "tapname": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (990002 bytes) (did you mean "tapName"?)"#
        );
        let e = parse(&format!(r#"{{{BASE}, "ipam": {{"type": "host-local"}}}}"#)).unwrap_err();
        assert!(e.details.contains("put ipam on the main plugin"), "{e:?}");
        // Keys the runtime adds are accepted.
        parse(&format!(
            r#"{{{BASE}, "runtimeConfig": {{}}, "cni.dev/valid-attachments": [], "dns": {{}}}}"#
        ))
        .unwrap();
    }

    #[test]
    fn bad_values_are_code_7_naming_the_key() {
        for (extra, expected) in [
            (r#""queues": 0"#, "queues 0: a tap has 1 to 256 queues"),
            (
                r#""vnetHdr": "yes""#,
                r#"vnetHdr must be true or false, got "yes""#,
            ),
            (r#""mode": "cable""#, r#"mode "cable": one of"#),
            (r#""mode": "wire""#, "wire mode needs \"peer\""),
            (r#""peer": "eth1""#, "only wire mode has a peer"),
            (
                r#""mode": "wire", "peer": "e1", "queues": 2"#,
                "wire mode makes no tap",
            ),
            (r#""datapath": "xdp""#, r#"datapath "xdp": one of"#),
            (
                r#""tapName": "a/b""#,
                "tapName: interface name \"a/b\" contains '/'",
            ),
            (r#""owner": "pw-no-such-user""#, "owner: no user named"),
        ] {
            let e = parse(&format!("{{{BASE}, {extra}}}")).unwrap_err();
            assert_eq!(e.code, 7, "{extra}: {e:?}");
            assert!(e.details.contains(expected), "{extra}: {}", e.details);
        }
        let e = parse(r#"{"name": "x", "type": "patchwire-cni"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.details.as_str()),
            (7, "\"cniVersion\" is missing")
        );
    }

    #[test]
    fn versions_outside_the_list_are_code_1() {
        let e =
            parse(r#"{"cniVersion": "0.2.0", "name": "x", "type": "patchwire-cni"}"#).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(
            e.details
                .contains("supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0")
        );
        assert!(at_least("1.1.0", "0.4.0") && !at_least("0.3.1", "0.4.0"));
    }

    #[test]
    fn malformed_json_is_code_6() {
        assert_eq!(parse("{").unwrap_err().code, 6);
        assert_eq!(parse("[]").unwrap_err().code, 6);
    }

    #[test]
    fn cni_args_follow_tc_redirect_tap_and_ignore_unknown() {
        let mut config = parse(&format!("{{{BASE}}}")).unwrap();
        config
            .apply_args(
                "IgnoreUnknown=1;K8S_POD_NAME=x;TC_REDIRECT_TAP_NAME=vm0;TC_REDIRECT_TAP_UID=42",
            )
            .unwrap();
        assert_eq!(config.tap_name("eth0").unwrap().as_deref(), Some("vm0"));
        let Mode::Tap(tap) = &config.mode else {
            panic!()
        };
        assert_eq!(tap.owner, Some(42));
        let e = config.apply_args("FOO=1").unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.details.contains("CNI_ARGS FOO=1"), "{}", e.details);
        assert_eq!(config.apply_args("junk").unwrap_err().code, 4);
    }

    #[test]
    fn gc_reads_both_spellings_of_the_valid_attachments_and_null() {
        let gc = |extra: &str| {
            parse(&format!("{{{BASE}, {extra}}}"))
                .unwrap()
                .valid_attachments
        };
        let one = Some(vec![("c1".to_string(), "eth0".to_string())]);
        let entry = r#"[{"containerID": "c1", "ifname": "eth0"}]"#;
        assert_eq!(gc(&format!(r#""cni.dev/valid-attachments": {entry}"#)), one);
        assert_eq!(gc(&format!(r#""cni.dev/attachments": {entry}"#)), one);
        assert_eq!(gc(r#""cni.dev/valid-attachments": null"#), Some(Vec::new()));
    }

    #[test]
    fn long_interface_names_need_a_tap_name() {
        let config = parse(&format!("{{{BASE}}}")).unwrap();
        let e = config.tap_name("averylongname0").unwrap_err();
        assert!(e.details.contains("set \"tapName\""));
    }
}
