//! The management network's bridge, where `type: mgmt-net` links' host sides are plugged:
//! asked of the runtime (or still to come before `up` makes the network), and the refusal of
//! `mgmt.bridge` by a podman that cannot name it.

use super::*;

/// Whether the file has a `type: mgmt-net` link whose node is on this host.
pub(super) fn has_mgmt_links(file: &LabFile, host: Option<&str>) -> bool {
    file.links.iter().any(|l| {
        matches!(l.kind, LinkKind::MgmtNet { .. })
            && l.endpoints.first().is_some_and(|e| {
                file.nodes
                    .get(&e.node)
                    .is_some_and(|n| here(n.host.as_deref(), host))
            })
    })
}

/// The bridge `mgmt-net` links' host sides join: the one the runtime made for the management
/// network (podman's `network_interface`, docker's `br-ID` or the name it was given), asked
/// whenever the file has such a link, so a file need not name `mgmt.bridge` (containerlab's
/// smoke tests do not). Before `up` made the network (or, with podman, before a container
/// joined it and so made its bridge), the bridge is still to come: `plan` says so.
pub(in crate::lab) fn mgmt_bridge(
    runtime: Option<&Runtime>,
    file: &LabFile,
    host: Option<&str>,
) -> Result<MgmtBridge, LabError> {
    let (Some(runtime), Some(mgmt)) = (runtime, &file.mgmt) else {
        return Ok(MgmtBridge::FromFile);
    };
    // A file without container nodes here that names its bridge: that bridge, as it is.
    let containers = file
        .nodes
        .values()
        .any(|n| here(n.host.as_deref(), host) && matches!(n.kind, NodeKind::Container(_)));
    if !has_mgmt_links(file, host) || (!containers && mgmt.bridge.is_some()) {
        return Ok(MgmtBridge::FromFile);
    }
    let pending = MgmtBridge::Pending {
        network: mgmt.name.clone(),
        bridge: mgmt.bridge.clone(),
    };
    if !runtime.has_network(&mgmt.name)? {
        return Ok(pending);
    }
    let Some(bridge) = runtime.network_bridge(&mgmt.name)? else {
        return Err(LabError::Invalid(format!(
            "{}: management network {} ({}) is not a bridge network: a mgmt-net link joins the \
             management network's Linux bridge (remove the network, and up makes one)",
            file.path, mgmt.name, runtime.kind
        )));
    };
    if bridge_exists(&bridge)? {
        return Ok(MgmtBridge::Known(bridge));
    }
    // podman makes the bridge when the first container joins the network.
    let joins = file.nodes.values().any(|n| {
        here(n.host.as_deref(), host)
            && matches!(&n.kind, NodeKind::Container(c) if c.spec.network_mode.is_none())
    });
    match joins {
        true => Ok(pending),
        false => Err(LabError::Invalid(format!(
            "{}: the bridge {bridge} of management network {} does not exist yet ({} makes it \
             when a container joins the network, and no container node of this lab does): a \
             mgmt-net link has nothing to join",
            file.path, mgmt.name, runtime.kind
        ))),
    }
}

/// Where `mgmt.bridge` is written (`FILE:LINE:COL`), or the file's path.
fn mgmt_bridge_at(file: &LabFile) -> String {
    file.ids_at
        .0
        .get(&("bridge".to_string(), "mgmt"))
        .cloned()
        .unwrap_or_else(|| file.path.clone())
}

/// The refusal of `mgmt.bridge` by a podman that cannot name a network's bridge. Decided:
/// refused, not ignored — a file that names the bridge may have tools of its own that expect
/// it — before anything changes, saying what works instead.
pub(super) fn cannot_name_bridge(file: &LabFile, runtime: &Runtime, bridge: &str) -> String {
    let network = file.mgmt.as_ref().map_or("", |m| m.name.as_str());
    format!(
        "{}: mgmt.bridge {bridge}: {} {} cannot name the bridge of the network it makes (its \
         `network create` has no --interface-name; newer podman has): remove mgmt.bridge (the \
         management network {network} then gets the bridge podman names, and mgmt-net links \
         join that one), or run the lab with --runtime docker, or with a podman that has \
         --interface-name",
        mgmt_bridge_at(file),
        runtime.kind,
        runtime.version
    )
}

/// Whether an interface `name` exists in the host's namespace (the lab command's).
fn bridge_exists(name: &str) -> Result<bool, LabError> {
    let host = crate::lab::desired::host_netns();
    let mut socket = Netns::open(Some(&host))?.route()?;
    match crate::nl::link::parse_one(socket.request_raw(crate::nl::link::get_by_name(name), 0)) {
        Ok(_) => Ok(true),
        Err(e) if e.errno() == Some(libc::ENODEV) => Ok(false),
        Err(e) => Err(LabError::system(
            format!("looking up {name} in the host's namespace: {e}"),
            e,
        )),
    }
}
