//! qemu's `script=` and `downscript=`: qemu runs them with the tap's name as the only argument
//! after opening the tap (ifup) and before closing it (ifdown). ifup brings the tap up with
//! its partner's MTU and wires the two; ifdown removes the wire. A failing ifup exits non-zero,
//! so qemu refuses to start instead of running a VM that is not plugged in.
//!
//! Everything done is logged to stderr (qemu passes it through) and to syslog (/dev/log).

use std::os::unix::net::UnixDatagram;

use super::mapping;
use crate::netns::Netns;
use crate::nl::link;
use crate::wire::{self, LinkOptions, WireError, WireRequest, World};

/// Wires `tap` to its partner (see [`mapping`]). Returns a one-line summary of what was done.
pub fn ifup(netns: Netns, tap: &str) -> Result<String, WireError> {
    link::validate_name(tap).map_err(WireError::Invalid)?;
    let entry = mapping::lookup(tap)?;
    let describe = netns.describe();
    let mut world = World::sharing(&netns)?;
    let view = world.home();
    let found = view.links_by_name(&[tap, &entry.partner])?;
    let Some(tap_link) = found[0].clone() else {
        return Err(WireError::Invalid(format!(
            "tap {tap} does not exist in {describe}"
        )));
    };
    if !tap_link.is_tap() {
        return Err(WireError::Invalid(format!(
            "{tap} is a {}, not a tap",
            super::kind_name(&tap_link)
        )));
    }
    let Some(partner) = found[1].clone() else {
        return Err(WireError::Invalid(format!(
            "{tap}'s partner {} does not exist in {describe} ({}); refusing to start the VM unplugged",
            entry.partner, entry.source
        )));
    };

    let mut requests = Vec::new();
    if tap_link.mtu != partner.mtu {
        requests.push((link::set_mtu(tap_link.index, partner.mtu), 0));
    }
    requests.push((link::set_up(tap_link.index, true), 0));
    for reply in view.socket.batch(requests) {
        reply.map_err(|e| {
            WireError::kernel(format!("bringing {tap} up with mtu {}", partner.mtu), e)
        })?;
    }
    let options = LinkOptions {
        tx_checksum: entry.tx_checksum,
        datapath: entry.datapath,
        ..LinkOptions::default()
    };
    let outcome = wire::link(netns, &[WireRequest::new(tap, &entry.partner)], &options)?;
    let (verb, _) = outcome.single();
    let offload = match entry.tx_checksum {
        Some(true) => ", tx-checksum on",
        Some(false) => ", tx-checksum off",
        None => "",
    };
    Ok(format!(
        "{tap}: up, mtu {} (from {}), {verb} to {} ({}){offload}",
        partner.mtu, entry.partner, entry.partner, entry.source
    ))
}

/// Removes the wire `tap` is on, if any. A missing tap or wire is not an error: there is
/// nothing to undo, and qemu must be able to shut down.
pub fn ifdown(netns: Netns, tap: &str) -> Result<String, WireError> {
    link::validate_name(tap).map_err(WireError::Invalid)?;
    let describe = netns.describe();
    let mut world = World::sharing(&netns)?;
    let view = world.home();
    let Some(tap_link) = view.links_by_name(&[tap])?.pop().flatten() else {
        return Ok(format!("{tap} is gone from {describe}; nothing to undo"));
    };
    if view.tc(tap_link.index)?.wire_filter().is_none() {
        return Ok(format!("{tap} is not wired; nothing to undo"));
    }
    let outcome = wire::unlink(netns, &[tap.to_string()], false)?;
    let partner = outcome
        .removed
        .first()
        .map(|[_, b]| b.clone())
        .unwrap_or_default();
    Ok(format!("{tap}: unwired from {partner}"))
}

/// Syslog severities used here (RFC 5424).
#[derive(Debug, Clone, Copy)]
pub enum Severity {
    /// Something failed.
    Error = 3,
    /// Something was done.
    Info = 6,
}

/// Writes one line to stderr and to syslog (facility daemon), as `program[pid]: message`.
pub fn log(program: &str, severity: Severity, message: &str) {
    eprintln!("{program}: {message}");
    const DAEMON: u8 = 3;
    let line = format!(
        "<{}>{program}[{}]: {message}",
        DAEMON * 8 + severity as u8,
        std::process::id()
    );
    // No syslog daemon is fine: stderr already has it.
    if let Ok(socket) = UnixDatagram::unbound() {
        let _ = socket.send_to(line.as_bytes(), "/dev/log");
    }
}
