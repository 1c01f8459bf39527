//! The transparency probe: sends the [`catalogue`] into one end of a path and checks that each
//! frame arrives byte-for-byte at the other end, in both directions; for a hub
//! ([`probe_hub`]), from every member to every other member, exactly once, never back.
//!
//! Frames enter a wire by *arriving* at an end, so they are sent from the far side of each end:
//! a veth end's peer (found also in another namespace), or an unattached tap itself (attaching
//! to it gives it carrier for the duration). They are received on the far side of the other end.

pub mod catalogue;
mod hub;

pub use hub::{HubProbeReport, Returned, probe_hub};

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::link::tap::TapHandle;
use crate::netns::Netns;
use crate::nl::link::{IfIndex, Link};
use crate::packet::PacketSocket;
use crate::wire::{WireError, World};
use catalogue::{FrameKind, ProbeFrame};

/// Why a probe could not run (a frame that does not arrive is a [`Verdict`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Reading the wire or hub from the kernel failed, or the interface is not on one.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Opening or entering a namespace failed.
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
    /// The path cannot be probed from here (a broken wire, a veth peer whose namespace cannot be
    /// found, an end that is neither a veth nor a tap…); the message says why.
    #[error("{0}")]
    Unsupported(String),
    /// Sending or receiving frames failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (`sending a lacp frame (124 bytes) towards …`).
        context: String,
        /// The system call's error.
        source: std::io::Error,
    },
}

/// How long to wait for stragglers after the last frame was sent.
const SETTLE: Duration = Duration::from_millis(600);

/// Where frames enter or leave a path: anything that can send and receive whole Ethernet
/// frames (an AF_PACKET socket on a veth peer, a tap's fd, a qemu `dgram` netdev's UDP peer).
pub trait Port {
    /// Sends one whole Ethernet frame.
    fn send(&self, frame: &[u8]) -> std::io::Result<()>;
    /// The next frame received, or `None` once `deadline` passes.
    fn recv_until(&self, deadline: Instant) -> std::io::Result<Option<Vec<u8>>>;
    /// Throws away whatever is queued.
    fn drain(&self);
}

impl Port for PacketSocket {
    fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        PacketSocket::send(self, frame)
    }
    fn recv_until(&self, deadline: Instant) -> std::io::Result<Option<Vec<u8>>> {
        PacketSocket::recv_until(self, deadline)
    }
    fn drain(&self) {
        PacketSocket::drain(self)
    }
}

impl Port for TapHandle {
    fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        TapHandle::send(self, frame)
    }
    fn recv_until(&self, deadline: Instant) -> std::io::Result<Option<Vec<u8>>> {
        TapHandle::recv_until(self, deadline)
    }
    fn drain(&self) {
        TapHandle::drain(self)
    }
}

/// An AF_PACKET socket on `ifindex` inside `netns`.
pub fn packet_port(
    netns: &Netns,
    ifindex: IfIndex,
    name: &str,
) -> Result<PacketSocket, ProbeError> {
    netns
        .run(|| PacketSocket::open(ifindex.0))?
        .map_err(|source| ProbeError::Io {
            context: format!("opening a packet socket on {name}"),
            source,
        })
}

/// What became of one probe frame on its way through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It arrived once, byte for byte.
    Ok,
    /// It did not arrive.
    Lost,
    /// It arrived changed.
    Altered,
    /// It arrived more than once.
    Duplicated,
}

/// What became of one kind of frame in one direction.
#[derive(Debug, Clone, Serialize)]
pub struct KindResult {
    /// The kind of frame.
    pub kind: FrameKind,
    /// Its length as sent, in bytes.
    pub bytes: usize,
    /// What became of it.
    pub verdict: Verdict,
    /// For an altered or duplicated frame, how (`sent 60 bytes, received 64; first difference at
    /// byte 12`, `arrived 2 times`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The catalogue sent one way through a path, and what arrived.
#[derive(Debug, Clone, Serialize)]
pub struct DirectionReport {
    /// Where the frames were sent from (the far side of one end).
    pub from: String,
    /// Where they were received (the far side of the other end).
    pub to: String,
    /// One result per frame kind, in catalogue order.
    pub results: Vec<KindResult>,
}

impl DirectionReport {
    /// Every frame arrived once, unchanged.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.verdict == Verdict::Ok)
    }
}

/// The result of probing a wire, both directions.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// One end of the wire (the one asked about).
    pub a: String,
    /// The other end.
    pub b: String,
    /// The smallest MTU on the path; the jumbo frame is this plus the Ethernet header.
    pub mtu: u32,
    /// `a` to `b`, then `b` to `a`.
    pub directions: Vec<DirectionReport>,
}

impl ProbeReport {
    /// Every frame arrived once, unchanged, in both directions.
    pub fn passed(&self) -> bool {
        self.directions.iter().all(DirectionReport::passed)
    }
}

/// Sends every frame of the catalogue from `tx` and checks what reaches `rx`.
pub fn run_direction(
    tx: &dyn Port,
    rx: &dyn Port,
    mtu: u32,
    from: &str,
    to: &str,
) -> Result<DirectionReport, ProbeError> {
    let nonce = random_bytes::<8>();
    let mut mac = random_bytes::<6>();
    mac[0] = 0x02; // locally administered unicast
    let frames = catalogue::catalogue(mac, nonce, mtu);
    rx.drain();
    for frame in &frames {
        tx.send(&frame.bytes).map_err(|source| ProbeError::Io {
            context: format!(
                "sending a {} frame ({} bytes) towards {from}",
                frame.kind.name(),
                frame.bytes.len()
            ),
            source,
        })?;
    }
    let mut received: Vec<Vec<Vec<u8>>> = vec![Vec::new(); frames.len()];
    // Files a frame under its kind; true when it is the first of its kind.
    let mut record = |bytes: Vec<u8>| {
        let kind = catalogue::find_token(&bytes, nonce);
        let Some(slot) = kind.and_then(|kind| frames.iter().position(|f| f.kind == kind)) else {
            return false;
        };
        received[slot].push(bytes);
        received[slot].len() == 1
    };
    let receive_error = |source| ProbeError::Io {
        context: format!("receiving on the far side of {to}"),
        source,
    };
    let deadline = Instant::now() + SETTLE;
    let mut pending = frames.len();
    while pending > 0 {
        let Some(bytes) = rx.recv_until(deadline).map_err(receive_error)? else {
            break;
        };
        if record(bytes) {
            pending -= 1;
        }
    }
    // Give duplicates a brief chance to show up too.
    let tail = Instant::now() + Duration::from_millis(50);
    while let Some(bytes) = rx.recv_until(tail).map_err(receive_error)? {
        record(bytes);
    }
    let results = frames
        .iter()
        .zip(received)
        .map(|(frame, got)| judge(frame, &got))
        .collect();
    Ok(DirectionReport {
        from: from.into(),
        to: to.into(),
        results,
    })
}

fn judge(frame: &ProbeFrame, got: &[Vec<u8>]) -> KindResult {
    let (verdict, detail) = match got {
        [] => (Verdict::Lost, None),
        [one] if *one == frame.bytes => (Verdict::Ok, None),
        [one] => (Verdict::Altered, Some(difference(&frame.bytes, one))),
        many => (
            Verdict::Duplicated,
            Some(format!("arrived {} times", many.len())),
        ),
    };
    KindResult {
        kind: frame.kind,
        bytes: frame.bytes.len(),
        verdict,
        detail,
    }
}

fn difference(sent: &[u8], got: &[u8]) -> String {
    let at = sent
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(sent.len().min(got.len()));
    format!(
        "sent {} bytes, received {}; first difference at byte {at}",
        sent.len(),
        got.len()
    )
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    bytes
}

/// One end of a wire, seen from where frames can enter and leave it.
struct Access {
    port: Box<dyn Port>,
    /// The MTU of the far-side interface (a veth peer), which limits the path too.
    far_mtu: u32,
    what: String,
}

/// Probes the wire that `end` is on, in `netns`, both directions.
pub fn probe_wire(netns: Netns, end: &str) -> Result<ProbeReport, ProbeError> {
    let describe = netns.describe();
    let mut world = World::new(netns)?;
    let view = world.home();
    let Some(a) = view.links_by_name(&[end])?.pop().flatten() else {
        return Err(WireError::Invalid(crate::wire::missing_interface(&view.netns, end)).into());
    };
    let Some(filter) = view.tc(a.index)?.wire_filter().cloned() else {
        return Err(
            WireError::Invalid(format!("{end} is not on a patchwire wire in {describe}")).into(),
        );
    };
    let target = filter.wire_target().unwrap_or(IfIndex(0));
    let b = if target.0 == 0 {
        None
    } else {
        view.link(target)?
    };
    let Some(b) = b else {
        let gone = filter.wire_partner_name().unwrap_or_else(|| "?".into());
        return Err(ProbeError::Unsupported(format!(
            "the wire {end} <-> {gone} is broken ({gone} is gone); nothing to probe"
        )));
    };
    let access_a = access(&mut world, &a)?;
    let access_b = access(&mut world, &b)?;
    let mtu = [a.mtu, b.mtu, access_a.far_mtu, access_b.far_mtu]
        .into_iter()
        .min()
        .unwrap_or(1500);
    let directions = vec![
        run_direction(
            access_a.port.as_ref(),
            access_b.port.as_ref(),
            mtu,
            &access_a.what,
            &access_b.what,
        )?,
        run_direction(
            access_b.port.as_ref(),
            access_a.port.as_ref(),
            mtu,
            &access_b.what,
            &access_a.what,
        )?,
    ];
    Ok(ProbeReport {
        a: a.name,
        b: b.name,
        mtu,
        directions,
    })
}

/// Attaching gives a tap carrier at once, but its transmit qdisc stays `noop` (dropping
/// everything) until linkwatch marks it operationally up, asynchronously. Wait for that.
fn wait_until_running(world: &mut World, end: &Link) -> Result<(), ProbeError> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        world.home().forget_links();
        let link = world.home().link(end.index)?;
        if link.as_ref().is_some_and(|l| l.oper_up) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ProbeError::Unsupported(format!(
                "{} did not come up after attaching to it (is it administratively down?)",
                end.name
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn access(world: &mut World, end: &Link) -> Result<Access, ProbeError> {
    let home = world.home_id();
    if end.is_veth() {
        let Some((ns, peer)) = world.peer_of(home, end)? else {
            return Err(ProbeError::Unsupported(format!(
                "cannot find the namespace of {}'s veth peer (it has no name under /run/netns and no process lives in it)",
                end.name
            )));
        };
        let view = world.view(ns);
        let Some(peer_link) = view.link(peer)? else {
            return Err(ProbeError::Unsupported(format!(
                "{}'s veth peer vanished",
                end.name
            )));
        };
        if !peer_link.up {
            return Err(ProbeError::Unsupported(format!(
                "{}'s veth peer {} ({}) is down; bring it up to probe through it",
                end.name,
                peer_link.name,
                view.netns.describe()
            )));
        }
        let what = format!(
            "{} (via {} in {})",
            end.name,
            peer_link.name,
            view.netns.describe()
        );
        let port = Box::new(packet_port(&view.netns, peer, &peer_link.name)?);
        return Ok(Access {
            port,
            far_mtu: peer_link.mtu,
            what,
        });
    }
    if end.is_tap() {
        let name = end.name.clone();
        let view = world.home();
        let tap = view
            .netns
            .run(|| TapHandle::attach(&name, false))
            .map_err(WireError::from)?
            .map_err(|source| ProbeError::Io {
                context: format!("attaching to tap {name} to send and receive through it"),
                source,
            })?;
        wait_until_running(world, end)?;
        return Ok(Access {
            port: Box::new(tap),
            far_mtu: end.mtu,
            what: format!("{name} (tap)"),
        });
    }
    Err(ProbeError::Unsupported(format!(
        "{} is a {} interface; probe can inject frames only through veth and tap ends",
        end.name,
        end.kind.as_deref().unwrap_or("physical")
    )))
}
