//! Interfaces a lab makes in a node itself rather than through the panel: containerlab's
//! single-ended `type: macvlan` (a macvlan of a host interface, moved into the node as the
//! endpoint) and `type: dummy` links. Each carries a record (`names::device_record`) so a
//! later run finds it: made again when its kind, lower interface, mode, MTU or MAC differ;
//! deleted when the file drops it, and by `down` from namespaces the lab does not own.

use std::collections::BTreeSet;

use super::LabError;
use super::desired::{Desired, Device, DeviceKind, NodeHome, macvlan_mode, show_mac};
use super::file::Endpoint;
use super::names;
use super::observe::{Actual, NsState};
use super::plan::Change;
use crate::netns::Netns;
use crate::nl::link;

/// The devices of this lab in the namespaces of its nodes (owned ones that are the lab's,
/// and existing ones).
pub fn observe(desired: &Desired, actual: &mut Actual) -> Result<(), LabError> {
    let mut specs = BTreeSet::new();
    for home in desired.nodes.values() {
        let ready = match home {
            NodeHome::Owned { netns, .. } => actual.namespaces.get(netns) == Some(&NsState::Ours),
            NodeHome::Existing { .. } => true,
        };
        // Every ready namespace, also one where the file now wants no device: a macvlan or
        // dummy whose link left the file is still there until `up` deletes it.
        if ready {
            specs.insert(home.spec().to_string());
        }
    }
    for spec in specs {
        let Ok(netns) = Netns::open(Some(&spec)) else {
            continue;
        };
        let mut socket = netns.route()?;
        let links = link::list(&mut socket)
            .map_err(|e| LabError::system(format!("listing the links of netns {spec}: {e}"), e))?;
        let owned = desired
            .nodes
            .values()
            .any(|h| matches!(h, NodeHome::Owned { .. }) && h.spec() == spec);
        for found in links {
            let record = found
                .altnames
                .iter()
                .find_map(|a| names::parse_device_record(a))
                .filter(|(lab, _)| *lab == desired.lab);
            if let Some((_, endpoint)) = record {
                actual.devices.insert(endpoint, (spec.clone(), found));
                continue;
            }
            // In the lab's own namespace, an unrecorded interface of a wanted device's name and
            // kind is one an `up` killed before recording it: taken as the lab's (made again).
            let unrecorded = desired.devices.iter().find(|(e, d)| {
                owned
                    && e.interface == found.name
                    && desired.nodes.get(&e.node).map(NodeHome::spec) == Some(spec.as_str())
                    && found.kind.as_deref() == Some(d.kernel_kind())
                    && !found
                        .altnames
                        .iter()
                        .any(|a| a.starts_with(crate::marks::DEVICE_RECORD))
            });
            if let Some((endpoint, _)) = unrecorded {
                actual
                    .devices
                    .insert(endpoint.clone(), (spec.clone(), found));
            }
        }
    }
    Ok(())
}

/// Why a found device is not the one the file asks for (`None`: it is).
fn differs(
    desired: &Desired,
    endpoint: &Endpoint,
    device: &Device,
    found: &link::Link,
) -> Option<String> {
    let record = names::device_record(&desired.lab, &device.parameters(), endpoint);
    if !found.altnames.contains(&record) {
        let recorded = found
            .altnames
            .iter()
            .any(|a| a.starts_with(crate::marks::DEVICE_RECORD));
        return Some(match recorded {
            true => format!("now {}", device.describe()),
            false => "not recorded: an interrupted up made it".into(),
        });
    }
    if found.mtu != device.mtu {
        return Some(format!("mtu {} -> {}", found.mtu, device.mtu));
    }
    match (device.mac, found.mac) {
        (Some(mac), Some(was)) if mac != was => {
            Some(format!("mac {} -> {}", show_mac(&was), show_mac(&mac)))
        }
        _ => None,
    }
}

/// (deletions, creations): devices not wanted or made otherwise go; wanted ones missing are
/// made. Devices in namespaces made now are made with them.
pub fn changes(
    desired: &Desired,
    actual: &Actual,
    remade: &BTreeSet<String>,
) -> (Vec<Change>, Vec<Change>) {
    let mut deletions = Vec::new();
    let mut creations = Vec::new();
    for (endpoint, (spec, found)) in &actual.devices {
        if remade.contains(spec) {
            continue;
        }
        let why = match desired.devices.get(endpoint) {
            None => Some("not in the file".to_string()),
            Some(device) => differs(desired, endpoint, device, found),
        };
        if let Some(why) = why {
            deletions.push(Change::DeleteDevice {
                endpoint: endpoint.to_string(),
                netns: spec.clone(),
                why,
            });
        }
    }
    for (endpoint, device) in &desired.devices {
        let Some(home) = desired.nodes.get(&endpoint.node) else {
            continue;
        };
        let kept = actual.devices.get(endpoint).is_some_and(|(spec, found)| {
            !remade.contains(spec) && differs(desired, endpoint, device, found).is_none()
        });
        if !kept {
            creations.push(Change::CreateDevice {
                endpoint: endpoint.to_string(),
                netns: home.spec().to_string(),
                what: device.describe(),
                mtu: device.mtu,
            });
        }
    }
    (deletions, creations)
}

/// Gives each macvlan whose link sets no `mtu:` its parent's MTU, read in the host's namespace
/// (containerlab's rule, links/link_macvlan.go: the macvlan's MTU is its parent's). A parent
/// that is not there keeps the placeholder: [`preflight`] names it.
pub fn inherit_parent_mtus(desired: &mut Desired) -> Result<(), LabError> {
    let wanted = desired
        .devices
        .values()
        .any(|d| d.mtu == crate::lab::file::PARENT_MTU);
    if !wanted {
        return Ok(());
    }
    let mut host = Netns::open(Some(&desired.host_netns))?.route()?;
    for device in desired.devices.values_mut() {
        let DeviceKind::Macvlan { lower, .. } = &device.kind else {
            continue;
        };
        if device.mtu != crate::lab::file::PARENT_MTU {
            continue;
        }
        match link::parse_one(host.request_raw(link::get_by_name(lower), 0)) {
            Ok(found) => device.mtu = found.mtu,
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => {
                return Err(LabError::system(
                    format!("looking up {lower} in the host's namespace: {e}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// What can still refuse before anything changes: a macvlan's host interface must exist in
/// the host's namespace, and the kernel must make dummies (tried in a scratch namespace; this
/// project's own kernel has no dummy module).
pub fn preflight(desired: &Desired, changes: &[Change]) -> Result<(), LabError> {
    let mut refusals = Vec::new();
    let mut dummy_tried: Option<Result<(), String>> = None;
    for change in changes {
        let Change::CreateDevice { endpoint, .. } = change else {
            continue;
        };
        let Some((e, device)) = desired
            .devices
            .iter()
            .find(|(e, _)| e.to_string() == *endpoint)
        else {
            continue;
        };
        let at = format!(
            "{}:{}:{}: link of {e}",
            desired.path, device.line, device.column
        );
        match &device.kind {
            DeviceKind::Macvlan { lower, .. } => {
                let mut host = Netns::open(Some(&desired.host_netns))?.route()?;
                match link::parse_one(host.request_raw(link::get_by_name(lower), 0)) {
                    // The kernel refuses a macvlan larger than its lower interface (EINVAL).
                    Ok(found) if device.mtu > found.mtu => refusals.push(format!(
                        "{at} (type: macvlan): mtu {} is more than {lower}'s mtu {}: give the \
                         link mtu: {} or less (or raise {lower}'s)",
                        device.mtu, found.mtu, found.mtu
                    )),
                    Ok(_) => {}
                    Err(e) if e.errno() == Some(libc::ENODEV) => refusals.push(format!(
                        "{at} (type: macvlan): the host's namespace has no interface {lower} \
                         (host-interface) to make the macvlan on"
                    )),
                    Err(e) => refusals.push(format!("{at}: looking up {lower}: {e}")),
                }
            }
            DeviceKind::Dummy => {
                let tried = dummy_tried.get_or_insert_with(try_dummy);
                if let Err(why) = tried {
                    refusals.push(format!(
                        "{at} (type: dummy): this kernel cannot make dummy interfaces ({why}): \
                         it needs the kernel module dummy (modprobe dummy, or a kernel with \
                         CONFIG_DUMMY); patchwire doctor checks for it"
                    ));
                }
            }
        }
    }
    match refusals.is_empty() {
        true => Ok(()),
        false => Err(LabError::Invalid(refusals.join("; "))),
    }
}

/// Makes a dummy in a private namespace of its own (gone with it): `Err` says why not.
fn try_dummy() -> Result<(), String> {
    let scratch = Netns::create_private("dummy probe").map_err(|e| e.to_string())?;
    let mut socket = scratch.route().map_err(|e| e.to_string())?;
    crate::link::try_dummy(&mut socket, scratch.fd()).map_err(|e| e.to_string())
}

/// Deletes the devices of `DeleteDevice` changes.
pub fn delete(desired: &Desired, changes: &[Change]) -> Result<(), LabError> {
    for change in changes {
        if let Change::DeleteDevice {
            endpoint, netns, ..
        } = change
        {
            let interface = endpoint.split_once(':').map_or("", |(_, i)| i);
            // In the lab's own namespace, an unrecorded one was planned as the lab's too.
            let owned = desired
                .nodes
                .values()
                .any(|h| matches!(h, NodeHome::Owned { .. }) && h.spec() == netns);
            delete_one(&desired.lab, netns, interface, owned)?;
        }
    }
    Ok(())
}

/// Deletes one device of this lab (its record checked: never someone else's interface;
/// `owned`: the namespace is the lab's own, where anything is the lab's).
pub fn delete_one(lab: &str, spec: &str, interface: &str, owned: bool) -> Result<(), LabError> {
    let mut socket = Netns::open(Some(spec))?.route()?;
    let found = match link::parse_one(socket.request_raw(link::get_by_name(interface), 0)) {
        Ok(found) => found,
        Err(e) if e.errno() == Some(libc::ENODEV) => return Ok(()),
        Err(e) => {
            return Err(LabError::system(
                format!("looking up {interface} in {spec}: {e}"),
                e,
            ));
        }
    };
    let ours = found
        .altnames
        .iter()
        .any(|a| names::parse_device_record(a).is_some_and(|(l, _)| l == lab));
    if ours || owned {
        socket
            .request(link::delete(found.index), 0)
            .map_err(|e| LabError::system(format!("deleting {interface} in {spec}: {e}"), e))?;
    }
    Ok(())
}

/// Makes the devices of `CreateDevice` changes: from the host's namespace (where a macvlan's
/// lower interface is) straight into the node's, recorded, then up.
pub fn create(desired: &Desired, changes: &[Change]) -> Result<(), LabError> {
    for change in changes {
        let Change::CreateDevice {
            endpoint, netns, ..
        } = change
        else {
            continue;
        };
        let Some((endpoint, device)) = desired
            .devices
            .iter()
            .find(|(e, _)| e.to_string() == *endpoint)
        else {
            continue;
        };
        let node = Netns::open(Some(netns))?;
        let mut host = Netns::open(Some(&desired.host_netns))?.route()?;
        let name = &endpoint.interface;
        let request = match &device.kind {
            DeviceKind::Macvlan { lower, mode } => {
                let lower = link::parse_one(host.request_raw(link::get_by_name(lower), 0))
                    .map_err(|e| {
                        LabError::system(
                            format!("looking up {lower} in the host's namespace: {e}"),
                            e,
                        )
                    })?;
                link::add_macvlan(
                    name,
                    lower.index,
                    macvlan_mode(mode).unwrap_or(4),
                    device.mtu,
                    device.mac,
                    node.fd(),
                )
            }
            DeviceKind::Dummy => link::add_dummy(name, device.mtu, device.mac, node.fd()),
        };
        host.request(request.0, request.1).map_err(|e| {
            let hint = match e.errno() {
                Some(libc::EEXIST) => format!(
                    ": netns {netns} already has an interface {name} that the lab did not \
                     make; remove it or give the endpoint another name"
                ),
                _ => String::new(),
            };
            LabError::system(
                format!(
                    "creating {} {endpoint} in {netns}: {e}{hint}",
                    device.kernel_kind()
                ),
                e,
            )
        })?;
        let mut socket = node.route()?;
        let made = link::parse_one(socket.request_raw(link::get_by_name(name), 0))
            .map_err(|e| LabError::system(format!("looking up {name} in {netns}: {e}"), e))?;
        let record = names::device_record(&desired.lab, &device.parameters(), endpoint);
        let (message, flags) = link::altname(made.index, &record, true);
        socket
            .request(message, flags)
            .and_then(|_| socket.request(link::set_up(made.index, true), 0))
            .map_err(|e| LabError::system(format!("recording {endpoint} in {netns}: {e}"), e))?;
    }
    Ok(())
}
