//! containerlab's node model: kinds, the precedence of a node over its group, its kind and
//! `topology.defaults` (as containerlab's types/topology.go: scalars from the first level
//! that sets them; `env`, `labels`, `sysctls` merged key by key; `binds`, `exec`,
//! `env-files`, `devices`, `cap-add` appended from defaults to node without repeats, binds
//! then kept one per container path, the most specific winning; `ports` from the first level
//! that has any), container names under `prefix:`, and the management network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::node::RawNode;

/// containerlab's default prefix of container names.
pub(super) const DEFAULT_PREFIX: &str = "clab";
/// containerlab's management network: name and subnets.
pub(super) const MGMT_NETWORK: &str = "clab";
pub(super) const MGMT_IPV4_SUBNET: &str = "172.20.20.0/24";
pub(super) const MGMT_IPV6_SUBNET: &str = "3fff:172:20:20::/64";
/// containerlab's MTU of links that set none (constants.DefaultLinkMTU).
pub(super) const CLAB_LINK_MTU: u32 = 9500;
/// containerlab's VXLAN UDP port (links.VxLANDefaultPort).
pub(super) const CLAB_VXLAN_PORT: u16 = 14789;

/// What a kind name means to patchwire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Namespace,
    Vm,
    /// containerlab's `linux`: a container with an image, a namespace without.
    Linux,
    ExtContainer,
    Bridge,
    Host,
    Hub,
    /// A kind patchwire refuses for a reason of its own.
    Refused(&'static str),
    /// A vendor's kind: containerlab's trade.
    Vendor,
    /// Neither patchwire's nor a vendor kind containerlab knows: a typo, most likely.
    Unknown,
}

/// The kinds patchwire runs, for messages.
pub(super) const KINDS: &str = "linux, ext-container, bridge, host, hub, namespace and vm";

/// The kinds patchwire runs, for suggestions: an unknown kind is answered from these only (a
/// typo of `linux` is not offered a vendor's kind).
pub(super) const KIND_NAMES: &[&str] = &[
    "linux",
    "ext-container",
    "bridge",
    "host",
    "hub",
    "namespace",
    "vm",
];

/// containerlab's vendor kinds (its nodes/*/ packages' kind names and their old aliases).
/// A kind that is neither these nor patchwire's is unknown, not a vendor's: `kind: linxu`
/// is a typo to point out, not containerlab's trade. With [`VENDOR_PREFIXES`] this covers
/// every `kindNames` registered under srl-labs/containerlab's nodes/ (checked against commit
/// 39ff2b7c of 2026-08-21, 110 names; the test `every_containerlab_vendor_kind_is_a_vendors`
/// holds that list).
const VENDOR_KINDS: &[&str] = &[
    "cjunosevolved",
    "plvision_sonic",
    "spirent_stc",
    "srl",
    "sros",
    "ceos",
    "crpd",
    "csrx",
    "xrd",
    "c8000",
    "cvx",
    "iol",
    "rare",
    "openbsd",
    "freebsd",
    "generic_vm",
    "k8s-kind",
    "openwrt",
    "ostinato",
    "border0",
    "mysocketio",
    "checkpoint_cloudguard",
    "ixia-c-one",
    "light_olt",
    "cvce",
    "cvcg",
    "cvsr",
];

/// Prefixes of containerlab's vendor kinds: `vr-*` (vrnetlab VMs) and the vendors' names.
const VENDOR_PREFIXES: &[&str] = &[
    "vr-",
    "nokia_",
    "juniper_",
    "cisco_",
    "arista_",
    "dell_",
    "sonic-",
    "sonic_",
    "fortinet_",
    "paloalto_",
    "huawei_",
    "ipinfusion_",
    "keysight_",
    "checkpoint_",
    "aruba_",
    "mikrotik_",
    "6wind_",
    "vyosnetworks_",
    "fdio_",
    "ciena_",
    "arrcus_",
    "f5_",
    "cumulus_",
    "codelaboratory_",
    "veesix_",
    "nvidia_",
    "extreme_",
    "ericsson_",
    "plvision_",
    "spirent_",
];

fn is_vendor(kind: &str) -> bool {
    VENDOR_KINDS.contains(&kind) || VENDOR_PREFIXES.iter().any(|p| kind.starts_with(p))
}

pub(super) fn classify(kind: &str) -> Kind {
    // containerlab lowercases kinds (core/config.go).
    match kind.to_ascii_lowercase().as_str() {
        "namespace" => Kind::Namespace,
        "vm" => Kind::Vm,
        "linux" => Kind::Linux,
        "ext-container" => Kind::ExtContainer,
        "bridge" => Kind::Bridge,
        "host" => Kind::Host,
        "hub" => Kind::Hub,
        "ovs-bridge" => Kind::Refused(
            "an Open vSwitch bridge: patchwire does not drive OvS; use `kind: bridge` for an \
             existing Linux bridge, or `kind: hub` for a segment that also passes LACP, STP and \
             LLDP",
        ),
        other if is_vendor(other) => Kind::Vendor,
        _ => Kind::Unknown,
    }
}

/// `topology.defaults`, `kinds` and `groups`: what a node inherits.
pub(super) struct Defs<'a> {
    pub(super) defaults: Option<&'a RawNode>,
    pub(super) kinds: &'a BTreeMap<String, Option<RawNode>>,
    pub(super) groups: &'a BTreeMap<String, Option<RawNode>>,
}

/// Where a level of a [`Chain`] is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Level<'a> {
    Node,
    Group(&'a str),
    Kind(&'a str),
    Defaults,
}

/// A node's definitions, most specific first: the node, its group, its kind, the defaults.
pub(super) struct Chain<'a> {
    pub(super) levels: Vec<&'a RawNode>,
    /// Where each of `levels` is written.
    pub(super) places: Vec<Level<'a>>,
    /// The kind as written (resolved), if any level sets one.
    pub(super) kind: Option<&'a str>,
}

impl<'a> Defs<'a> {
    fn group_def(&self, name: Option<&str>) -> Option<&'a RawNode> {
        name.and_then(|g| self.groups.get(g))
            .and_then(Option::as_ref)
    }

    /// The chain of `node` as containerlab resolves it: the kind from the node, else its
    /// group, else the defaults' group, else the defaults; the group from the node, else its
    /// kind's, else the defaults'. A VM's `group:` is its taps' group, not containerlab's.
    pub(super) fn chain(&self, node: &'a RawNode) -> Chain<'a> {
        let own_group = |n: &'a RawNode| -> Option<&'a str> {
            (n.kind.as_deref() != Some("vm"))
                .then(|| n.group.as_ref().map(|g| g.0.as_str()))
                .flatten()
        };
        let defaults_group = self.defaults.and_then(own_group);
        let kind = node
            .kind
            .as_deref()
            .or_else(|| {
                self.group_def(own_group(node))
                    .and_then(|g| g.kind.as_deref())
            })
            .or_else(|| {
                self.group_def(defaults_group)
                    .and_then(|g| g.kind.as_deref())
            })
            .or_else(|| self.defaults.and_then(|d| d.kind.as_deref()));
        let kind_def = kind
            .and_then(|k| self.kinds.get(k))
            .and_then(Option::as_ref);
        let group = own_group(node)
            .or_else(|| kind_def.and_then(own_group))
            .or(defaults_group);
        let mut levels = vec![node];
        let mut places = vec![Level::Node];
        if let (Some(def), Some(g)) = (self.group_def(group), group) {
            levels.push(def);
            places.push(Level::Group(g));
        }
        if let (Some(def), Some(k)) = (kind_def, kind) {
            levels.push(def);
            places.push(Level::Kind(k));
        }
        if let Some(def) = self.defaults {
            levels.push(def);
            places.push(Level::Defaults);
        }
        Chain {
            levels,
            places,
            kind,
        }
    }
}

impl<'a> Chain<'a> {
    /// A scalar: from the first level that sets it.
    pub(super) fn first<T: ?Sized>(
        &self,
        get: impl Fn(&'a RawNode) -> Option<&'a T>,
    ) -> Option<&'a T> {
        self.levels.iter().find_map(|n| get(n))
    }

    /// A map: merged from the defaults up, a more specific level's key winning.
    pub(super) fn merged(
        &self,
        get: impl Fn(&'a RawNode) -> Option<&'a BTreeMap<String, String>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for level in self.levels.iter().rev() {
            if let Some(map) = get(level) {
                out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        out
    }

    /// A list's entries as [`Chain::appended`] gives them, each with the level it is written
    /// at and its index there.
    pub(super) fn appended_at(
        &self,
        get: impl Fn(&'a RawNode) -> Option<&'a Vec<String>>,
    ) -> Vec<(&'a str, &Level<'a>, usize)> {
        let mut out: Vec<(&'a str, &Level<'a>, usize)> = Vec::new();
        for (level, place) in self.levels.iter().zip(&self.places).rev() {
            for (i, item) in get(level).into_iter().flatten().enumerate() {
                if !out.iter().any(|(seen, _, _)| *seen == item) {
                    out.push((item.as_str(), place, i));
                }
            }
        }
        out
    }

    /// A list: appended from the defaults up, each entry once.
    pub(super) fn appended(
        &self,
        get: impl Fn(&'a RawNode) -> Option<&'a Vec<String>>,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for level in self.levels.iter().rev() {
            for item in get(level).into_iter().flatten() {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
        }
        out
    }
}

/// The container's name under containerlab's `prefix:` rules (core/config.go nodeLongName):
/// no `prefix:` gives `clab-LAB-NODE`, `""` gives `NODE`, `__lab-name` gives `LAB-NODE`,
/// anything else `PREFIX-LAB-NODE`.
pub(super) fn container_name(prefix: Option<&str>, lab: &str, node: &str) -> String {
    match prefix.unwrap_or(DEFAULT_PREFIX) {
        "" => node.to_string(),
        "__lab-name" => format!("{lab}-{node}"),
        prefix => format!("{prefix}-{lab}-{node}"),
    }
}

/// `cmd:`/`entrypoint:` split as a shell would (containerlab uses shlex too).
pub(super) fn split(key: &str, text: &str) -> Result<Vec<String>, String> {
    shlex::split(text)
        .ok_or_else(|| format!("{key} {text:?} cannot be split into words: a quote is not closed"))
}

/// A path of the file made absolute against the file's folder; `~/` is the home folder.
pub(super) fn resolve(folder: &Path, path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let joined = folder.join(path);
    // Lexically, without following links: `./x` and `a/../x` read plainly in messages.
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.parent().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `binds:` with HOST made absolute, one per container path (the last, most specific one
/// wins) and sorted, as containerlab's GetNodeBinds.
pub(super) fn binds(folder: &Path, binds: &[String]) -> Result<Vec<String>, String> {
    let mut by_target: BTreeMap<String, String> = BTreeMap::new();
    for bind in binds {
        let mut parts = bind.splitn(3, ':');
        let host = parts.next().unwrap_or_default();
        let Some(target) = parts.next().filter(|t| !t.is_empty() && !host.is_empty()) else {
            return Err(format!(
                "bind {bind:?} is not HOST:CONTAINER[:OPTIONS] (a named volume goes under \
                 `volumes:`)"
            ));
        };
        let options = parts.next();
        let host = resolve(folder, host);
        let mut text = format!("{}:{target}", host.display());
        if let Some(options) = options {
            text = format!("{text}:{options}");
        }
        by_target.insert(target.to_string(), text);
    }
    let mut out: Vec<String> = by_target.into_values().collect();
    out.sort();
    Ok(out)
}

/// The sources of resolved binds (`/abs/host:target[:options]`) that do not exist, each as a
/// message: containerlab refuses them before deploying (and podman when creating), docker
/// would make an empty folder in their place.
pub(super) fn missing_sources(binds: &[String]) -> Vec<String> {
    binds
        .iter()
        .filter_map(|bind| {
            let host = bind.split(':').next().unwrap_or_default();
            match std::fs::metadata(host) {
                Ok(_) => None,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!(
                    "bind source {host} does not exist (a relative source is taken from the \
                     lab file's folder)"
                )),
                Err(e) => Some(format!("bind source {host}: {e}")),
            }
        })
        .collect()
}

/// containerlab's `cpu:` (docker's `--cpus`): a positive number, fractions allowed.
pub(super) fn is_cpus(text: &str) -> bool {
    text.trim()
        .parse::<f64>()
        .is_ok_and(|n| n.is_finite() && n > 0.0)
}

/// containerlab's `memory:` (docker's go-units RAMInBytes): a number, then optionally a space,
/// a unit k, m, g, t or p, an `i` and a `b`, any case (`512Mb`, `1GiB`, `1g`, `1024`).
pub(super) fn is_size(text: &str) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = text[digits.len()..].to_ascii_lowercase();
    let number = digits.strip_suffix(' ').unwrap_or(digits);
    let number_ok = !number.is_empty()
        && number
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    number_ok && (unit.is_empty() || (unit.len() == 1 && "kmgtp".contains(unit)))
}

/// The variables of `env-files:` (resolved against the file's folder) in order, a later
/// file's winning; a file that cannot be read is named with its resolved path.
pub(super) fn env_files(
    folder: &Path,
    files: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for file in files {
        let path = resolve(folder, file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("env-file {file} (resolved to {}): {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            if let Some((k, v)) = dotenv_line(line)
                .map_err(|e| format!("env-file {} line {}: {e}", path.display(), n + 1))?
            {
                env.insert(k, v);
            }
        }
    }
    Ok(env)
}

/// One line of an env file as godotenv reads it: `KEY=VALUE`, `export KEY=VALUE`, `KEY: VALUE`;
/// a value in single quotes as is, in double quotes with `\n` and `\"`; `#` comments.
fn dotenv_line(line: &str) -> Result<Option<(String, String)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let Some(at) = line.find(['=', ':']) else {
        return Err(format!("{line:?} is not KEY=VALUE"));
    };
    let key = line[..at].trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!("{line:?} is not KEY=VALUE"));
    }
    let raw = line[at + 1..].trim();
    let value = if let Some(inner) = raw.strip_prefix('\'') {
        inner
            .rsplit_once('\'')
            .map_or(inner, |(v, _)| v)
            .to_string()
    } else if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.rsplit_once('"').map_or(inner, |(v, _)| v);
        inner.replace("\\n", "\n").replace("\\\"", "\"")
    } else {
        raw.split(" #")
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    Ok(Some((key.to_string(), value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_follow_the_prefix() {
        assert_eq!(container_name(None, "lab", "r1"), "clab-lab-r1");
        assert_eq!(container_name(Some(""), "lab", "r1"), "r1");
        assert_eq!(container_name(Some("__lab-name"), "lab", "r1"), "lab-r1");
        assert_eq!(container_name(Some("acme"), "lab", "r1"), "acme-lab-r1");
    }

    #[test]
    fn cpus_and_sizes_as_docker_reads_them() {
        for ok in ["1", "0.5", "2.25"] {
            assert!(is_cpus(ok), "{ok}");
        }
        for bad in ["lots", "0", "-1", "NaN", "inf", ""] {
            assert!(!is_cpus(bad), "{bad}");
        }
        for ok in ["1024", "512Mb", "1Gb", "1g", "1GiB", "2 GB", "1.5g", "100k"] {
            assert!(is_size(ok), "{ok}");
        }
        for bad in ["much", "1x", "g", "1.g", "1Gbb", "-1g", ""] {
            assert!(!is_size(bad), "{bad}");
        }
    }

    #[test]
    fn binds_are_absolute_and_one_per_target() {
        let folder = Path::new("/labs/x");
        assert_eq!(
            binds(
                folder,
                &[
                    "cfg/a.conf:/etc/a.conf:ro".into(),
                    "/srv:/data".into(),
                    "../shared:/data".into(),
                ]
            )
            .unwrap(),
            ["/labs/shared:/data", "/labs/x/cfg/a.conf:/etc/a.conf:ro"]
        );
        assert_eq!(
            binds(folder, &["vol1".into()]).unwrap_err(),
            "bind \"vol1\" is not HOST:CONTAINER[:OPTIONS] (a named volume goes under `volumes:`)"
        );
    }

    #[test]
    fn env_file_lines() {
        assert_eq!(
            dotenv_line("export A=1 # one").unwrap(),
            Some(("A".into(), "1".into()))
        );
        assert_eq!(
            dotenv_line("B='x # y'").unwrap(),
            Some(("B".into(), "x # y".into()))
        );
        assert_eq!(
            dotenv_line("C=\"a\\nb\"").unwrap(),
            Some(("C".into(), "a\nb".into()))
        );
        assert_eq!(dotenv_line("  # c").unwrap(), None);
        assert_eq!(
            dotenv_line("just words").unwrap_err(),
            "\"just words\" is not KEY=VALUE"
        );
    }
}
