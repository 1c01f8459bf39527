//! TX checksum offload of wire ends, read and changed in bulk inside the wire's namespace, with
//! the undo `link` needs when the rest of its changes fail.

use std::collections::HashMap;

use super::WireError;
use crate::link::ethtool::Ethtool;
use crate::netns::Netns;

/// The TX checksum offload state of each named interface (interfaces the driver does not
/// answer for are left out).
pub fn read(netns: &Netns, names: &[String]) -> Result<HashMap<String, bool>, WireError> {
    netns.run(|| {
        let ethtool = Ethtool::open().map_err(|e| WireError::io("opening an ethtool socket", e))?;
        Ok(names
            .iter()
            .filter_map(|name| Some((name.clone(), ethtool.tx_checksum(name).ok()?)))
            .collect())
    })?
}

/// Sets TX checksum offload on each interface; on a failure undoes the ones already changed.
/// Returns what was changed, as (name, previous state), for [`restore`].
pub fn set(netns: &Netns, names: &[&String], on: bool) -> Result<Vec<(String, bool)>, WireError> {
    netns.run(|| {
        let ethtool = Ethtool::open().map_err(|e| WireError::io("opening an ethtool socket", e))?;
        let mut changed: Vec<(String, bool)> = Vec::new();
        for name in names {
            if let Err(e) = ethtool.set_tx_checksum(name, on) {
                for (done, previous) in &changed {
                    let _ = ethtool.set_tx_checksum(done, *previous);
                }
                let state = if on { "on" } else { "off" };
                return Err(WireError::io(
                    format!("turning TX checksum offload {state}"),
                    e,
                ));
            }
            changed.push((name.to_string(), !on));
        }
        Ok(changed)
    })?
}

/// Puts offloads back as they were (best effort: this runs on an error path already).
pub fn restore(netns: &Netns, changed: &[(String, bool)]) {
    let _ = netns.run(|| {
        let Ok(ethtool) = Ethtool::open() else { return };
        for (name, previous) in changed {
            let _ = ethtool.set_tx_checksum(name, *previous);
        }
    });
}
