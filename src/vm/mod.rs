//! VMs on wires: persistent taps for qemu (`tap add` / `tap del`) and the qemu `script=` /
//! `downscript=` entry points (see `qemu.rs`) that wire a VM's tap to its partner interface.

pub mod mapping;
pub mod qemu;

use crate::link::tap::{self, TapOptions};
use crate::netns::Netns;
use crate::nl::link::{self, Link};
use crate::wire::{self, WireError, World};

/// The kernel's limit on queues of a multi-queue tap (MAX_TAP_QUEUES).
pub const MAX_QUEUES: u32 = 256;

/// Where a new tap's MTU comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mtu {
    /// This MTU, in bytes (`--mtu N`).
    Bytes(u32),
    /// The MTU of this interface (the tap's future partner).
    From(String),
}

/// `tap add` options.
#[derive(Debug, Clone)]
pub struct TapSpec {
    /// The tap's name.
    pub name: String,
    /// Its MTU; `None` leaves the kernel's default (1500).
    pub mtu: Option<Mtu>,
    /// Frames carry a virtio-net header (qemu `vnet_hdr=on`).
    pub vnet_hdr: bool,
    /// More than one makes a multi-queue tap (qemu `queues=N` attaches that many fds).
    pub queues: u32,
    /// The user (uid) allowed to open the tap, for an unprivileged qemu.
    pub owner: Option<u32>,
    /// The group (gid) allowed to open the tap.
    pub group: Option<u32>,
}

/// Creates a persistent tap in `netns`, sets its MTU and brings it up. Nothing is left behind
/// if a step fails.
pub fn tap_add(netns: Netns, spec: &TapSpec) -> Result<Link, WireError> {
    link::validate_name(&spec.name).map_err(WireError::Invalid)?;
    if !(1..=MAX_QUEUES).contains(&spec.queues) {
        return Err(WireError::Invalid(format!(
            "--queues {}: a tap has 1 to {MAX_QUEUES} queues",
            spec.queues
        )));
    }
    let mut world = World::new(netns)?;
    let view = world.home();
    let describe = view.netns.describe();
    if let Some(existing) = view.links_by_name(&[&spec.name])?.pop().flatten() {
        return Err(WireError::Invalid(match existing.is_tap() {
            true => format!("tap {} already exists in {describe}", spec.name),
            false => format!(
                "{} already exists in {describe} and is a {}, not a tap",
                spec.name,
                kind_name(&existing)
            ),
        }));
    }
    let mtu = match &spec.mtu {
        None => None,
        Some(Mtu::Bytes(bytes)) => Some(*bytes),
        Some(Mtu::From(partner)) => match view.links_by_name(&[partner])?.pop().flatten() {
            Some(partner) => Some(partner.mtu),
            None => {
                return Err(WireError::Invalid(format!(
                    "--mtu-from {partner}: no such interface in {describe}"
                )));
            }
        },
    };
    let options = TapOptions {
        vnet_hdr: spec.vnet_hdr,
        multi_queue: spec.queues > 1,
        owner: spec.owner,
        group: spec.group,
    };
    let name = spec.name.clone();
    view.netns
        .run(|| tap::create_persistent(&name, &options))?
        .map_err(|e| WireError::io(format!("creating tap {name}"), e))?;

    let created = view.links_by_name(&[&spec.name])?.pop().flatten();
    let Some(created) = created else {
        return Err(WireError::Unexpected(format!(
            "tap {} vanished right after it was created",
            spec.name
        )));
    };
    let mut requests = Vec::new();
    if let Some(mtu) = mtu {
        requests.push((link::set_mtu(created.index, mtu), 0));
    }
    requests.push((link::set_up(created.index, true), 0));
    for reply in view.socket.batch(requests) {
        if let Err(e) = reply {
            let _ = view.socket.request(link::delete(created.index), 0);
            return Err(WireError::kernel(
                format!("setting up tap {} (removed it again)", spec.name),
                e,
            ));
        }
    }
    Ok(view
        .links_by_name(&[&spec.name])?
        .pop()
        .flatten()
        .unwrap_or(created))
}

/// Deletes a tap, after removing the wire it is on (so its partner is not left with a filter
/// that drops everything). Returns the removed wire, if there was one.
pub fn tap_del(netns: Netns, name: &str) -> Result<Option<[String; 2]>, WireError> {
    link::validate_name(name).map_err(WireError::Invalid)?;
    let mut world = World::sharing(&netns)?;
    let view = world.home();
    let describe = view.netns.describe();
    let Some(tap) = view.links_by_name(&[name])?.pop().flatten() else {
        return Err(WireError::Invalid(format!(
            "interface {name} does not exist in {describe}"
        )));
    };
    if !tap.is_tap() {
        return Err(WireError::Invalid(format!(
            "{name} is a {}, not a tap; refusing to delete it",
            kind_name(&tap)
        )));
    }
    let wired = view.tc(tap.index)?.wire_filter().is_some();
    let removed = match wired {
        true => wire::unlink(netns, &[name.to_string()], false)?
            .removed
            .pop(),
        false => None,
    };
    let view = world.home();
    view.socket
        .request(link::delete(tap.index), 0)
        .map_err(|e| WireError::kernel(format!("deleting tap {name}"), e))?;
    Ok(removed)
}

/// "veth", "layer-3 tun device", "physical interface"… for messages.
pub fn kind_name(link: &Link) -> String {
    match (&link.kind, link.is_l3_tun()) {
        (_, true) => "layer-3 tun device".into(),
        (Some(kind), false) => kind.clone(),
        (None, false) if link.loopback => "loopback interface".into(),
        (None, false) => "physical interface".into(),
    }
}

/// A user given as a name or a number, to a uid (names are looked up in /etc/passwd).
pub fn user_id(user: &str) -> Result<u32, WireError> {
    lookup_id(user, "/etc/passwd", "user")
}

/// A group given as a name or a number, to a gid (names are looked up in /etc/group).
pub fn group_id(group: &str) -> Result<u32, WireError> {
    lookup_id(group, "/etc/group", "group")
}

fn lookup_id(who: &str, file: &str, what: &str) -> Result<u32, WireError> {
    if let Ok(id) = who.parse::<u32>() {
        return Ok(id);
    }
    let table =
        std::fs::read_to_string(file).map_err(|e| WireError::io(format!("reading {file}"), e))?;
    id_in(&table, who)
        .ok_or_else(|| WireError::Invalid(format!("no {what} named {who:?} (looked in {file})")))
}

/// The id of `name` in a passwd/group-format table (`name:x:id:…`).
fn id_in(table: &str, name: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_numbers_or_the_table() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nqemu:x:1000:1000::/home/qemu:/bin/sh\n";
        assert_eq!(id_in(passwd, "qemu"), Some(1000));
        assert_eq!(id_in(passwd, "root"), Some(0));
        assert_eq!(id_in(passwd, "nobody-here"), None);
        assert_eq!(user_id("4242").unwrap(), 4242);
        assert_eq!(
            user_id("pw-no-such-user").unwrap_err().to_string(),
            "no user named \"pw-no-such-user\" (looked in /etc/passwd)"
        );
    }
}
