//! What the host's namespace holds of a lab, and what a node-side interface must look like:
//! `kind: bridge` endpoints (a veth whose host side is a port of the user's bridge, its other
//! end a panel port, so mirrors, capture and `show --lab` see it like any endpoint), the host
//! sides of `type: host` and `mgmt-net` links, and endpoint `mac:` addresses.
//!
//! The host's namespace is the one the lab command runs in ([`super::desired::host_netns`]).
//! The lab never creates, changes or deletes a bridge there: it only plugs its own veths in,
//! and `down` deletes those veths (with their panel ports) and nothing else.

use std::collections::BTreeMap;

use super::LabError;
use super::desired::{Desired, Port, show_mac};
use super::observe::Actual;
use super::plan::Change;
use crate::netns::Netns;
use crate::nl::RouteSocket;
use crate::nl::link::{self, Link};

/// The interfaces of `names` in the namespace of `socket` that exist (ENODEV: absent).
fn lookup(socket: &mut RouteSocket, names: &[String]) -> Result<BTreeMap<String, Link>, LabError> {
    let mut found = BTreeMap::new();
    for name in names {
        match link::parse_one(socket.request_raw(link::get_by_name(name), 0)) {
            Ok(l) => {
                found.insert(name.clone(), l);
            }
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => {
                let context = format!("looking up {name} in {}", socket.describe());
                return Err(crate::wire::WireError::kernel(context, e).into());
            }
        }
    }
    Ok(found)
}

/// The bridges the lab needs, and the far ends of existing ports that carry a `mac:` or a
/// bridge to be a port of.
pub fn observe(desired: &Desired, actual: &mut Actual) -> Result<(), LabError> {
    if !desired.bridges.is_empty() {
        let mut host = Netns::open(Some(&desired.host_netns))?.route()?;
        let names: Vec<String> = desired.bridges.keys().cloned().collect();
        actual.bridges = lookup(&mut host, &names)?;
    }
    let mut by_home: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for port in desired.ports.values() {
        if (port.mac.is_none() && port.master.is_none()) || !actual.ports.contains_key(&port.name) {
            continue;
        }
        if let Some((home, far)) = desired.far_end(port) {
            by_home
                .entry(home)
                .or_default()
                .push((port.name.clone(), far));
        }
    }
    for (home, ends) in by_home {
        let Ok(netns) = Netns::open(Some(&home)) else {
            continue;
        };
        let mut socket = netns.route()?;
        let names: Vec<String> = ends.iter().map(|(_, far)| far.clone()).collect();
        let found = lookup(&mut socket, &names)?;
        for (port, far) in ends {
            if let Some(l) = found.get(&far) {
                actual.far_ends.insert(port, l.clone());
            }
        }
    }
    Ok(())
}

/// MACs and bridge membership to put back on ports that exist and stay (a port made now gets
/// both when it is made).
pub fn changes(desired: &Desired, actual: &Actual, planned: &[Change]) -> Vec<Change> {
    let remade = |name: &str| {
        planned.iter().any(|c| match c {
            Change::CreatePort { port, .. } | Change::DeletePort { port, .. } => port == name,
            _ => false,
        })
    };
    let mut changes = Vec::new();
    for port in desired.ports.values() {
        let Some(far) = actual.far_ends.get(&port.name) else {
            continue;
        };
        if remade(&port.name) {
            continue;
        }
        if let (Some(mac), Some(was)) = (port.mac, far.mac)
            && mac != was
        {
            changes.push(Change::SetMac {
                port: port.name.clone(),
                endpoint: port.label(),
                mac: show_mac(&mac),
                was: show_mac(&was),
            });
        }
        if let Some(bridge) = &port.master {
            let index = actual.bridges.get(bridge).map(|b| b.index);
            if index.is_some() && far.master != index {
                changes.push(Change::SetMaster {
                    port: port.name.clone(),
                    endpoint: port.label(),
                    bridge: bridge.clone(),
                });
            }
        }
    }
    changes
}

/// What `plan` refuses before anything changes: the file's refusals (a `mgmt-net` link
/// without a known bridge), and bridges that are missing from the host's namespace or are not
/// bridges.
pub fn preflight(desired: &Desired) -> Result<(), LabError> {
    let mut refusals = desired.refusals.clone();
    if !desired.bridges.is_empty() {
        let mut host = Netns::open(Some(&desired.host_netns))?.route()?;
        let names: Vec<String> = desired.bridges.keys().cloned().collect();
        let found = lookup(&mut host, &names)?;
        for (bridge, who) in &desired.bridges {
            match found.get(bridge) {
                None => refusals.push(format!(
                    "{who}: there is no bridge {bridge} in the host's network namespace; create \
                     it first (ip link add {bridge} type bridge; ip link set {bridge} up) — or, \
                     for a node, write kind: hub to have patchwire join its links in a \
                     transparent segment with no bridge at all"
                )),
                Some(l) if l.kind.as_deref() != Some("bridge") => refusals.push(format!(
                    "{who}: {bridge} in the host's network namespace is not a bridge (it is {}); \
                     a bridge node names a Linux bridge",
                    l.kind.as_deref().unwrap_or("an interface of no kind")
                )),
                Some(_) => {}
            }
        }
    }
    match refusals.is_empty() {
        true => Ok(()),
        false => Err(LabError::Invalid(refusals.join("; "))),
    }
}

/// Gives the far ends of `ports` their `mac:` and makes them ports of their bridge, where
/// they differ (ports just made, and `SetMac`/`SetMaster` changes).
pub fn settle(desired: &Desired, ports: &[&Port]) -> Result<(), LabError> {
    let mut by_home: BTreeMap<String, Vec<(&Port, String)>> = BTreeMap::new();
    for port in ports {
        if port.mac.is_none() && port.master.is_none() {
            continue;
        }
        if let Some((home, far)) = desired.far_end(port) {
            by_home.entry(home).or_default().push((port, far));
        }
    }
    for (home, ends) in by_home {
        let mut socket = Netns::open(Some(&home))?.route()?;
        let mut names: Vec<String> = ends.iter().map(|(_, far)| far.clone()).collect();
        names.extend(ends.iter().filter_map(|(p, _)| p.master.clone()));
        let found = lookup(&mut socket, &names)?;
        for (port, far) in &ends {
            let Some(end) = found.get(far) else {
                return Err(LabError::Invalid(format!(
                    "{far} was made in {home} but is not there any more (another program \
                     removed it?): run up again"
                )));
            };
            let mut requests = Vec::new();
            if let Some(mac) = port.mac
                && end.mac != Some(mac)
            {
                requests.push(link::set_address(end.index, mac));
            }
            if let Some(bridge) = &port.master {
                let Some(master) = found.get(bridge) else {
                    return Err(LabError::Invalid(format!(
                        "bridge {bridge} is gone from the host's namespace: create it again and \
                         run up"
                    )));
                };
                if end.master != Some(master.index) {
                    requests.push(link::set_master(end.index, master.index));
                }
            }
            for request in requests {
                socket.request(request, 0).map_err(|e| {
                    LabError::system(
                        format!("setting {} ({far} in {home}): {e}", port.label()),
                        e,
                    )
                })?;
            }
        }
    }
    Ok(())
}
