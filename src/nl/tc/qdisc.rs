//! The clsact qdisc that holds a wire's filters: adding, removing, and reading which qdisc owns
//! an interface's ingress hook.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use serde::Serialize;

use super::{INGRESS_QDISC_HANDLE, tc_message};
use crate::nl::link::IfIndex;

/// The qdisc that owns an interface's ingress hook, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngressQdisc {
    /// A `clsact` qdisc (ingress and egress hooks): the one patchwire adds, and removes when
    /// nothing is left on it.
    Clsact,
    /// A plain `ingress` qdisc another tool added: patchwire attaches to it and never removes it.
    Ingress,
}

/// `tc qdisc add dev IF clsact`.
pub fn add_clsact(ifindex: IfIndex) -> (RouteNetlinkMessage, u16) {
    let mut message = tc_message(ifindex);
    message.header.parent = TcHandle::CLSACT;
    message.header.handle = INGRESS_QDISC_HANDLE;
    message.attributes.push(TcAttribute::Kind("clsact".into()));
    (
        RouteNetlinkMessage::NewQueueDiscipline(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

/// `tc qdisc del dev IF clsact`.
pub fn delete_clsact(ifindex: IfIndex) -> RouteNetlinkMessage {
    let mut message = tc_message(ifindex);
    message.header.parent = TcHandle::CLSACT;
    message.header.handle = INGRESS_QDISC_HANDLE;
    RouteNetlinkMessage::DelQueueDiscipline(message)
}

/// `tc qdisc show dev IF ingress`: answers with the clsact/ingress qdisc, or ENOENT/EINVAL.
/// NLM_F_ECHO is required: without it the kernel sends the answer only to the TC multicast
/// group and the requester gets a bare ack.
pub fn get_ingress_qdisc(ifindex: IfIndex) -> (RouteNetlinkMessage, u16) {
    let mut message = tc_message(ifindex);
    message.header.parent = TcHandle::INGRESS;
    (RouteNetlinkMessage::GetQueueDiscipline(message), NLM_F_ECHO)
}

/// `tc qdisc show` for a whole namespace.
pub fn dump_qdiscs() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default())
}

/// The interfaces holding an ingress-hook qdisc, from a [`dump_qdiscs`] reply.
pub fn ingress_holders(messages: &[RouteNetlinkMessage]) -> Vec<(IfIndex, IngressQdisc)> {
    messages
        .iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewQueueDiscipline(qdisc) => {
                let kind = parse_ingress_qdisc(std::slice::from_ref(message))?;
                Some((IfIndex(qdisc.header.index as u32), kind))
            }
            _ => None,
        })
        .collect()
}

/// Reads which ingress-hook qdisc a [`get_ingress_qdisc`] reply names.
pub fn parse_ingress_qdisc(messages: &[RouteNetlinkMessage]) -> Option<IngressQdisc> {
    messages.iter().find_map(|message| match message {
        RouteNetlinkMessage::NewQueueDiscipline(qdisc) => {
            qdisc.attributes.iter().find_map(|a| match a {
                TcAttribute::Kind(kind) if kind == "clsact" => Some(IngressQdisc::Clsact),
                TcAttribute::Kind(kind) if kind == "ingress" => Some(IngressQdisc::Ingress),
                _ => None,
            })
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    #[test]
    fn clsact_message_targets_ffff() {
        let (RouteNetlinkMessage::NewQueueDiscipline(qdisc), flags) = add_clsact(IfIndex(4)) else {
            panic!()
        };
        assert_eq!(u32::from(qdisc.header.handle), 0xffff_0000);
        assert_eq!(u32::from(qdisc.header.parent), 0xffff_fff1);
        assert_eq!(flags, NLM_F_CREATE | NLM_F_EXCL);
        assert!(TcAttribute::Kind("clsact".into()).buffer_len() > 0);
    }
}
