//! Container namespaces registered under /run/netns: whether a registration is the lab's
//! (the container's own namespace, or the `patchwire.ctr.LAB` mark on its loopback), the mark,
//! and the refusal of someone else's namespace under a container's name.

use super::*;

/// Whether /run/netns/NAME is the namespace of process `pid`.
pub(super) fn registered_as(name: &str, pid: u32) -> bool {
    let registered = std::fs::metadata(std::path::Path::new(NETNS_RUN_DIR).join(name));
    let actual = std::fs::metadata(format!("/proc/{pid}/ns/net"));
    match (registered, actual) {
        (Ok(r), Ok(a)) => NsKey::of(&r) == NsKey::of(&a),
        _ => false,
    }
}

/// Whether /run/netns/NAME is the namespace this command runs in (the host's, to a lab): a
/// `network-mode: host` container's registration.
fn is_own_netns(name: &str) -> bool {
    let registered = std::fs::metadata(std::path::Path::new(NETNS_RUN_DIR).join(name));
    let own = std::fs::metadata("/proc/self/ns/net");
    match (registered, own) {
        (Ok(r), Ok(o)) => NsKey::of(&r) == NsKey::of(&o),
        _ => false,
    }
}

/// The loopback of the namespace registered as `name`, with a socket there.
pub(super) fn loopback(
    name: &str,
) -> Result<(crate::nl::RouteSocket, crate::nl::link::Link), LabError> {
    let mut socket = Netns::open(Some(name))?.route()?;
    let lo = crate::nl::link::parse_one(socket.request_raw(crate::nl::link::get_by_name("lo"), 0))
        .map_err(|e| LabError::system(format!("reading the loopback of netns {name}: {e}"), e))?;
    Ok((socket, lo))
}

/// The altname that marks a registration as lab `lab`'s.
pub(super) fn registration_record(lab: &str) -> String {
    format!("{CONTAINER_NETNS_RECORD}{lab}")
}

/// Marks the loopback of the namespace `up` registered as `name` as lab `lab`'s (once).
pub(super) fn mark_registered(name: &str, lab: &str) -> Result<(), LabError> {
    // A container on the host's network (`network-mode: host`) is registered as the host's
    // namespace, whose loopback is not the lab's to touch.
    if is_own_netns(name) {
        return Ok(());
    }
    let record = registration_record(lab);
    let (mut socket, lo) = loopback(name)?;
    if lo.altnames.contains(&record) {
        return Ok(());
    }
    let (message, flags) = crate::nl::link::altname(lo.index, &record, true);
    socket.request(message, flags).map_err(|e| {
        LabError::system(
            format!("marking netns {name}'s loopback ({record}): {e}"),
            e,
        )
    })?;
    Ok(())
}

/// Whether /run/netns/NAME is lab `lab`'s registration of its container `name`: the namespace
/// of the container's process `pid`, or marked by the `up` that registered it (a container
/// stopped or restarted since). A file there that is no namespace (left by a registration
/// killed half-way) counts as the lab's: replacing it loses nothing.
pub(super) fn lab_registration(name: &str, pid: Option<u32>, lab: &str) -> bool {
    if pid.is_some_and(|pid| registered_as(name, pid)) || is_own_netns(name) {
        return true;
    }
    match loopback(name) {
        Ok((_, lo)) => lo.altnames.contains(&registration_record(lab)),
        Err(_) => true,
    }
}

/// Refuses an existing /run/netns/NAME that is not the lab's registration of container
/// `name` (someone's `ip netns add NAME`, another tool's): `up` would replace it with the
/// container's and `down` delete it.
pub(super) fn check_registration(
    name: &str,
    pid: Option<u32>,
    lab: &str,
    at: &str,
    node: &str,
) -> Result<(), LabError> {
    if !std::path::Path::new(NETNS_RUN_DIR).join(name).exists() || lab_registration(name, pid, lab)
    {
        return Ok(());
    }
    Err(LabError::Invalid(format!(
        "{at}: node {node}: netns {name} exists (/run/netns/{name}) and is not lab {lab}'s \
         registration of container {name} (not its namespace, no {}{lab} mark on its \
         loopback): up would put the container's namespace in its place; delete it (ip netns \
         delete {name}) if it is not needed, or give the node another name (or the file a \
         prefix:)",
        CONTAINER_NETNS_RECORD
    )))
}

/// Whether some process runs in the namespace registered as `name` (its `/proc/PID/ns/net`).
pub(super) fn netns_in_use(name: &str) -> bool {
    let Ok(registered) = std::fs::metadata(std::path::Path::new(NETNS_RUN_DIR).join(name)) else {
        return false;
    };
    let key = NsKey::of(&registered);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let pid = entry.file_name();
        pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
            && std::fs::metadata(entry.path().join("ns/net")).is_ok_and(|m| NsKey::of(&m) == key)
    })
}

pub(super) fn not_registered(name: &str, lab: &str) -> String {
    format!(
        "netns {name} is not lab {lab}'s registration of container {name} (not its namespace, \
         no {CONTAINER_NETNS_RECORD}{lab} mark): left as it is"
    )
}
