//! Interface matters that need more than rtnetlink: taps (/dev/net/tun) and offloads (ethtool).

pub mod ethtool;
pub mod tap;

/// Whether the kernel makes dummy interfaces (containerlab's `type: dummy` link), tried by
/// making one in `netns` (which must be a scratch namespace: the device is deleted again,
/// and vanishes with the namespace anyway). `Err` holds the kernel's refusal.
pub fn try_dummy(
    socket: &mut crate::nl::RouteSocket,
    netns: std::os::fd::BorrowedFd<'_>,
) -> Result<(), crate::nl::NlError> {
    use crate::nl::link;
    let (message, flags) = link::add_dummy("pwdummy0", 1500, None, netns);
    socket.request(message, flags)?;
    if let Ok(made) = link::parse_one(socket.request_raw(link::get_by_name("pwdummy0"), 0)) {
        let _ = socket.request(link::delete(made.index), 0);
    }
    Ok(())
}
