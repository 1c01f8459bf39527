//! Namespace ids (RTM_GETNSID): a veth reports its peer's namespace as an id relative to its own
//! namespace; asking "which id does this namespace fd have here?" maps ids back to namespaces.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};

use super::{NlError, RouteSocket};

/// The id the socket's namespace uses for the namespace behind `netns`, if it has assigned one.
pub fn id_of(socket: &mut RouteSocket, netns: BorrowedFd<'_>) -> Result<Option<i32>, NlError> {
    let mut message = NsidMessage::default();
    message
        .attributes
        .push(NsidAttribute::Fd(netns.as_raw_fd() as u32));
    let replies = socket.request(RouteNetlinkMessage::GetNsId(message), 0)?;
    Ok(replies.into_iter().find_map(|reply| match reply {
        RouteNetlinkMessage::NewNsId(message) => {
            message.attributes.into_iter().find_map(|a| match a {
                NsidAttribute::Id(id) if id >= 0 => Some(id),
                _ => None,
            })
        }
        _ => None,
    }))
}
