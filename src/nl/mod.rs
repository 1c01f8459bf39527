//! A thin, synchronous rtnetlink socket: one request, one dump, or a pipelined batch.
//!
//! The socket belongs to the network namespace of the thread that opened it (see
//! [`crate::netns::Netns::route`]); after that it can be used from any thread.
//! Messages are built and parsed with `netlink-packet-route`; this module only moves them
//! and turns kernel errors (with their extended-ack text) into [`NlError`].
//!
//! It does not depend on `net.core.rmem_max` (212992 on distribution kernels): it forces a
//! large receive buffer (SO_RCVBUFFORCE, CAP_NET_ADMIN), reads back what the kernel granted,
//! and sends requests in rounds whose replies fit that buffer ([`window`]). Every wait for a
//! reply has a deadline ([`REPLY_TIMEOUT`]).

pub mod addr;
pub mod link;
pub mod nsid;
pub mod tc;
mod window;

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_DUMP, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use window::{Prepared, request_name};

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
    /// No reply came before the deadline. The kernel answers every request while it is being
    /// sent, so this means replies were lost (or the peer is not the kernel).
    #[error(
        "no reply to {request} in {netns} within {} s ({unanswered} of {sent} requests unanswered)",
        waited.as_secs_f64()
    )]
    Timeout {
        /// The first unanswered request ("RTM_GETLINK").
        request: String,
        /// Where the socket lives ("netns lab1").
        netns: String,
        /// How long the wait lasted.
        waited: Duration,
        /// Requests of the round still without a reply.
        unanswered: usize,
        /// Requests in the round.
        sent: usize,
    },
    /// The reply to a change was lost in a receive-buffer overrun: the kernel had already
    /// acted on the request (or refused it), nobody can tell which.
    #[error(
        "the reply to {request} in {netns} was lost (the netlink receive buffer overflowed): \
         the change may or may not have been made; run the command again, it picks up what is \
         already there"
    )]
    ReplyLost {
        /// The request ("RTM_NEWLINK").
        request: String,
        /// Where the socket lives ("netns lab1").
        netns: String,
    },
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

/// Requests are packed into datagrams no larger than this.
const MAX_DATAGRAM: usize = 64 * 1024;

/// The receive buffer asked for (the kernel doubles it for its own bookkeeping).
const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;

/// How long a wait for replies may last. The kernel queues its replies while `sendmsg` runs,
/// so a wait ends at once unless replies were lost; the deadline turns that into an error
/// instead of a hang (the very slowest machines, emulated guests, answer in milliseconds).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a read whose reply was lost is asked again (each time in rounds half as
/// big: after a few, one request per round, which always fits).
const REASKS: usize = 8;

/// rtnetlink multicast group of link changes (linux/rtnetlink.h).
pub const RTNLGRP_LINK: u32 = 1;

/// NETLINK_EXT_ACK / NETLINK_CAP_ACK errors carry TLVs after the echoed header.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HDRLEN: usize = 16;

/// The receive buffer the kernel granted a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveBuffer {
    /// Bytes of replies the socket may hold (`sk_rcvbuf`, counted in skb truesize: a plain
    /// ack takes 832).
    pub bytes: usize,
    /// SO_RCVBUFFORCE was honoured; `false`: refused (no CAP_NET_ADMIN), so the size is what
    /// `net.core.rmem_max` allows.
    pub forced: bool,
}

/// An rtnetlink socket bound to one network namespace.
pub struct RouteSocket {
    socket: Socket,
    next_seq: u32,
    recv_buf: Vec<u8>,
    buffer: ReceiveBuffer,
    /// Bytes of replies one round may expect: half the buffer, the rest a margin for replies
    /// larger than estimated. Halved again after an overrun.
    budget: usize,
    reply_timeout: Duration,
    /// Where the socket lives, for messages ("netns lab1").
    netns: String,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, 0))?;
        socket.set_ext_ack(true)?;
        // Errors echo only the request header, not the whole (possibly large) request.
        socket.set_cap_ack(true)?;
        let buffer = claim_receive_buffer(&socket)?;
        let netns = std::fs::read_link("/proc/thread-self/ns/net")
            .map(|link| format!("netns {}", link.display()))
            .unwrap_or_else(|_| "the current netns".into());
        Ok(Self::with(socket, buffer, netns))
    }

    fn with(socket: Socket, buffer: ReceiveBuffer, netns: String) -> Self {
        RouteSocket {
            socket,
            next_seq: 1,
            recv_buf: Vec::with_capacity(256 * 1024),
            buffer,
            budget: (buffer.bytes / 2).max(1),
            reply_timeout: REPLY_TIMEOUT,
            netns,
        }
    }

    /// The same socket, named in messages as `netns` ("netns lab1").
    pub fn described_as(mut self, netns: impl Into<String>) -> Self {
        self.netns = netns.into();
        self
    }

    /// Where the socket lives, for messages ("netns lab1").
    pub fn describe(&self) -> &str {
        &self.netns
    }

    /// The receive buffer the kernel granted.
    pub fn receive_buffer(&self) -> ReceiveBuffer {
        self.buffer
    }

    /// Replaces [`REPLY_TIMEOUT`] for this socket.
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.reply_timeout = timeout;
    }

    /// Joins a multicast group (RTNLGRP_*) to receive the kernel's change notifications.
    /// Such a socket is for waiting: requests sent on it discard the notifications queued.
    pub fn subscribe(&self, group: u32) -> io::Result<()> {
        self.socket.add_membership(group)
    }

    /// Waits up to `timeout` for notifications; returns whether any arrived (they are read and
    /// discarded: the caller re-reads the state it cares about).
    pub fn wait_notifications(&mut self, timeout: Duration) -> io::Result<bool> {
        if !self.poll(timeout)? {
            return Ok(false);
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

    /// Whether the socket became readable (or has an error to report) within `timeout`.
    fn poll(&self, timeout: Duration) -> io::Result<bool> {
        let mut poll = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Rounded up: a wait of 0.4 ms must not become a busy 0 ms poll.
        let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::Interrupted => Ok(false),
                _ => Err(error),
            };
        }
        Ok(ready > 0)
    }

    /// Sends one request and waits for its replies and acknowledgement.
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> Reply {
        self.batch(vec![(message, flags)])
            .pop()
            .unwrap_or_else(|| Err(NlError::Io("no reply slot".into())))
    }

    /// Dumps a table (`NLM_F_DUMP`), returning every message of the dump.
    pub fn dump(&mut self, message: RouteNetlinkMessage) -> Reply {
        self.request(message, NLM_F_DUMP)
    }

    /// Sends many requests pipelined (many per datagram, as many in flight as the receive
    /// buffer holds replies for) and returns one reply per request, in order. One failing
    /// request does not stop the others: the kernel processes each independently, and the
    /// caller decides what a failure means.
    pub fn batch(&mut self, requests: Vec<(RouteNetlinkMessage, u16)>) -> Vec<Reply> {
        self.batch_raw(requests)
            .into_iter()
            .map(|reply| reply?.iter().map(|raw| decode(raw)).collect())
            .collect()
    }

    /// Like [`Self::batch`], but hands back each reply message as raw bytes (netlink header
    /// included), for callers that read only a few attributes of many large messages.
    ///
    /// Replies lost in an overrun (ENOBUFS), which the rounds are sized never to cause: a
    /// read or an RTM_SETLINK is asked again, in smaller rounds; any other change gets
    /// [`NlError::ReplyLost`]. Sending it again blindly could not tell "done twice" from
    /// "refused", and re-checking it is the caller's business: every patchwire command reads
    /// the kernel before it changes it, so running it again converges.
    pub fn batch_raw(&mut self, requests: Vec<(RouteNetlinkMessage, u16)>) -> Vec<RawReply> {
        let mut prepared: Vec<Prepared> = requests
            .into_iter()
            .map(|(message, flags)| Prepared::new(message, flags))
            .collect();
        let mut replies: Vec<Option<RawReply>> = prepared.iter().map(|_| None).collect();
        let mut asked_again = vec![0usize; prepared.len()];
        let mut queue: VecDeque<usize> = (0..prepared.len()).collect();
        while !queue.is_empty() {
            let round = window::next_round(&mut queue, &prepared, self.budget);
            match self.round_trip(&round, &mut prepared) {
                Ok(answers) => {
                    let mut again = Vec::new();
                    for (&i, answer) in round.iter().zip(answers) {
                        match answer {
                            Some(reply) => replies[i] = Some(reply),
                            None if prepared[i].repeatable && asked_again[i] < REASKS => {
                                asked_again[i] += 1;
                                again.push(i);
                            }
                            None => {
                                replies[i] = Some(Err(NlError::ReplyLost {
                                    request: request_name(prepared[i].kind),
                                    netns: self.netns.clone(),
                                }))
                            }
                        }
                    }
                    for i in again.into_iter().rev() {
                        queue.push_front(i);
                    }
                }
                Err(e) => {
                    // A socket failure leaves the outcome of the rest unknown: fail them all.
                    for &i in round.iter().chain(queue.iter()) {
                        replies[i] = Some(Err(e.clone()));
                    }
                    break;
                }
            }
        }
        replies
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(NlError::Io("request never sent".into()))))
            .collect()
    }

    /// Like [`Self::request`], raw.
    pub fn request_raw(&mut self, message: RouteNetlinkMessage, flags: u16) -> RawReply {
        self.batch_raw(vec![(message, flags)])
            .pop()
            .unwrap_or_else(|| Err(NlError::Io("no reply slot".into())))
    }

    /// Like [`Self::dump`], raw.
    pub fn dump_raw(&mut self, message: RouteNetlinkMessage) -> RawReply {
        self.request_raw(message, NLM_F_DUMP)
    }

    /// Reads and drops whatever is queued (late replies to an abandoned round, the rest of an
    /// abandoned dump, a pending error): each round starts on an empty buffer, so its budget
    /// is all there, and a socket congested by an overrun accepts replies again.
    fn drain(&mut self) -> Result<(), NlError> {
        loop {
            self.recv_buf.clear();
            match self.socket.recv(&mut self.recv_buf, libc::MSG_DONTWAIT) {
                Ok(_) => {}
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(()),
                    Some(libc::ENOBUFS | libc::EINTR) => {}
                    _ => return Err(e.into()),
                },
            }
        }
    }

    /// Sends one round and collects its replies: `Some` per answered request, `None` where
    /// the reply was lost in an overrun.
    fn round_trip(
        &mut self,
        round: &[usize],
        requests: &mut [Prepared],
    ) -> Result<Vec<Option<RawReply>>, NlError> {
        self.drain()?;
        let first_seq = self.next_seq;
        let count = round.len();
        let mut datagram = Vec::with_capacity(MAX_DATAGRAM);
        for &i in round {
            let request = &mut requests[i];
            request.number(self.next_seq);
            self.next_seq = self.next_seq.wrapping_add(1);
            if datagram.len() + request.bytes.len() > MAX_DATAGRAM && !datagram.is_empty() {
                self.socket.send(&datagram, 0)?;
                datagram.clear();
            }
            datagram.extend_from_slice(&request.bytes);
        }
        if !datagram.is_empty() {
            self.socket.send(&datagram, 0)?;
        }

        let mut replies: Vec<Option<RawReply>> = (0..count).map(|_| None).collect();
        let mut gathered: Vec<Vec<Vec<u8>>> = (0..count).map(|_| Vec::new()).collect();
        let mut open = count;
        let started = Instant::now();
        let mut overrun = false;
        while open > 0 {
            self.recv_buf.clear();
            if let Err(e) = self.socket.recv(&mut self.recv_buf, libc::MSG_DONTWAIT) {
                match e.raw_os_error() {
                    // Replies were dropped. All replies of the round were queued (or dropped)
                    // while it was sent, and a dump goes on filling the queue as we read it:
                    // so once the queue is read empty, whatever is missing was lost.
                    Some(libc::ENOBUFS) => overrun = true,
                    Some(libc::EAGAIN) if overrun => break,
                    Some(libc::EAGAIN) => {
                        let left = self.reply_timeout.saturating_sub(started.elapsed());
                        if left.is_zero() {
                            let first = (0..count).find(|&s| replies[s].is_none()).unwrap_or(0);
                            return Err(NlError::Timeout {
                                request: request_name(requests[round[first]].kind),
                                netns: self.netns.clone(),
                                waited: self.reply_timeout,
                                unanswered: open,
                                sent: count,
                            });
                        }
                        // Readable, an error to report, interrupted or the deadline: the next
                        // turn of the loop tells which.
                        self.poll(left)?;
                    }
                    Some(libc::EINTR) => {}
                    _ => return Err(e.into()),
                }
                continue;
            }
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
                    continue; // a notification, or a late answer to an earlier round
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
        if overrun {
            // The estimates were short for these replies: smaller rounds from now on.
            self.budget = (self.budget / 2).max(1);
            // A GET of one object whose reply came but whose ack was lost has its answer.
            for (slot, reply) in replies.iter_mut().enumerate() {
                if reply.is_none() && requests[round[slot]].single && !gathered[slot].is_empty() {
                    *reply = Some(Ok(std::mem::take(&mut gathered[slot])));
                }
            }
        }
        Ok(replies)
    }
}

/// Asks for [`RECEIVE_BUFFER`] bytes with SO_RCVBUFFORCE, which `net.core.rmem_max` does not
/// cap; without CAP_NET_ADMIN, with SO_RCVBUF (capped) and a note on stderr, once. Returns
/// what the kernel granted: the rounds are sized from that, whichever way it came.
fn claim_receive_buffer(socket: &Socket) -> io::Result<ReceiveBuffer> {
    let fd = socket.as_raw_fd();
    let forced = match set_int_option(fd, libc::SO_RCVBUFFORCE, RECEIVE_BUFFER) {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            set_int_option(fd, libc::SO_RCVBUF, RECEIVE_BUFFER)?;
            false
        }
        Err(e) => return Err(e),
    };
    let bytes = socket.get_rx_buf_sz()?;
    if !forced {
        static NOTED: std::sync::Once = std::sync::Once::new();
        NOTED.call_once(|| {
            eprintln!(
                "patchwire: note: SO_RCVBUFFORCE refused (no CAP_NET_ADMIN); netlink replies \
                 get the {bytes} bytes net.core.rmem_max allows, so big batches go in smaller \
                 rounds"
            )
        });
    }
    Ok(ReceiveBuffer { bytes, forced })
}

fn set_int_option(fd: i32, option: libc::c_int, value: usize) -> io::Result<()> {
    let value = value.min(i32::MAX as usize) as libc::c_int;
    // SAFETY: a valid socket fd and a pointer to an int of the size given.
    let done = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
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
    use crate::nl::link::{self, IfIndex};

    impl RouteSocket {
        /// Forces the receive buffer to `bytes` (the kernel doubles it) and plans rounds for it.
        fn shrink_receive_buffer(&mut self, bytes: usize) {
            set_int_option(self.socket.as_raw_fd(), libc::SO_RCVBUFFORCE, bytes).unwrap();
            self.buffer.bytes = self.socket.get_rx_buf_sz().unwrap();
            self.budget = self.buffer.bytes / 2;
        }
    }

    /// Runs `test` on a thread of its own in a new, empty network namespace, which goes away
    /// with the thread (and everything made in it).
    fn in_new_netns<T: Send>(test: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: unshare only moves this helper thread to a new namespace.
                    let done = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                    assert_eq!(done, 0, "unshare: {}", io::Error::last_os_error());
                    test()
                })
                .join()
                .unwrap()
        })
    }

    #[test]
    fn the_kernel_grants_the_forced_receive_buffer_whatever_rmem_max_says() {
        let socket = in_new_netns(|| RouteSocket::open().unwrap());
        assert_eq!(
            socket.receive_buffer(),
            ReceiveBuffer {
                bytes: 2 * RECEIVE_BUFFER,
                forced: true
            }
        );
        assert_eq!(socket.budget, RECEIVE_BUFFER);
    }

    #[test]
    fn a_wait_for_replies_ends_at_its_deadline_with_an_error_naming_the_request() {
        use netlink_sys::protocols::NETLINK_USERSOCK;
        // A peer that takes requests and never answers: user-space netlink (NETLINK_USERSOCK),
        // the client connected to the peer's port instead of the kernel's.
        let mut peer = Socket::new(NETLINK_USERSOCK).unwrap();
        let at = peer.bind_auto().unwrap();
        let mut client = Socket::new(NETLINK_USERSOCK).unwrap();
        client.bind_auto().unwrap();
        client
            .connect(&SocketAddr::new(at.port_number(), 0))
            .unwrap();
        let buffer = ReceiveBuffer {
            bytes: client.get_rx_buf_sz().unwrap(),
            forced: false,
        };
        let mut socket = RouteSocket::with(client, buffer, "netns quiet-peer".into());
        socket.set_reply_timeout(Duration::from_millis(200));

        let replies = socket.batch_raw(vec![
            (link::get_by_name("t0"), 0),
            (link::set_up(IfIndex(2), true), 0),
        ]);
        let expected = "no reply to RTM_GETLINK in netns quiet-peer within 0.2 s \
                        (2 of 2 requests unanswered)";
        assert_eq!(replies.len(), 2);
        for reply in replies {
            assert_eq!(reply.unwrap_err().to_string(), expected);
        }
        // Both requests reached the peer: only the answers never came.
        let mut got = Vec::with_capacity(4096);
        peer.recv(&mut got, libc::MSG_DONTWAIT).unwrap();
        let mut kinds = Vec::new();
        let mut at = 0;
        while at < got.len() {
            kinds.push(u16::from_ne_bytes([got[at + 4], got[at + 5]]));
            at += u32::from_ne_bytes(got[at..at + 4].try_into().unwrap()) as usize;
        }
        assert_eq!(kinds, [18, 19]);
    }

    /// An interface can carry ~64 KB of altnames: a GETLINK reply far over the estimate.
    /// Rounds planned on the estimate overflow the buffer; the reads are asked again in
    /// smaller rounds, a change whose reply was lost is reported, not repeated.
    #[test]
    fn replies_lost_in_an_overrun_are_asked_again_or_reported() {
        in_new_netns(|| {
            let mut socket = RouteSocket::open().unwrap().described_as("netns test");
            let (veth, flags) = link::add_veth("big", "big-peer", None);
            socket.request_raw(veth, flags).unwrap();
            let big = link::parse_one(socket.request_raw(link::get_by_name("big"), 0)).unwrap();
            let names = (0..400).map(|i| format!("n{i:03}{:0>120}", 0));
            let altnames = names
                .map(|name| link::altname(big.index, &name, true))
                .collect();
            for reply in socket.batch_raw(altnames) {
                reply.unwrap();
            }

            socket.shrink_receive_buffer(32 * 1024);
            assert_eq!(socket.budget, 32 * 1024);
            let (more, flags) = link::add_veth("more", "more-peer", None);
            let replies = socket.batch_raw(vec![
                (link::get_by_name("big"), 0),
                (link::get_by_name("big"), 0),
                (link::get_by_name("big"), 0),
                (link::set_up(big.index, true), 0),
                (more, flags),
            ]);
            for reply in &replies[..3] {
                let link = link::parse_one(reply.clone()).unwrap();
                assert_eq!((link.name.as_str(), link.altnames.len()), ("big", 400));
            }
            assert_eq!(replies[3], Ok(vec![]));
            assert_eq!(
                replies[4].clone().unwrap_err().to_string(),
                "the reply to RTM_NEWLINK in netns test was lost (the netlink receive buffer \
                 overflowed): the change may or may not have been made; run the command again, \
                 it picks up what is already there"
            );
            assert!(socket.budget < 32 * 1024, "rounds got smaller");
            // The kernel did what was asked; only the answers were lost.
            let big = link::parse_one(socket.request_raw(link::get_by_name("big"), 0)).unwrap();
            assert!(big.up);
            let more = link::parse_one(socket.request_raw(link::get_by_name("more"), 0));
            assert_eq!(more.unwrap().kind.as_deref(), Some("veth"));
        });
    }

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
