//! A thin, synchronous rtnetlink socket: one request, one dump, or a pipelined batch.
//!
//! The socket belongs to the network namespace of the thread that opened it (see
//! [`crate::netns::Netns::route`]); after that it can be used from any thread.
//! Messages are built and parsed with `netlink-packet-route`; this module only moves them
//! and turns kernel errors (with their extended-ack text) into [`NlError`].

pub mod addr;
pub mod link;
pub mod nsid;
pub mod tc;

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A kernel refusal (negative errno in an NLMSG_ERROR), with the extended-ack message if any.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NlError {
    /// The kernel refused the request.
    #[error("{}{}", errno_text(*errno), ext_ack.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel {
        /// The errno, positive (EEXIST, ENOENT…).
        errno: i32,
        /// The kernel's extended-ack message, when it gave one.
        ext_ack: Option<String>,
    },
    /// Sending or receiving on the netlink socket failed.
    #[error("netlink socket: {0}")]
    Io(String),
    /// A reply could not be parsed.
    #[error("malformed netlink reply: {0}")]
    Decode(String),
}

/// "File exists" rather than "File exists (os error 17)".
pub fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    text.split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string()
}

impl NlError {
    /// The errno the kernel returned, if this is a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// Errors worth retrying: the object is busy or not quite there yet during bulk creation.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::EBUSY | libc::EAGAIN | libc::ENODEV)
        )
    }
}

impl From<io::Error> for NlError {
    fn from(e: io::Error) -> Self {
        NlError::Io(e.to_string())
    }
}

/// Replies to one request: the messages it produced (empty for a plain ack).
pub type Reply = Result<Vec<RouteNetlinkMessage>, NlError>;

/// How many requests are in flight before the batch waits for their answers. Bounded so that
/// the acks (and GET replies) never overflow the receive buffer.
const BATCH_WINDOW: usize = 256;
/// Requests are packed into datagrams no larger than this.
const MAX_DATAGRAM: usize = 64 * 1024;

/// rtnetlink multicast group of link changes (linux/rtnetlink.h).
pub const RTNLGRP_LINK: u32 = 1;

/// NETLINK_EXT_ACK / NETLINK_CAP_ACK errors carry TLVs after the echoed header.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HDRLEN: usize = 16;

/// An rtnetlink socket bound to one network namespace.
pub struct RouteSocket {
    socket: Socket,
    next_seq: u32,
    recv_buf: Vec<u8>,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, 0))?;
        socket.set_ext_ack(true)?;
        // Errors echo only the request header, not the whole (possibly large) request.
        socket.set_cap_ack(true)?;
        // Big batches of GET replies; best effort (SO_RCVBUF is capped by rmem_max).
        let _ = socket.set_rx_buf_sz(8 * 1024 * 1024);
        Ok(RouteSocket {
            socket,
            next_seq: 1,
            recv_buf: Vec::with_capacity(256 * 1024),
        })
    }

    /// Joins a multicast group (RTNLGRP_*) to receive the kernel's change notifications.
    pub fn subscribe(&self, group: u32) -> io::Result<()> {
        self.socket.add_membership(group)
    }

    /// Waits up to `timeout` for notifications; returns whether any arrived (they are read and
    /// discarded: the caller re-reads the state it cares about).
    pub fn wait_notifications(&mut self, timeout: std::time::Duration) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        let mut poll = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(error)
            };
        }
        let mut any = false;
        loop {
            self.recv_buf.clear();
            match self.socket.recv(&mut self.recv_buf, libc::MSG_DONTWAIT) {
                Ok(_) => any = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
                // Overrun (ENOBUFS): notifications were lost, which still means "something changed".
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => any = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one request and waits for its replies and acknowledgement.
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> Reply {
        self.batch(vec![(message, flags)])
            .pop()
            .expect("one reply per request")
    }

    /// Dumps a table (`NLM_F_DUMP`), returning every message of the dump.
    pub fn dump(&mut self, message: RouteNetlinkMessage) -> Reply {
        self.request(message, NLM_F_DUMP)
    }

    /// Sends many requests pipelined (many per datagram, up to 256 in flight) and returns
    /// one reply per request, in order. One failing request does not stop the others: the
    /// kernel processes each independently, and the caller decides what a failure means.
    pub fn batch(&mut self, requests: Vec<(RouteNetlinkMessage, u16)>) -> Vec<Reply> {
        self.batch_raw(requests)
            .into_iter()
            .map(|reply| reply?.iter().map(|raw| decode(raw)).collect())
            .collect()
    }

    /// Like [`Self::batch`], but hands back each reply message as raw bytes (netlink header
    /// included), for callers that read only a few attributes of many large messages.
    pub fn batch_raw(&mut self, requests: Vec<(RouteNetlinkMessage, u16)>) -> Vec<RawReply> {
        let mut replies = Vec::with_capacity(requests.len());
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let window: Vec<_> = requests.by_ref().take(BATCH_WINDOW).collect();
            let sent = window.len();
            match self.round_trip(window) {
                Ok(mut done) => replies.append(&mut done),
                Err(e) => {
                    // A socket failure leaves the outcome of the rest unknown: fail them all.
                    replies.extend(std::iter::repeat_n(Err(e), sent + requests.len()));
                    break;
                }
            }
        }
        replies
    }

    /// Like [`Self::request`], raw.
    pub fn request_raw(&mut self, message: RouteNetlinkMessage, flags: u16) -> RawReply {
        self.batch_raw(vec![(message, flags)])
            .pop()
            .expect("one reply per request")
    }

    /// Like [`Self::dump`], raw.
    pub fn dump_raw(&mut self, message: RouteNetlinkMessage) -> RawReply {
        self.request_raw(message, NLM_F_DUMP)
    }

    fn round_trip(
        &mut self,
        window: Vec<(RouteNetlinkMessage, u16)>,
    ) -> Result<Vec<RawReply>, NlError> {
        let first_seq = self.next_seq;
        let count = window.len();
        let mut datagram = Vec::with_capacity(MAX_DATAGRAM);
        for (message, flags) in window {
            let mut packet = NetlinkMessage::new(
                NetlinkHeader::default(),
                NetlinkPayload::InnerMessage(message),
            );
            packet.header.flags = flags | NLM_F_REQUEST | NLM_F_ACK;
            packet.header.sequence_number = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            packet.finalize();
            let len = packet.buffer_len();
            if datagram.len() + len > MAX_DATAGRAM && !datagram.is_empty() {
                self.socket.send(&datagram, 0)?;
                datagram.clear();
            }
            let start = datagram.len();
            datagram.resize(start + len, 0);
            packet.serialize(&mut datagram[start..]);
        }
        if !datagram.is_empty() {
            self.socket.send(&datagram, 0)?;
        }

        let mut replies: Vec<Option<RawReply>> = (0..count).map(|_| None).collect();
        let mut gathered: Vec<Vec<Vec<u8>>> = (0..count).map(|_| Vec::new()).collect();
        let mut open = count;
        while open > 0 {
            self.recv_buf.clear();
            self.socket.recv(&mut self.recv_buf, 0)?;
            let mut offset = 0;
            while offset + NLMSG_HDRLEN <= self.recv_buf.len() {
                let bytes = &self.recv_buf[offset..];
                let len = u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize;
                if len < NLMSG_HDRLEN || len > bytes.len() {
                    return Err(NlError::Decode(format!(
                        "message length {len} in a {}-byte datagram",
                        bytes.len()
                    )));
                }
                offset += (len + 3) & !3;
                let message = &bytes[..len];
                let kind = u16::from_ne_bytes([message[4], message[5]]);
                let seq = u32::from_ne_bytes(message[8..12].try_into().unwrap());
                let slot = seq.wrapping_sub(first_seq) as usize;
                if slot >= count || replies[slot].is_some() {
                    continue; // a late answer to an earlier, abandoned request
                }
                let finished = match kind {
                    NLMSG_NOOP => None,
                    NLMSG_DONE => Some(Ok(std::mem::take(&mut gathered[slot]))),
                    NLMSG_ERROR if len >= NLMSG_HDRLEN + 4 => {
                        let code = i32::from_ne_bytes(message[16..20].try_into().unwrap());
                        Some(match code {
                            0 => Ok(std::mem::take(&mut gathered[slot])),
                            _ => Err(NlError::Kernel {
                                errno: -code,
                                ext_ack: ext_ack_message(&message[20..]),
                            }),
                        })
                    }
                    _ => {
                        gathered[slot].push(message.to_vec());
                        None
                    }
                };
                if let Some(reply) = finished {
                    replies[slot] = Some(reply);
                    open -= 1;
                }
            }
        }
        Ok(replies
            .into_iter()
            .map(|r| r.expect("every slot answered"))
            .collect())
    }
}

/// Replies to one request as raw messages (netlink header included).
pub type RawReply = Result<Vec<Vec<u8>>, NlError>;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

fn decode(raw: &[u8]) -> Result<RouteNetlinkMessage, NlError> {
    match NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw)
        .map_err(|e| NlError::Decode(e.to_string()))?
        .payload
    {
        NetlinkPayload::InnerMessage(message) => Ok(message),
        other => Err(NlError::Decode(format!(
            "unexpected netlink message {other:?}"
        ))),
    }
}

/// Pulls the NLMSGERR_ATTR_MSG text out of an error's payload (echoed header, then TLVs).
fn ext_ack_message(payload: &[u8]) -> Option<String> {
    let mut tlvs = payload.get(NLMSG_HDRLEN..)?;
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &tlvs[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned()).filter(|s| !s.is_empty());
        }
        tlvs = &tlvs[((len + 3) & !3).min(tlvs.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_ack_text_is_found_after_the_echoed_header() {
        let mut payload = vec![0u8; NLMSG_HDRLEN];
        let text = b"Exclusivity flag on\0";
        let len = (4 + text.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(text);
        assert_eq!(
            ext_ack_message(&payload).as_deref(),
            Some("Exclusivity flag on")
        );
        assert_eq!(ext_ack_message(&payload[..NLMSG_HDRLEN]), None);
    }

    #[test]
    fn kernel_error_names_errno_and_ext_ack() {
        let e = NlError::Kernel {
            errno: libc::EEXIST,
            ext_ack: Some("Exclusivity flag on".into()),
        };
        assert_eq!(e.to_string(), "File exists (Exclusivity flag on)");
        assert!(!e.is_transient());
        assert!(
            NlError::Kernel {
                errno: libc::EBUSY,
                ext_ack: None
            }
            .is_transient()
        );
    }
}
