//! Every key a lab file may hold, by place: the one list the unknown-key checks, the
//! suggestions and the notes read. A key is honoured, or accepted with a note (`NOTED`: named
//! once in [`super::LabFile::notes`], "patchwire does not do …"), or refused with a reason
//! (kinds and link types, in `clab.rs`). docs/containerlab.md has the same table.

/// The top level: patchwire's keys and containerlab's.
pub(super) const TOP: &[&str] = &[
    "name", "prefix", "mgmt", "settings", "hosts", "defaults", "vxlan", "topology",
];
/// `topology:`.
pub(super) const TOPOLOGY: &[&str] = &["nodes", "links", "mirrors", "defaults", "kinds", "groups"];
/// patchwire's own `defaults:` (top level).
pub(super) const DEFAULTS: &[&str] = &["mtu", "tx-checksum", "datapath", "impair"];
/// `vxlan:`.
pub(super) const VXLAN: &[&str] = &["port"];
/// An entry of `hosts:`.
pub(super) const HOST: &[&str] = &["address"];
/// `mgmt:`, honoured (the deprecated `ipv4_subnet`/`ipv6_subnet` spellings too, as containerlab).
pub(super) const MGMT: &[&str] = &[
    "network",
    "bridge",
    "ipv4-subnet",
    "ipv6-subnet",
    "mtu",
    "ipv4_subnet",
    "ipv6_subnet",
    "ipv4-gw",
    "ipv4-range",
    "ipv6-gw",
    "ipv6-range",
    "external-access",
    "skip-when-unused",
    "driver-opts",
];
/// `mgmt:` keys accepted with a note.
pub(super) const MGMT_NOTED: &[(&str, &str)] = &[
    (
        "ipv4-gw",
        "the runtime picks the gateway of the management network",
    ),
    ("ipv4-range", "the runtime allocates from the whole subnet"),
    (
        "ipv6-gw",
        "the runtime picks the gateway of the management network",
    ),
    ("ipv6-range", "the runtime allocates from the whole subnet"),
    (
        "external-access",
        "the runtime's own NAT and firewall rules apply",
    ),
    (
        "skip-when-unused",
        "the network is made when a container node needs it",
    ),
    (
        "driver-opts",
        "the network is made with the runtime's defaults",
    ),
];
/// A node, and `topology.defaults`, `kinds.KIND`, `groups.GROUP` (containerlab's node
/// definition): patchwire's keys, then containerlab's honoured ones, then its noted ones.
pub(super) const NODE: &[&str] = &[
    // patchwire
    "kind",
    "host",
    "netns",
    "owner",
    "group",
    "vnet-hdr",
    "queues",
    // containerlab, honoured
    "image",
    "cmd",
    "entrypoint",
    "hostname",
    "env",
    "env-files",
    "binds",
    "ports",
    "user",
    "labels",
    "network-mode",
    "cpu",
    "memory",
    "sysctls",
    "devices",
    "cap-add",
    "privileged",
    "mgmt-ipv4",
    "mgmt-ipv6",
    "exec",
    // containerlab, noted
    "type",
    "startup-config",
    "startup-delay",
    "enforce-startup-config",
    "suppress-startup-config",
    "auto-remove",
    "restart-policy",
    "config",
    "image-pull-policy",
    "license",
    "position",
    "volumes",
    "cgroupns-mode",
    "cgroup-parent",
    "pid-mode",
    "tmpfs",
    "security-opts",
    "shm-size",
    "runtime",
    "cpu-set",
    "extras",
    "stages",
    "dns",
    "certificate",
    "healthcheck",
    "credentials",
    "username",
    "password",
    "aliases",
    "components",
    "link-apply-mode",
];
/// Node keys accepted with a note, and why patchwire does not act on them.
pub(super) const NODE_NOTED: &[(&str, &str)] = &[
    (
        "type",
        "a vendor kind's variant; a linux container has none",
    ),
    (
        "startup-config",
        "vendor configuration; use `binds:` and `exec:`",
    ),
    (
        "startup-delay",
        "nodes start together, then links are wired",
    ),
    ("enforce-startup-config", "vendor configuration"),
    ("suppress-startup-config", "vendor configuration"),
    ("auto-remove", "containers are removed by `down`"),
    (
        "restart-policy",
        "containers run with the runtime's default policy",
    ),
    ("config", "containerlab's configuration engine"),
    (
        "image-pull-policy",
        "images are never pulled; the runtime must hold them",
    ),
    ("license", "vendor licences"),
    ("position", "graph positions"),
    ("volumes", "named volumes; use `binds:`"),
    ("cgroupns-mode", "the runtime's default applies"),
    ("cgroup-parent", "the runtime's default applies"),
    ("pid-mode", "the runtime's default applies"),
    ("tmpfs", "the runtime's default applies"),
    ("security-opts", "the runtime's default applies"),
    ("shm-size", "the runtime's default applies"),
    ("runtime", "one runtime runs the lab (`--runtime`)"),
    ("cpu-set", "the runtime's default applies"),
    ("extras", "vendor kinds' extras"),
    (
        "stages",
        "containerlab's deployment stages; nodes start together",
    ),
    ("dns", "the runtime's DNS settings apply"),
    ("certificate", "containerlab's certificate authority"),
    ("healthcheck", "containers run without a health check"),
    ("credentials", "vendor logins"),
    ("username", "vendor logins"),
    ("password", "vendor logins"),
    ("aliases", "network aliases on the management network"),
    ("components", "vendor line cards"),
    (
        "link-apply-mode",
        "links are wired live, containers are never restarted for them",
    ),
];
/// A link, any `type:` (which keys a type takes is checked with the type).
pub(super) const LINK: &[&str] = &[
    "endpoints",
    "endpoint",
    "mtu",
    "tx-checksum",
    "vni",
    "datapath",
    "type",
    "host-interface",
    "mode",
    "remote",
    "udp-port",
    "dst-port",
    "src-port",
    "parent-interface",
    "dev",
    "vars",
    "labels",
    "ipv4",
    "ipv6",
    "impair",
    "state",
    "flap",
];
/// A link's `flap:`.
pub(super) const FLAP: &[&str] = &["down", "up", "seed", "count"];
/// One direction of a link's `impair:` (and `defaults.impair`): `patchwire impair`'s options.
pub(super) const IMPAIR: &[&str] = &[
    "delay",
    "jitter",
    "distribution",
    "loss",
    "loss-burst",
    "corrupt",
    "duplicate",
    "reorder",
    "rate",
    "burst",
];
/// Link keys accepted with a note.
pub(super) const LINK_NOTED: &[(&str, &str)] = &[
    ("vars", "containerlab's template variables"),
    ("labels", "containerlab's link labels"),
    ("ipv4", "addresses on links; use `exec:` to set them"),
    ("ipv6", "addresses on links; use `exec:` to set them"),
    ("src-port", "the kernel picks VXLAN source ports"),
];
/// An endpoint written as a mapping.
pub(super) const ENDPOINT: &[&str] = &["node", "interface", "mac", "ipv4", "ipv6", "vars"];
/// Endpoint keys accepted with a note.
pub(super) const ENDPOINT_NOTED: &[(&str, &str)] = &[
    ("ipv4", "addresses on endpoints; use `exec:` to set them"),
    ("ipv6", "addresses on endpoints; use `exec:` to set them"),
    ("vars", "containerlab's template variables"),
];
/// A mirror.
pub(super) const MIRROR: &[&str] = &[
    "name",
    "from",
    "to",
    "direction",
    "vlan",
    "output-vlan",
    "filter",
];
/// Top-level keys accepted with a note.
pub(super) const TOP_NOTED: &[(&str, &str)] = &[(
    "settings",
    "containerlab's certificate authority and lab settings",
)];

/// The places whose keys are known, for "belongs under …" hints.
pub(super) const PLACES: &[(&str, &[&str])] = &[
    ("at the top level", TOP),
    ("under `topology:`", TOPOLOGY),
    ("in a node", NODE),
    ("in a link", LINK),
];

/// Where a key unknown here belongs, when it belongs somewhere else: "`kinds` belongs under
/// `topology:`".
pub(super) fn elsewhere(key: &str, here: &[&str]) -> Option<&'static str> {
    if here.contains(&key) {
        return None;
    }
    PLACES
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(place, _)| *place)
}

/// Other tools' names for a key (docker, compose, Kubernetes): `environment:` is `env:`.
/// A word is matched as the keys are, a near miss of it too (`enviroment`); it is offered only
/// where its key is valid. Host-name typos (`host-name`, `host_name`, `hostnmae`) are near
/// misses of `hostname` itself and need no entry.
pub(super) const SYNONYMS: &[(&str, &str)] = &[
    ("environment", "env"),
    ("command", "cmd"),
    ("mounts", "binds"),
    ("capabilities", "cap-add"),
    ("publish", "ports"),
    ("mem-limit", "memory"),
];

/// The key `key` (unknown where it stands) means under another tool's name, when that key
/// is one of `here`.
pub(super) fn synonym(key: &str, here: &[&str]) -> Option<&'static str> {
    let words: Vec<&str> = SYNONYMS.iter().map(|(w, _)| *w).collect();
    let word = crate::suggest::suggestion(key, &words)?;
    SYNONYMS
        .iter()
        .find(|(w, k)| *w == word && here.contains(k))
        .map(|(_, k)| *k)
}

/// An endpoint's own key written on a link (or a node): `mac`, `interface`, `node`.
pub(super) fn endpoint_key(key: &str, here: &[&str]) -> bool {
    let own: &[&str] = match here {
        h if h == LINK => &["mac", "interface", "node"],
        h if h == NODE => &["mac", "interface"],
        _ => &[],
    };
    own.contains(&key)
}

/// Why a noted key is not acted on.
pub(super) fn noted(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, why)| *why)
}
