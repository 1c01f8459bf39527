//! What a container or a management network should be, as plain data: the lab file fills it
//! (containerlab's keys, after node > group > kind > defaults precedence and `${VAR}`
//! expansion), the runtime makes it. Paths are absolute here (binds and env-files resolved
//! against the lab file's folder by the reader).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// One container node (containerlab `kind: linux` with an `image:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSpec {
    /// The container's name: `clab-LAB-NODE` under containerlab's `prefix:` rules. Its network
    /// namespace is registered under /run/netns by the same name.
    pub name: String,
    /// The node's name, the container's hostname.
    pub hostname: String,
    /// `image:`, as written (the runtime resolves it; nothing is pulled by patchwire).
    pub image: String,
    /// `cmd:`: the command, split like a shell would (containerlab splits it with shlex).
    pub cmd: Option<Vec<String>>,
    /// `entrypoint:`, split the same way.
    pub entrypoint: Option<Vec<String>>,
    /// `env:` merged over the `env-files:` (node > group > kind > defaults).
    pub env: BTreeMap<String, String>,
    /// `binds:` as `HOST:CONTAINER[:OPTIONS]`, HOST made absolute against the file's folder.
    pub binds: Vec<String>,
    /// `ports:` as the runtime's `-p` takes them (`[IP:]HOST:CONTAINER[/PROTO]`).
    pub ports: Vec<String>,
    /// `user:`.
    pub user: Option<String>,
    /// `labels:` of the file, plus the lab's own (`marks`), which are the record of what runs.
    pub labels: BTreeMap<String, String>,
    /// `network-mode:` (`none`, `host`, `container:NAME`); `None`: the management network.
    pub network_mode: Option<String>,
    /// `mgmt-ipv4:`: a static address on the management network.
    pub mgmt_ipv4: Option<Ipv4Addr>,
    /// `mgmt-ipv6:`.
    pub mgmt_ipv6: Option<Ipv6Addr>,
    /// `cpu:` as written (CPUs, fractional: `1.5`).
    pub cpu: Option<String>,
    /// `memory:` as written (`1Gb`, `512MiB`: the runtime reads it).
    pub memory: Option<String>,
    /// `sysctls:`.
    pub sysctls: BTreeMap<String, String>,
    /// `devices:` (`/dev/net/tun`, `HOST:CONTAINER[:PERMS]`).
    pub devices: Vec<String>,
    /// `cap-add:`.
    pub cap_add: Vec<String>,
    /// `privileged:`; containerlab runs its containers privileged unless a node says `false`.
    pub privileged: bool,
}

impl ContainerSpec {
    /// A node with only an `image:`, as containerlab runs `kind: linux`: the image's own
    /// command, privileged, nothing else set (the fields are public to set the rest).
    pub fn new(name: &str, hostname: &str, image: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            hostname: hostname.into(),
            image: image.into(),
            cmd: None,
            entrypoint: None,
            env: BTreeMap::new(),
            binds: Vec::new(),
            ports: Vec::new(),
            user: None,
            labels: BTreeMap::new(),
            network_mode: None,
            mgmt_ipv4: None,
            mgmt_ipv6: None,
            cpu: None,
            memory: None,
            sysctls: BTreeMap::new(),
            devices: Vec::new(),
            cap_add: Vec::new(),
            privileged: true,
        }
    }
}

/// The management network the lab's containers' eth0 join (containerlab's `mgmt:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    /// `mgmt.network` (default `clab`).
    pub name: String,
    /// `mgmt.ipv4-subnet` (default 172.20.20.0/24), as written (`A.B.C.D/N`).
    pub ipv4_subnet: Option<String>,
    /// `mgmt.ipv6-subnet` (default 3fff:172:20:20::/64).
    pub ipv6_subnet: Option<String>,
    /// `mgmt.bridge`: the Linux bridge's name; `None`: the runtime names it.
    pub bridge: Option<String>,
    /// `mgmt.mtu`.
    pub mtu: Option<u32>,
}
