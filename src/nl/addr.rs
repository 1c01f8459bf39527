//! Addresses (RTM_GETADDR): which interfaces hold IP addresses. patchwire never changes them; it
//! reads them to tell whether a wire end's own stack can send into the wire.

use std::collections::HashMap;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};

use super::link::IfIndex;
use super::{NlError, RouteSocket};

/// Every address of the socket's namespace, as `ADDRESS/PREFIX` text per interface.
/// Equivalent to `ip addr show`.
pub fn by_interface(socket: &mut RouteSocket) -> Result<HashMap<IfIndex, Vec<String>>, NlError> {
    let replies = socket.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
    let mut found: HashMap<IfIndex, Vec<String>> = HashMap::new();
    for reply in replies {
        let RouteNetlinkMessage::NewAddress(message) = reply else {
            continue;
        };
        let address = message.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        if let Some(ip) = address {
            found
                .entry(IfIndex(message.header.index))
                .or_default()
                .push(format!("{ip}/{}", message.header.prefix_len));
        }
    }
    Ok(found)
}
