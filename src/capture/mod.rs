//! `capture`: frames of any interfaces — a wire's end, a lab's links, in any namespaces — into
//! one pcapng file, each frame with its direction, VLAN tags as they were on the cable.
//!
//! * `ring.rs` — one interface: an AF_PACKET TPACKET_V3 ring (mmap), frames a block at a time.
//! * `filter.rs` — tcpdump expressions compiled by libpcap (loaded only when a filter is given)
//!   into classic BPF attached to the socket.
//! * `pcapng.rs` — the blocks: section, interfaces, enhanced packets with `epb_flags`,
//!   statistics.
//! * `output.rs` — a file, stdout, or a ring of files (dumpcap's `-b`), kept valid on errors.
//! * `writer.rs` — the blocks in file order: header, frames, statistics; rotation.
//!
//! One thread polls every ring. With several interfaces, frames are held back for
//! [`HOLD_BACK`] (longer than a ring takes to hand over a block) and written in timestamp order,
//! so the frames of all interfaces read in the order they happened.

pub mod filter;
pub mod output;
pub mod pcapng;
pub mod ring;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::netns::Netns;
use crate::wire::{self, WireError, World};
use output::{Destination, Rotation};
use pcapng::Interface;
use ring::Ring;
use writer::Writer;

/// The snap length when none is given (dumpcap's and tcpdump's default).
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// How long frames wait, with several interfaces, for earlier frames of the others.
const HOLD_BACK: Duration = Duration::from_millis(120);
/// The poll timeout when nothing else is due: how soon a signal or `-a duration` is noticed.
const TICK: Duration = Duration::from_millis(100);

/// Why a capture could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// A target, option or filter is wrong; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// Looking at a namespace failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A socket, file or write failed; the message says which.
    #[error("{0}")]
    Io(String),
}

/// One interface to capture on.
pub struct Target {
    /// Its namespace.
    pub netns: Netns,
    /// Its name there.
    pub interface: String,
    /// `if_name`: `NETNS:IF` (just `IF` in the current namespace).
    pub label: String,
    /// `if_description`: what it is.
    pub description: String,
}

/// What to capture and where to.
pub struct Spec {
    /// The interfaces, one Interface Description Block each, in this order.
    pub targets: Vec<Target>,
    /// A file, a ring of files, or stdout.
    pub destination: Destination,
    /// `-b`.
    pub rotation: Rotation,
    /// `-f`: a tcpdump expression.
    pub filter: Option<String>,
    /// `-s`.
    pub snaplen: u32,
    /// `-c`: stop after this many frames.
    pub count: Option<u64>,
    /// `-a duration:SEC`.
    pub duration: Option<Duration>,
    /// Not `-p`: put the interfaces in promiscuous mode while capturing.
    pub promiscuous: bool,
}

/// How one interface fared.
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceSummary {
    /// `NETNS:IF`.
    pub name: String,
    /// Frames written to the file.
    pub captured: u64,
    /// Frames the kernel passed to the capture (after the filter).
    pub received: u64,
    /// Frames the kernel dropped because the ring was full.
    pub dropped: u64,
}

/// What a capture did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Per interface, in target order.
    pub interfaces: Vec<InterfaceSummary>,
    /// The files written (a ring's pruned ones included), empty for stdout.
    pub files: Vec<PathBuf>,
    /// Why it stopped: `count`, `duration`, `signal` or `reader gone`.
    pub stopped_by: String,
}

/// The interfaces named by `specs` (`IF` in `home`, or `NETNS:IF`), checked to exist, each
/// described by what patchwire made of it. A target given twice is refused.
pub fn targets(home: &Netns, specs: &[String]) -> Result<Vec<Target>, CaptureError> {
    let mut found: Vec<Target> = Vec::new();
    for spec in specs {
        let (netns, interface) = match spec.rsplit_once(':') {
            Some((ns, interface)) if !ns.is_empty() => {
                (Netns::open(Some(ns)).map_err(WireError::from)?, interface)
            }
            _ => (
                home.try_clone()
                    .map_err(|e| CaptureError::Io(e.to_string()))?,
                spec.as_str(),
            ),
        };
        crate::nl::link::validate_name(interface).map_err(CaptureError::Invalid)?;
        let mut world = World::sharing(&netns)?;
        let Some(link) = world.home().links_by_name(&[interface])?.pop().flatten() else {
            return Err(CaptureError::Invalid(wire::missing_interface(
                &netns, interface,
            )));
        };
        // Frames are written, filtered and VLAN-restored as Ethernet: a layer-3 device (tun,
        // WireGuard, GRE, ipip) hands over packets that start at the IP header.
        if link.is_l3_tun() || link.mac.is_none() {
            return Err(CaptureError::Invalid(format!(
                "{spec} is a {} without an Ethernet header (frames would start at the IP \
                 header); patchwire captures Ethernet interfaces",
                crate::vm::kind_name(&link)
            )));
        }
        let label = match netns.label() {
            "(current)" => interface.to_string(),
            ns => format!("{ns}:{interface}"),
        };
        if let Some(twice) = found
            .iter()
            .find(|t| t.netns.same_as(&netns) && t.interface == link.name)
        {
            return Err(CaptureError::Invalid(format!(
                "{spec} is given twice (as {} too); each interface is captured once",
                twice.label
            )));
        }
        let description = describe(&mut world, &link)?;
        found.push(Target {
            netns,
            interface: link.name.clone(),
            label,
            description,
        });
    }
    Ok(found)
}

/// One end of every wire of `home` (a wire's end shows both its directions).
pub fn wire_targets(home: &Netns) -> Result<Vec<Target>, CaptureError> {
    let wires = wire::show(
        home.try_clone()
            .map_err(|e| CaptureError::Io(e.to_string()))?,
    )?;
    let ends: Vec<String> = wires
        .iter()
        .filter(|w| w.a.present)
        .map(|w| w.a.name.clone())
        .collect();
    if ends.is_empty() {
        return Err(CaptureError::Invalid(format!(
            "--wires: there are no wires in {}",
            home.describe()
        )));
    }
    targets(home, &ends)
}

/// Every link of a lab file on this host (see [`crate::lab::capture_points`]).
pub fn lab_targets(file: &Path, host: Option<&str>) -> Result<Vec<Target>, CaptureError> {
    let path = file.to_string_lossy();
    let lab = crate::lab::file::load(&path).map_err(|e| CaptureError::Invalid(e.to_string()))?;
    let points =
        crate::lab::capture_points(&lab, host).map_err(|e| CaptureError::Invalid(e.to_string()))?;
    if points.is_empty() {
        return Err(CaptureError::Invalid(format!(
            "{}: no link of the lab has an endpoint on this host",
            file.display()
        )));
    }
    let mut found = Vec::new();
    for (panel, port, description) in points {
        let netns = Netns::open(Some(&panel)).map_err(|_| {
            CaptureError::Invalid(format!(
                "the lab {} is not up on this host (no netns {panel}): run patchwire up {} first",
                lab.name,
                file.display()
            ))
        })?;
        let mut target = targets(&netns, std::slice::from_ref(&port))?
            .pop()
            .expect("one target");
        target.description = description;
        found.push(target);
    }
    Ok(found)
}

/// "wire eth1 <-> tap1", "hub seg", "mirror web's destination", else its kind.
fn describe(world: &mut World, link: &crate::nl::link::Link) -> Result<String, CaptureError> {
    let view = world.home();
    let tc = view.tc(link.index)?.clone();
    if let Some(filter) = tc.wire_filter() {
        let partner = filter.wire_partner_name().unwrap_or_else(|| "?".into());
        return Ok(format!("wire {} <-> {partner}", link.name));
    }
    if let Some(hub) = crate::wire::inventory::hub_port_of(link, &tc) {
        return Ok(format!("{hub} member {}", link.name));
    }
    if let Some(mirrors) = view.mirror_destinations()?.get(&link.index) {
        let names: Vec<&str> = mirrors.iter().map(|m| m.mirror.as_str()).collect();
        return Ok(format!("destination of mirror {}", names.join(", ")));
    }
    Ok(format!("{} {}", crate::vm::kind_name(link), link.name))
}

/// The index of `name` in the calling thread's namespace.
fn index_of(name: &str) -> std::io::Result<u32> {
    let c_name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: `c_name` is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(c_name.as_ptr()) } {
        0 => Err(std::io::Error::last_os_error()),
        index => Ok(index),
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Opens every ring (each in its namespace, with the filter compiled once), then captures
/// until `-c`, `-a duration`, SIGINT/SIGTERM or a reader that went away. Every file is closed
/// with statistics; a write error (a full disk) stops the capture with it, the file cut back
/// to its last whole block (valid, without the closing statistics).
pub fn capture(spec: &Spec, on_start: impl FnOnce()) -> Result<Summary, CaptureError> {
    if spec.targets.is_empty() {
        return Err(CaptureError::Invalid(
            "nothing to capture: give an interface, --wires or --lab FILE".into(),
        ));
    }
    let program = match &spec.filter {
        Some(expression) => filter::compile(expression, spec.snaplen)
            .map_err(|e| CaptureError::Invalid(e.to_string()))?,
        None => filter::accept_all(spec.snaplen),
    };
    let mut rings = Vec::new();
    for target in &spec.targets {
        let interface = target.interface.clone();
        let (program, promiscuous) = (program.clone(), spec.promiscuous);
        let opened = target
            .netns
            .run(move || -> Result<Ring, CaptureError> {
                let index = index_of(&interface)
                    .map_err(|e| CaptureError::Io(format!("{interface}: {e}")))?;
                Ring::open(index, Some(&program), promiscuous)
                    .map_err(|e| CaptureError::Io(format!("opening a capture on {interface}: {e}")))
            })
            .map_err(WireError::from)??;
        rings.push(opened);
    }
    let interfaces: Vec<Interface> = spec
        .targets
        .iter()
        .map(|t| Interface {
            name: t.label.clone(),
            description: t.description.clone(),
            snaplen: spec.snaplen,
        })
        .collect();
    let started_ns = now_ns();
    let started = Instant::now();
    let failed = |e: std::io::Error| CaptureError::Io(format!("capture stopped: {e}"));
    let mut writer = Writer::open(
        spec.destination.clone(),
        spec.rotation,
        interfaces,
        started_ns,
    )
    .map_err(|e| CaptureError::Io(e.to_string()))?;
    crate::signals::stop_on_signals();
    on_start();
    let mut captured = vec![0u64; rings.len()];
    let mut total = 0u64;
    // With several interfaces: frames drained but not written yet, their bytes in `data`.
    let mut held: Vec<Held> = Vec::new();
    let mut data = Vec::with_capacity(1 << 20);
    let mut pollfds: Vec<libc::pollfd> = rings
        .iter()
        .map(|r| libc::pollfd {
            fd: r.raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    let note = |rings: &mut Vec<Ring>, writer: &mut Writer| {
        for ring in rings.iter_mut() {
            let _ = ring.update_statistics();
        }
        writer.note_statistics(now_ns(), rings.iter().map(|r| (r.received, r.dropped)));
    };

    let stopped_by = loop {
        if crate::signals::stopping() {
            break "signal";
        }
        if spec.count.is_some_and(|c| total >= c) {
            break "count";
        }
        if spec.duration.is_some_and(|d| started.elapsed() >= d) {
            break "duration";
        }
        let mut timeout = TICK;
        if let Some(d) = spec.duration {
            timeout = timeout.min(d.saturating_sub(started.elapsed()));
        }
        if let Some(d) = writer.until_rotation() {
            timeout = timeout.min(d);
        }
        for pollfd in pollfds.iter_mut() {
            pollfd.revents = 0;
        }
        // SAFETY: `pollfds` is a live array of that many pollfd structs.
        unsafe {
            libc::poll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                timeout.as_millis().max(1) as i32,
            )
        };
        for (pollfd, ring) in pollfds.iter().zip(&rings) {
            if pollfd.revents & libc::POLLERR != 0 {
                // The interface went down (or was down at the start): keep capturing.
                let _ = ring.clear_error();
            }
        }
        note(&mut rings, &mut writer);
        let single = rings.len() == 1;
        let mut error = None;
        for (id, ring) in rings.iter_mut().enumerate() {
            let (snaplen, count) = (spec.snaplen as usize, spec.count);
            let mut taken = 0u64;
            ring.drain(|frame| {
                if error.is_some() {
                    return;
                }
                let flags = pcapng::epb_flags(frame.outbound, frame.packet_type);
                if single {
                    // One interface: its ring is in time order; straight into the output.
                    if count.is_some_and(|c| total + taken >= c) {
                        return;
                    }
                    taken += 1;
                    let mut tag = [0; 4];
                    let parts = frame.parts(snaplen, &mut tag);
                    if let Err(e) =
                        writer.packet(0, frame.timestamp_ns, frame.original_len, parts, flags)
                    {
                        error = Some(e);
                    }
                    return;
                }
                let start = data.len();
                frame.append_on_wire(snaplen, &mut data);
                held.push((
                    frame.timestamp_ns,
                    id as u32,
                    flags,
                    frame.original_len,
                    start,
                    data.len(),
                ));
            });
            captured[id] += taken;
            total += taken;
        }
        if let Some(e) = error {
            return Err(failed(e));
        }
        // Several interfaces: -c counts frames in time order, as they are written.
        let cutoff = now_ns().saturating_sub(HOLD_BACK.as_nanos() as u64);
        let remaining = spec.count.map(|c| c.saturating_sub(total));
        total += write_held(
            &mut held,
            &mut data,
            cutoff,
            &mut writer,
            remaining,
            &mut captured,
        )
        .map_err(failed)?;
        if writer.rotation_due() && spec.count.is_none_or(|c| total < c) {
            writer.rotate().map_err(failed)?;
        }
        if let Err(e) = writer.flush() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break "reader gone";
            }
            return Err(failed(e));
        }
    };
    let remaining = spec.count.map(|c| c.saturating_sub(total));
    write_held(
        &mut held,
        &mut data,
        u64::MAX,
        &mut writer,
        remaining,
        &mut captured,
    )
    .map_err(failed)?;
    note(&mut rings, &mut writer);
    let files = writer.finish().map_err(failed)?;
    Ok(Summary {
        interfaces: spec
            .targets
            .iter()
            .zip(&rings)
            .zip(&captured)
            .map(|((t, r), c)| InterfaceSummary {
                name: t.label.clone(),
                captured: *c,
                received: r.received,
                dropped: r.dropped,
            })
            .collect(),
        files,
        stopped_by: stopped_by.into(),
    })
}

/// A frame drained from a ring and not written yet: (timestamp, interface, epb_flags,
/// original length, start, end) of its bytes in the shared buffer.
type Held = (u64, u32, u32, u32, usize, usize);

/// Writes the held frames older than `cutoff`, in timestamp order — at most `remaining` of
/// them (the rest of `-c`: later ones are dropped) — and keeps the younger ones (their bytes
/// moved to the front of `data`). Returns how many it wrote, counted per interface too.
fn write_held(
    held: &mut Vec<Held>,
    data: &mut Vec<u8>,
    cutoff: u64,
    writer: &mut Writer,
    remaining: Option<u64>,
    captured: &mut [u64],
) -> std::io::Result<u64> {
    if held.is_empty() {
        return Ok(0);
    }
    held.sort_by_key(|h| h.0);
    let split = held.partition_point(|h| h.0 < cutoff);
    let mut written = 0;
    for &(ts, id, flags, original, start, end) in &held[..split] {
        if remaining.is_some_and(|r| written >= r) {
            held.clear();
            data.clear();
            return Ok(written);
        }
        writer.packet(id, ts, original, [&data[start..end], &[], &[]], flags)?;
        captured[id as usize] += 1;
        written += 1;
    }
    if split == held.len() {
        held.clear();
        data.clear();
        return Ok(written);
    }
    let mut kept = Vec::with_capacity(data.len());
    let rest: Vec<Held> = held[split..]
        .iter()
        .map(|&(ts, id, flags, original, start, end)| {
            let at = kept.len();
            kept.extend_from_slice(&data[start..end]);
            (ts, id, flags, original, at, kept.len())
        })
        .collect();
    *held = rest;
    *data = kept;
    Ok(written)
}
