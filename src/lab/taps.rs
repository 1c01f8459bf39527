//! `down` and the VM nodes' taps: a tap a qemu holds outlives its namespace's name (the
//! process keeps the namespace alive), so `down` deletes the taps itself and says who held
//! them.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The processes holding the tap `tap` of namespace `netns` (a name under /run/netns): those
/// in that namespace with a tun descriptor attached to an interface of that name (their
/// fdinfo's `iff:` line). `(pid, command name)`, sorted by PID.
pub(super) fn holders(netns: &str, tap: &str) -> Vec<(u32, String)> {
    let Ok(ns) = std::fs::metadata(Path::new(crate::netns::NETNS_RUN_DIR).join(netns)) else {
        return Vec::new();
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let wanted = format!("iff:\t{tap}");
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        // Same namespace first (one stat): the fdinfo walk only for the few processes in it.
        let inside = std::fs::metadata(dir.join("ns/net"))
            .is_ok_and(|m| m.ino() == ns.ino() && m.dev() == ns.dev());
        if !inside {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(dir.join("fdinfo")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_to_string(fd.path())
                .is_ok_and(|info| info.lines().any(|l| l.trim_end() == wanted))
        });
        if holds {
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            found.push((pid, comm.trim().to_string()));
        }
    }
    found.sort();
    found
}
