//! The kernel side of an attachment: ADD makes the tap (or takes the peer) and the wire, DEL
//! undoes exactly that, CHECK compares the kernel with the configuration, GC finds attachments
//! the runtime no longer knows in every namespace it can see.
//!
//! The kernel is the record, as everywhere in patchwire: an alternative name
//! `pwcni.NETWORK-HASH.ATTACHMENT-HASH` on the tap (tap mode) or on `CNI_IFNAME` (wire mode)
//! marks what this plugin made and for which `(network, container ID, ifname)` — the spec's
//! primary key. DEL and GC remove only what carries it, so a tap a user made by hand is never
//! touched, and a second DEL finds nothing and succeeds.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::CniError;
use super::config::{Config, Mode, at_least};
use crate::netns::{Netns, NetnsError, NsKey};
use crate::nl::link::{self, Link};
use crate::vm::{self, Mtu, TapSpec};
use crate::wire::{self, Datapath, Health, LinkOptions, WireError, WireRequest, World};

use crate::marks::{CNI_RECORD as RECORD, CNI_WIRE_MODE as WIRE_MODE};

/// Whether patchwire-cni made `link` (the tap) or recorded it (`CNI_IFNAME` in wire mode).
pub fn made(link: &Link) -> bool {
    crate::marks::is_cni_made(&link.altnames)
}

/// One attachment as the runtime names it.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS` (DEL may come without one).
    pub netns: Option<String>,
    /// `CNI_IFNAME`.
    pub ifname: String,
}

impl Attachment {
    /// The record naming this attachment of `config`'s network, in `config`'s mode.
    pub fn record(&self, config: &Config) -> String {
        let mark = record(&config.network, &self.container_id, &self.ifname);
        match config.mode {
            Mode::Tap(_) => mark,
            Mode::Wire { .. } => mark + WIRE_MODE,
        }
    }
}

/// The record naming one attachment of one network (FNV-1a: stable across builds, short
/// enough for an altname, collisions out of reach for the attachments of one host).
pub fn record(network: &str, container_id: &str, ifname: &str) -> String {
    format!(
        "{}{}",
        network_prefix(network),
        hex(fnv(&[container_id, ifname]))
    )
}

fn network_prefix(network: &str) -> String {
    format!("{RECORD}{}.", hex(fnv(&[network])))
}

fn fnv(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        let separator: &[u8] = if i == 0 { b"" } else { b"\0" };
        for byte in separator.iter().chain(part.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn hex(value: u64) -> String {
    format!("{value:016x}")
}

fn mac_text(mac: Option<[u8; 6]>) -> Option<String> {
    mac.map(|m| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

/// A kernel or namespace failure during an operation: not one of the spec's well-known codes.
fn internal(context: &str, error: impl std::fmt::Display) -> CniError {
    CniError::new(999, context, error.to_string())
}

fn open_netns(path: &str) -> Result<Netns, CniError> {
    Netns::open(Some(path)).map_err(|e| match e {
        NetnsError::NotFound { .. } | NetnsError::NotANetns { .. } => CniError::new(
            3,
            "container unknown or does not exist",
            format!("the container's network namespace {path} (CNI_NETNS) does not exist: {e}"),
        ),
        other => internal("cannot open the container's network namespace", other),
    })
}

fn require_prev_result<'c>(config: &'c Config, command: &str) -> Result<&'c Value, CniError> {
    config.prev_result.as_ref().ok_or_else(|| {
        CniError::new(
            7,
            "invalid network configuration",
            format!(
                "no prevResult: patchwire-cni is a chained plugin and {command} needs the result of \
                 the plugin before it (bridge, ptp, macvlan…); list it after one in a conflist"
            ),
        )
    })
}

/// The interface of this attachment that carries the record, if the namespace has it.
fn recorded(view: &mut wire::NsView, mark: &str) -> Result<Option<Link>, WireError> {
    Ok(view
        .all_links()?
        .into_iter()
        .find(|l| l.altnames.iter().any(|a| a == mark)))
}

/// Whether the previous result gives `ifname` (in `sandbox`) an IPv6 address.
fn has_ipv6(prev: &Value, ifname: &str, sandbox: &str) -> bool {
    let interfaces = prev["interfaces"].as_array().cloned().unwrap_or_default();
    prev["ips"].as_array().into_iter().flatten().any(|ip| {
        let ours = ip["interface"]
            .as_u64()
            .and_then(|i| interfaces.get(i as usize))
            .is_some_and(|i| {
                i["name"] == ifname && i["sandbox"].as_str().unwrap_or(sandbox) == sandbox
            });
        ours && ip["address"].as_str().is_some_and(|a| a.contains(':'))
    })
}

/// ADD: the tap (or the peer) wired to `CNI_IFNAME`; the result is `prevResult` plus the tap.
pub fn add(config: &Config, attachment: &Attachment) -> Result<Value, CniError> {
    let prev = require_prev_result(config, "ADD")?;
    let path = attachment.netns.as_deref().unwrap_or_default();
    let netns = open_netns(path)?;
    let mark = attachment.record(config);
    let mut world =
        World::sharing(&netns).map_err(|e| internal("reading the container's namespace", e))?;
    let view = world.home();
    let ifname = &attachment.ifname;
    let Some(container_end) = view
        .links_by_name(&[ifname])
        .map_err(|e| internal("reading the container's interfaces", e))?
        .pop()
        .flatten()
    else {
        return Err(CniError::new(
            7,
            "invalid network configuration",
            format!(
                "{ifname} (CNI_IFNAME) does not exist in {path}: patchwire-cni wires an interface an \
                 earlier plugin in the chain made; list it after that plugin"
            ),
        ));
    };
    let mut options = LinkOptions {
        datapath: config.datapath,
        tx_checksum: config.tx_checksum,
        ..LinkOptions::default()
    };
    if has_ipv6(prev, ifname, path) {
        options.keep_ipv6.push(ifname.clone());
    }

    let mut result = prev.clone();
    result["cniVersion"] = json!(config.cni_version);
    match &config.mode {
        Mode::Tap(tap) => {
            let tap_name = config.tap_name(ifname)?.unwrap_or_default();
            let existing = view
                .links_by_name(&[&tap_name])
                .map_err(|e| internal("reading the container's interfaces", e))?
                .pop()
                .flatten();
            let (tap_link, made) = match existing {
                // ADD again after a crash half-way: take up where it stopped.
                Some(link) if link.altnames.contains(&mark) => (link, false),
                Some(link) => {
                    return Err(CniError::new(
                        7,
                        "invalid network configuration",
                        format!(
                            "{tap_name} already exists in {path} (a {}); patchwire-cni makes the \
                             tap itself: set another \"tapName\"",
                            vm::kind_name(&link)
                        ),
                    ));
                }
                None => {
                    let spec = TapSpec {
                        name: tap_name.clone(),
                        mtu: Some(Mtu::From(ifname.clone())),
                        vnet_hdr: tap.vnet_hdr,
                        queues: tap.queues,
                        owner: tap.owner,
                        group: tap.group,
                    };
                    let link =
                        vm::tap_add(netns.try_clone().map_err(|e| internal("netns", e))?, &spec)
                            .map_err(|e| internal(&format!("creating tap {tap_name}"), e))?;
                    (link, true)
                }
            };
            let wired = (|| -> Result<(), CniError> {
                let view = world.home();
                if !tap_link.altnames.contains(&mark) {
                    let (message, flags) = link::altname(tap_link.index, &mark, true);
                    view.socket.request(message, flags).map_err(|e| {
                        internal(&format!("recording {tap_name} as this attachment's"), e)
                    })?;
                }
                wire::link(
                    netns.try_clone().map_err(|e| internal("netns", e))?,
                    &[WireRequest::new(&tap_name, ifname)],
                    &options,
                )
                .map_err(|e| internal(&format!("wiring {tap_name} to {ifname}"), e))?;
                Ok(())
            })();
            if let Err(error) = wired {
                if made {
                    let _ = world.home().socket.request(link::delete(tap_link.index), 0);
                }
                return Err(error);
            }
            let mut tap_entry = json!({
                "name": tap_name,
                "mac": mac_text(tap_link.mac).unwrap_or_default(),
                "sandbox": path,
            });
            if at_least(&config.cni_version, "1.1.0") {
                tap_entry["mtu"] = json!(container_end.mtu);
            }
            push_interface(&mut result, tap_entry);
            if config.vm_interface {
                let container = (container_end.name.as_str(), container_end.mac);
                add_vm_interface(
                    &mut result,
                    &tap_name,
                    container,
                    path,
                    &attachment.container_id,
                );
            }
        }
        Mode::Wire { peer } => {
            let found = view
                .links_by_name(&[peer])
                .map_err(|e| internal("reading the container's interfaces", e))?;
            if found[0].is_none() {
                return Err(CniError::new(
                    7,
                    "invalid network configuration",
                    format!(
                        "peer {peer} does not exist in {path}: wire mode joins two interfaces that are already there"
                    ),
                ));
            }
            let added_record = !container_end.altnames.contains(&mark);
            if added_record {
                let (message, flags) = link::altname(container_end.index, &mark, true);
                view.socket.request(message, flags).map_err(|e| {
                    internal(&format!("recording {ifname} as this attachment's"), e)
                })?;
            }
            if let Err(e) = wire::link(
                netns.try_clone().map_err(|e| internal("netns", e))?,
                &[WireRequest::new(ifname, peer)],
                &options,
            ) {
                if added_record {
                    let (message, flags) = link::altname(container_end.index, &mark, false);
                    let _ = world.home().socket.request(message, flags);
                }
                // patchwire's own refusal (a loop): the configuration's mistake, code 7, and
                // without the CLI's --allow-loop, which a CNI configuration cannot pass.
                return Err(match e {
                    WireError::Invalid(why) => CniError::new(
                        7,
                        "invalid network configuration",
                        format!(
                            "{} Name as peer an interface that does not lead back to {ifname}.",
                            why.replace(wire::ALLOW_LOOP_ADVICE, "")
                        ),
                    ),
                    e => internal(&format!("wiring {ifname} to {peer}"), e),
                });
            }
        }
    }
    Ok(result)
}

fn push_interface(result: &mut Value, entry: Value) -> usize {
    if !result["interfaces"].is_array() {
        result["interfaces"] = json!([]);
    }
    let list = result["interfaces"]
        .as_array_mut()
        .expect("made an array above");
    list.push(entry);
    list.len() - 1
}

/// tc-redirect-tap's pseudo-interface for the VM: named like the tap, sandbox = container ID,
/// the container interface's MAC, and a copy of that interface's IP configuration.
fn add_vm_interface(
    result: &mut Value,
    tap: &str,
    (container_name, container_mac): (&str, Option<[u8; 6]>),
    sandbox: &str,
    container_id: &str,
) {
    let container_index = result["interfaces"].as_array().and_then(|list| {
        list.iter().position(|i| {
            i["name"] == container_name && i["sandbox"].as_str().unwrap_or(sandbox) == sandbox
        })
    });
    let vm_index = push_interface(
        result,
        json!({
            "name": tap,
            "mac": mac_text(container_mac).unwrap_or_default(),
            "sandbox": container_id,
        }),
    );
    let copies: Vec<Value> = result["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|ip| {
            container_index.is_some()
                && ip["interface"].as_u64() == container_index.map(|i| i as u64)
        })
        .map(|ip| {
            let mut copy = ip.clone();
            copy["interface"] = json!(vm_index);
            copy
        })
        .collect();
    if let Some(ips) = result["ips"].as_array_mut() {
        ips.extend(copies);
    }
}

/// DEL: removes what ADD made for this attachment, if anything of it is left. A namespace that
/// is gone took everything with it.
pub fn del(config: &Config, attachment: &Attachment) -> Result<(), CniError> {
    let Some(path) = attachment.netns.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let netns = match Netns::open(Some(path)) {
        Ok(netns) => netns,
        Err(NetnsError::NotFound { .. } | NetnsError::NotANetns { .. }) => return Ok(()),
        Err(e) => return Err(internal("cannot open the container's network namespace", e)),
    };
    let mark = attachment.record(config);
    let mut world =
        World::sharing(&netns).map_err(|e| internal("reading the container's namespace", e))?;
    let Some(link) = recorded(world.home(), &mark)
        .map_err(|e| internal("reading the container's interfaces", e))?
    else {
        return orphaned_half(config, attachment, &netns, &mut world)
            .map_err(|e| internal("removing the rest of the attachment's wire", e));
    };
    remove(&netns, &mut world, &link, &mark).map_err(|e| internal("removing the attachment", e))
}

/// The tap is gone (deleted by hand, or by a VMM that should not have): what is left is
/// `CNI_IFNAME`'s half of the wire, redirecting into nothing. Removed when its filter names the
/// configured tap as its partner — so a wire someone else made is never touched.
fn orphaned_half(
    config: &Config,
    attachment: &Attachment,
    netns: &Netns,
    world: &mut World,
) -> Result<(), WireError> {
    let Ok(Some(tap)) = config.tap_name(&attachment.ifname) else {
        return Ok(());
    };
    let view = world.home();
    let Some(end) = view.links_by_name(&[&attachment.ifname])?.pop().flatten() else {
        return Ok(());
    };
    let Some(filter) = view.tc(end.index)?.wire_filter().cloned() else {
        return Ok(());
    };
    let orphaned = filter.wire_partner_name().as_deref() == Some(tap.as_str());
    // mirred reports ifindex 0 once its target is deleted.
    let target_gone = match filter.wire_target() {
        None | Some(crate::nl::link::IfIndex(0)) => true,
        Some(target) => view.link(target)?.is_none(),
    };
    if orphaned && target_gone {
        let netns = netns
            .try_clone()
            .map_err(|e| WireError::io("duplicating a netns fd", e))?;
        wire::unlink(netns, std::slice::from_ref(&end.name), false)?;
    }
    Ok(())
}

/// Undoes one attachment: its wire (both halves, even when one is already gone), then the tap
/// (tap mode) or the record (wire mode).
fn remove(netns: &Netns, world: &mut World, link: &Link, mark: &str) -> Result<(), WireError> {
    let view = world.home();
    let all = view.all_links()?;
    let indexes: Vec<_> = all.iter().map(|l| l.index).collect();
    view.load_tc_all(&indexes)?;
    let mut ends = Vec::new();
    for other in &all {
        let target = view
            .tc(other.index)?
            .wire_filter()
            .and_then(|f| f.wire_target());
        if other.index == link.index && target.is_some() || target == Some(link.index) {
            ends.push(other.name.clone());
        }
    }
    if !ends.is_empty() {
        wire::unlink(
            netns
                .try_clone()
                .map_err(|e| WireError::io("duplicating a netns fd", e))?,
            &ends,
            false,
        )?;
    }
    let view = world.home();
    if link.is_tap() && !mark.ends_with(WIRE_MODE) {
        view.socket
            .request(link::delete(link.index), 0)
            .map_err(|e| WireError::kernel(format!("deleting tap {}", link.name), e))?;
    } else {
        let (message, flags) = link::altname(link.index, mark, false);
        view.socket
            .request(message, flags)
            .map_err(|e| WireError::kernel(format!("removing the record from {}", link.name), e))?;
    }
    Ok(())
}

/// CHECK: the attachment's tap (or peer) and wire are there, healthy, and as configured. A tap
/// no VM has opened yet is the normal state right after ADD, not a failure.
pub fn check(config: &Config, attachment: &Attachment) -> Result<(), CniError> {
    require_prev_result(config, "CHECK")?;
    let path = attachment.netns.as_deref().unwrap_or_default();
    let netns = open_netns(path)?;
    let problems = problems(config, attachment, &netns)
        .map_err(|e| internal("reading the container's namespace", e))?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(CniError::new(
        100,
        "the patchwire wire is not as configured",
        problems.join("; "),
    ))
}

fn problems(
    config: &Config,
    attachment: &Attachment,
    netns: &Netns,
) -> Result<Vec<String>, WireError> {
    let mark = attachment.record(config);
    let ifname = &attachment.ifname;
    let path = attachment.netns.as_deref().unwrap_or_default();
    let mut world = World::sharing(netns)?;
    let mut problems = Vec::new();
    let recorded = recorded(world.home(), &mark)?;
    let (a, b) = match &config.mode {
        Mode::Tap(tap) => {
            let name = config.tap_name(ifname).ok().flatten().unwrap_or_default();
            let Some(link) = recorded else {
                return Ok(vec![format!(
                    "the tap {name} of this attachment is gone from {path} (deleted, or never made)"
                )]);
            };
            if link.name != name {
                problems.push(format!(
                    "the attachment's tap is named {}, the configuration says {name}",
                    link.name
                ));
            }
            // vnet_hdr is not compared: the kernel reports the flags of whoever holds the tap
            // now, and a VMM turns it on when it attaches (qemu does, even when not asked).
            if let Some(tun) = &link.tun {
                let mut differs = |what: &str, kernel: String, wanted: String| {
                    if kernel != wanted {
                        problems.push(format!(
                            "{}: {what} is {kernel}, the configuration says {wanted}",
                            link.name
                        ));
                    }
                };
                differs(
                    "multi_queue",
                    tun.multi_queue.to_string(),
                    (tap.queues > 1).to_string(),
                );
                differs(
                    "owner",
                    format!("{:?}", tun.owner),
                    format!("{:?}", tap.owner),
                );
                differs(
                    "group",
                    format!("{:?}", tun.group),
                    format!("{:?}", tap.group),
                );
            }
            (link.name.clone(), ifname.clone())
        }
        Mode::Wire { peer } => {
            if recorded.is_none() {
                return Ok(vec![format!(
                    "{ifname} in {path} carries no record of this attachment (never added, or removed)"
                )]);
            }
            (ifname.clone(), peer.clone())
        }
    };
    let wires = wire::show(
        netns
            .try_clone()
            .map_err(|e| WireError::io("duplicating a netns fd", e))?,
    )?;
    let Some(status) = wires.iter().find(|w| w.involves(&a)) else {
        problems.push(format!("{a} is not wired to {b} (no wire filter on {a})"));
        return Ok(problems);
    };
    if !status.involves(&b) {
        let other = if status.a.name == a {
            &status.b.name
        } else {
            &status.a.name
        };
        problems.push(format!("{a} is wired to {other}, not to {b}"));
        return Ok(problems);
    }
    if status.health == Health::Broken {
        problems.push(status.problems.join("; "));
    }
    if status.a_to_b.is_none() || status.b_to_a.is_none() {
        problems.push(format!("half a wire: only one direction between {a} and {b} is installed (repair: DEL and ADD again)"));
    }
    if status.datapath != config.datapath {
        let wanted = match config.datapath {
            Datapath::Tc => "tc",
            Datapath::Ebpf => "ebpf",
        };
        problems.push(format!(
            "the wire's datapath is {}, the configuration says {wanted}",
            status.datapath
        ));
    }
    for end in [&status.a, &status.b] {
        if end.present && !end.up && end.held_for.is_none() {
            problems.push(format!("{} is down", end.name));
        }
    }
    if let (Some(x), Some(y)) = (status.a.mtu, status.b.mtu)
        && x != y
    {
        problems.push(format!(
            "MTU mismatch: {} has {x}, {} has {y}: frames longer than the smaller are dropped",
            status.a.name, status.b.name
        ));
    }
    if let Some(want) = config.tx_checksum {
        // A tap's TX checksum offload belongs to the process holding it: qemu sets it to its
        // guest's (TUNSETOFFLOAD) once the virtio driver starts, and the kernel lets no one
        // else turn it on, so before a VM holds the tap it stays off whatever ADD asked. So a
        // tap end is never compared, held or not (as a lab leaves its VMs' taps' offloads
        // alone); the other end still is.
        let tap = |end: &&wire::EndStatus| end.attached.is_some();
        for end in [&status.a, &status.b].into_iter().filter(|e| !tap(e)) {
            if end.tx_checksum.is_some_and(|on| on != want) {
                problems.push(format!(
                    "{}: TX checksum offload is {}, the configuration says {}",
                    end.name,
                    on_off(!want),
                    on_off(want)
                ));
            }
        }
    }
    Ok(problems)
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// STATUS: can this host serve ADD? A tap needs /dev/net/tun; a wire needs netlink.
pub fn status(config: &Config) -> Result<(), CniError> {
    if let Mode::Tap(_) = config.mode
        && let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
    {
        return Err(CniError::new(
            50,
            "the plugin is not available",
            format!(
                "cannot open /dev/net/tun to make taps: {e} (load the tun module; in a container, pass the device in)"
            ),
        ));
    }
    crate::nl::RouteSocket::open().map(|_| ()).map_err(|e| {
        CniError::new(
            50,
            "the plugin is not available",
            format!("cannot open a netlink socket: {e}"),
        )
    })
}

/// GC: every attachment of this network that the runtime no longer lists is removed, in every
/// network namespace this host can see (named ones under /run/netns and those of running
/// processes). Errors do not stop the sweep; they are all reported at the end.
pub fn gc(config: &Config) -> Result<(), CniError> {
    let Some(valid) = &config.valid_attachments else {
        return Err(CniError::new(
            7,
            "invalid network configuration",
            "GC needs \"cni.dev/valid-attachments\" (the runtime adds it)",
        ));
    };
    let valid: HashSet<String> = valid
        .iter()
        .map(|(id, ifname)| record(&config.network, id, ifname))
        .flat_map(|mark| [mark.clone() + WIRE_MODE, mark])
        .collect();
    let prefix = network_prefix(&config.network);
    let mut errors = Vec::new();
    for (label, netns) in visible_namespaces() {
        let sweep = || -> Result<(), WireError> {
            let mut world = World::sharing(&netns)?;
            let stale: Vec<(Link, String)> = world
                .home()
                .all_links()?
                .into_iter()
                .filter_map(|l| {
                    let mark = l
                        .altnames
                        .iter()
                        .find(|a| a.starts_with(&prefix) && !valid.contains(*a))?
                        .clone();
                    Some((l, mark))
                })
                .collect();
            for (link, mark) in stale {
                remove(&netns, &mut world, &link, &mark)?;
            }
            Ok(())
        };
        if let Err(e) = sweep() {
            errors.push(format!("{label}: {e}"));
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(internal(
            "garbage collection left some attachments",
            errors.join("; "),
        )),
    }
}

/// Every network namespace reachable from here, once each: named ones first, then those of
/// running processes.
fn visible_namespaces() -> Vec<(String, Netns)> {
    let mut paths: Vec<String> = Vec::new();
    for dir in [crate::netns::NETNS_RUN_DIR, "/var/run/netns"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            paths.extend(
                entries
                    .flatten()
                    .map(|e| e.path().to_string_lossy().into_owned()),
            );
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        paths.extend(
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .map(|e| format!("/proc/{}/ns/net", e.file_name().to_string_lossy())),
        );
    }
    let mut seen: HashMap<NsKey, ()> = HashMap::new();
    let mut namespaces = Vec::new();
    for path in paths {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if seen.insert(NsKey::of(&meta), ()).is_some() {
            continue;
        }
        if let Ok(netns) = Netns::open(Some(&path)) {
            namespaces.push((path, netns));
        }
    }
    namespaces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_stable_and_keyed_by_the_whole_attachment() {
        let r = record("lab", "c1", "eth0");
        assert_eq!(r.len(), RECORD.len() + 16 + 1 + 16);
        assert!(r.starts_with(&network_prefix("lab")));
        assert_eq!(r, record("lab", "c1", "eth0"));
        assert_ne!(r, record("lab", "c1", "eth1"));
        assert_ne!(r, record("lab2", "c1", "eth0"));
        // The separator keeps ("c1e", "th0") apart from ("c1", "eth0").
        assert_ne!(record("lab", "c1e", "th0"), r);
        link::validate_name(&r)
            .expect_err("longer than an interface name: never collides with one");
    }

    #[test]
    fn the_vm_interface_copies_the_container_interface_ips() {
        let mut result = json!({
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/c"}],
            "ips": [{"address": "198.18.5.2/24", "gateway": "198.18.5.1", "interface": 2}],
        });
        push_interface(
            &mut result,
            json!({"name": "tapeth0", "sandbox": "/run/netns/c"}),
        );
        let eth0 = ("eth0", Some([2, 0, 0, 0, 0, 1]));
        add_vm_interface(&mut result, "tapeth0", eth0, "/run/netns/c", "c1");
        assert_eq!(
            result["interfaces"][4],
            json!({"name": "tapeth0", "mac": "02:00:00:00:00:01", "sandbox": "c1"})
        );
        assert_eq!(
            result["ips"][1],
            json!({"address": "198.18.5.2/24", "gateway": "198.18.5.1", "interface": 4})
        );
        assert!(has_ipv6(
            &json!({"interfaces": [{"name": "eth0"}], "ips": [{"address": "fd00::2/64", "interface": 0}]}),
            "eth0",
            "/x"
        ));
        assert!(!has_ipv6(&result, "eth0", "/run/netns/c"));
    }
}
