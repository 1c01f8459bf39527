//! `capture`: frames of any interfaces — a wire's end, a lab's links, in any namespaces — into
//! one pcapng file, each frame with its direction, VLAN tags as they were on the cable.
//!
//! * `ring.rs` — one interface: an AF_PACKET TPACKET_V3 ring (mmap), frames a block at a time.
//! * `filter.rs` — tcpdump expressions, compiled by libpcap in `bpf::pcap` (only when given),
//!   into classic BPF attached to the socket.
//! * `pcapng.rs` — the blocks: section, interfaces, enhanced packets with `epb_flags`,
//!   statistics.
//! * `output.rs` — a file, stdout, or a ring of files (dumpcap's `-b`), kept valid on errors.
//! * `writer.rs` — the blocks in file order: header, frames, statistics; rotation.
//!
//! One thread polls every ring. With several interfaces, frames are held back for
//! [`HOLD_BACK`] (longer than a ring takes to hand over a block) and written in timestamp order,
//! so the frames of all interfaces read in the order they happened. Every ring covers the same
//! window: all start together (frames from before the last one started are left out), and at a
//! stop each ring's last, partly filled block is waited for, so a frame that crossed a hub is
//! in the file on every interface or on none. A ring whose interface is deleted ends the
//! capture (`interface gone`), as tcpdump does.

pub mod filter;
pub mod output;
pub mod pcapng;
pub mod ring;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::bpf::classic::SockFilter;
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
    /// A socket, file or write failed; `message` says which (the system error's text is in
    /// it), `source` keeps the error itself so its kind (EPERM…) can be read.
    #[error("{message}")]
    Io {
        /// The whole message, ending in the system error's text (and any hint).
        message: String,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
}

impl CaptureError {
    /// A system error, said as `message` (which holds its text already).
    fn io(message: String, source: std::io::Error) -> CaptureError {
        CaptureError::Io { message, source }
    }
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
    /// `-a duration:SEC` (fractions allowed).
    pub duration: Option<Duration>,
    /// `-a filesize:KB` (without `-b`) and `-a files:N`.
    pub limits: writer::Limits,
    /// `-B`: each interface's ring, in MiB ([`ring::DEFAULT_BUFFER_MIB`] unless given).
    pub buffer_mib: u32,
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
    /// Frames the kernel passed to the capture (after the filter), dropped ones included.
    pub received: u64,
    /// Frames the kernel dropped because the ring was full (`-B` makes it bigger).
    pub dropped: u64,
    /// Frames the kernel queued that are not in the file and were not dropped: they arrived
    /// before every interface was capturing, after the stop, or beyond `-c`/`-a packets`
    /// (received = captured + dropped + not_written).
    pub not_written: u64,
}

/// What a capture did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Per interface, in target order.
    pub interfaces: Vec<InterfaceSummary>,
    /// The files written (a ring's pruned ones included), empty for stdout.
    pub files: Vec<PathBuf>,
    /// Why it stopped: `count`, `duration`, `filesize`, `files`, `signal`, `reader gone` or
    /// `interface gone`.
    pub stopped_by: String,
    /// The interface (`NETNS:IF`) that was deleted or moved away, stopping the capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone: Option<String>,
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
                    .map_err(|e| CaptureError::io(e.to_string(), e))?,
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
            .map_err(|e| CaptureError::io(e.to_string(), e))?,
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

/// Opens every ring (each in its namespace, with the filter compiled once), starts them
/// together, then captures until `-c`/`-a packets`, `-a duration`/`filesize`/`files`,
/// SIGINT/SIGTERM, a reader that went away, or a captured interface that vanished. Every
/// frame that reached a ring between the start and the stop is written, from every ring
/// alike (the kernel's last, partly filled blocks are waited for); every file is closed with
/// statistics. A write error (a full disk) stops the capture with it, the file cut back to its
/// last whole block (valid, without the closing statistics).
pub fn capture(spec: &Spec, on_start: impl FnOnce()) -> Result<Summary, CaptureError> {
    if spec.targets.is_empty() {
        return Err(CaptureError::Invalid(
            "nothing to capture: give an interface, --wires or --lab FILE".into(),
        ));
    }
    let program = match &spec.filter {
        Some(expression) => crate::bpf::pcap::compile(expression, spec.snaplen)
            .map_err(|e| CaptureError::Invalid(e.to_string()))?,
        None => filter::accept_all(spec.snaplen),
    };
    let mut rings = open_all(spec, &program)?;
    let mut writer = open_writer(spec)?;
    crate::signals::stop_on_signals();
    // Every ring starts now, and nothing from before the last one started is written: a frame
    // crossing a hub or a wire is in the file on every interface or on none.
    for (ring, target) in rings.iter().zip(&spec.targets) {
        ring.start().map_err(|e| {
            CaptureError::io(format!("starting the capture on {}: {e}", target.label), e)
        })?;
    }
    let mut collector = Collector::new(spec, rings.len());
    let started = Instant::now();
    on_start();
    let mut pollfds: Vec<libc::pollfd> = rings
        .iter()
        .map(|r| libc::pollfd {
            fd: r.raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    let (stopped_by, gone) = capture_until_stop(
        spec,
        started,
        &mut rings,
        &mut pollfds,
        &mut writer,
        &mut collector,
    )?;
    // The stop moment: what reached any ring before it is written, from every ring.
    // The counters are read at the stop too: what arrives later is outside the capture, and
    // a ring that fills meanwhile (the process descheduled) drops only frames from after it.
    collector.end_ns = now_ns();
    note_statistics(&mut rings, &mut writer);
    if matches!(stopped_by, "signal" | "duration" | "interface gone") {
        drain_last_blocks(&mut rings, &mut pollfds, &mut writer, &mut collector)?;
    }
    collector
        .write_held(u64::MAX, &mut writer)
        .map_err(stopped)?;
    let files = writer.finish().map_err(stopped)?;
    let summary = summary(spec, &rings, &collector, files, stopped_by, gone);
    close_all(rings);
    Ok(summary)
}

/// Opens a ring per target, in the target's namespace, from many threads at once: setting up
/// a ring waits for an RCU grace period (packet_set_ring calls synchronize_net), which one
/// after the other took seconds for hundreds of interfaces. The rings come back in the
/// targets' order; on a failure, the first error in that order (the others are closed).
fn open_all(spec: &Spec, program: &[SockFilter]) -> Result<Vec<Ring>, CaptureError> {
    const THREADS: usize = 64;
    let per = spec.targets.len().div_ceil(THREADS).max(1);
    let opened: Vec<Result<Ring, CaptureError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = spec
            .targets
            .chunks(per)
            .map(|chunk| {
                let open = move || chunk.iter().map(|t| open_one(spec, program, t)).collect();
                (chunk, std::thread::Builder::new().spawn_scoped(scope, open))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(chunk, handle)| -> Vec<Result<Ring, CaptureError>> {
                match handle {
                    Ok(handle) => handle.join().expect("ring opener panicked"),
                    // No thread to be had: open them here.
                    Err(_) => chunk.iter().map(|t| open_one(spec, program, t)).collect(),
                }
            })
            .collect()
    });
    let mut rings = Vec::with_capacity(opened.len());
    let mut failed = None;
    for result in opened {
        match result {
            Ok(ring) => rings.push(ring),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => {
            close_all(rings);
            Err(e)
        }
        None => Ok(rings),
    }
}

/// One target's ring, opened in its namespace.
fn open_one(spec: &Spec, program: &[SockFilter], target: &Target) -> Result<Ring, CaptureError> {
    let interface = target.interface.clone();
    let (promiscuous, mib) = (spec.promiscuous, spec.buffer_mib);
    target
        .netns
        .run(move || -> Result<Ring, CaptureError> {
            let index = index_of(&interface)
                .map_err(|e| CaptureError::io(format!("{interface}: {e}"), e))?;
            Ring::open(index, Some(program), promiscuous, mib).map_err(|e| {
                let hint = match e.raw_os_error() {
                    Some(libc::ENOMEM) => format!(
                        " (each interface's kernel buffer takes -B MiB, {mib} here: give a \
                         smaller -B)"
                    ),
                    _ => String::new(),
                };
                CaptureError::io(format!("opening a capture on {interface}: {e}{hint}"), e)
            })
        })
        .map_err(WireError::from)?
}

/// Closes the rings from many threads at once. Each close waits for RCU grace periods
/// (packet_set_ring and packet_release both call synchronize_net, ~16-24 ms each here): one
/// after the other, 300 interfaces took seconds to stop; concurrent waits share grace periods.
fn close_all(mut rings: Vec<Ring>) {
    const THREADS: usize = 64;
    let per = rings.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        while !rings.is_empty() {
            let chunk: Vec<Ring> = rings.drain(..per.min(rings.len())).collect();
            // No thread to be had: the failed spawn drops the closure, closing them here.
            let _ = std::thread::Builder::new().spawn_scoped(scope, move || drop(chunk));
        }
    });
}

/// A write error that stops the capture.
fn stopped(e: std::io::Error) -> CaptureError {
    CaptureError::io(format!("capture stopped: {e}"), e)
}

/// The writer, with an Interface Description Block per target.
fn open_writer(spec: &Spec) -> Result<Writer, CaptureError> {
    let interfaces: Vec<Interface> = spec
        .targets
        .iter()
        .map(|t| Interface {
            name: t.label.clone(),
            description: t.description.clone(),
            snaplen: spec.snaplen,
        })
        .collect();
    Writer::open(
        spec.destination.clone(),
        spec.rotation,
        spec.limits,
        interfaces,
        now_ns(),
    )
    .map_err(|e| CaptureError::io(e.to_string(), e))
}

/// Reads every ring's kernel counters and notes them for the statistics blocks.
fn note_statistics(rings: &mut [Ring], writer: &mut Writer) {
    for ring in rings.iter_mut() {
        let _ = ring.update_statistics();
    }
    writer.note_statistics(now_ns(), rings.iter().map(|r| (r.received, r.dropped)));
}

/// The capture proper: polls the rings and writes what they hand over until something stops
/// it. Returns why (`signal`, `count`, `duration`, a writer limit, `interface gone`, `reader
/// gone`) and, when an interface vanished, its label.
fn capture_until_stop(
    spec: &Spec,
    started: Instant,
    rings: &mut [Ring],
    pollfds: &mut [libc::pollfd],
    writer: &mut Writer,
    collector: &mut Collector,
) -> Result<(&'static str, Option<String>), CaptureError> {
    let mut gone = None;
    let stopped_by = loop {
        if crate::signals::stopping() {
            break "signal";
        }
        if spec.count.is_some_and(|c| collector.total >= c) {
            break "count";
        }
        if spec.duration.is_some_and(|d| started.elapsed() >= d) {
            break "duration";
        }
        if let Some(limit) = writer.stopped_by() {
            break limit;
        }
        if let Some(index) = rings.iter().position(Ring::gone) {
            gone = Some(spec.targets[index].label.clone());
            break "interface gone";
        }
        let mut timeout = TICK;
        if let Some(d) = spec.duration {
            timeout = timeout.min(d.saturating_sub(started.elapsed()));
        }
        if let Some(d) = writer.until_rotation(HOLD_BACK) {
            timeout = timeout.min(d);
        }
        poll(pollfds, timeout);
        for (pollfd, ring) in pollfds.iter().zip(rings.iter()) {
            if pollfd.revents & libc::POLLERR != 0 {
                // The interface went down (or was down at the start), or is being deleted
                // (`gone` tells): keep capturing.
                let _ = ring.clear_error();
            }
        }
        note_statistics(rings, writer);
        collector.collect(rings, writer).map_err(stopped)?;
        // Several interfaces: -c counts frames in time order, as they are written.
        let cutoff = now_ns().saturating_sub(HOLD_BACK.as_nanos() as u64);
        collector.write_held(cutoff, writer).map_err(stopped)?;
        if spec.count.is_none_or(|c| collector.total < c) {
            writer.rotate_if_due(cutoff).map_err(stopped)?;
        }
        if let Err(e) = writer.flush() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break "reader gone";
            }
            return Err(stopped(e));
        }
    };
    Ok((stopped_by, gone))
}

/// After the stop: the kernel hands a partly filled block over only when its retire timer
/// fires, so wait for each ring's last block (or for a frame from after the stop, which means
/// it has nothing older left), at most [`ring::RETIRE_AT_MOST`]. Stopped by a count or a size,
/// nothing more would be written anyway, so the caller skips this.
fn drain_last_blocks(
    rings: &mut [Ring],
    pollfds: &mut [libc::pollfd],
    writer: &mut Writer,
    collector: &mut Collector,
) -> Result<(), CaptureError> {
    let deadline = Instant::now() + ring::RETIRE_AT_MOST;
    loop {
        collector.collect(rings, writer).map_err(stopped)?;
        let waiting = rings
            .iter()
            .enumerate()
            .any(|(id, ring)| !collector.seen_after_end[id] && ring.pending());
        let left = deadline.saturating_duration_since(Instant::now());
        if !waiting || left.is_zero() {
            return Ok(());
        }
        poll(pollfds, left.min(Duration::from_millis(10)));
    }
}

/// What was captured, per interface, and why it stopped.
fn summary(
    spec: &Spec,
    rings: &[Ring],
    collector: &Collector,
    files: Vec<PathBuf>,
    stopped_by: &str,
    gone: Option<String>,
) -> Summary {
    Summary {
        interfaces: spec
            .targets
            .iter()
            .zip(rings)
            .zip(&collector.captured)
            .map(|((t, r), c)| InterfaceSummary {
                name: t.label.clone(),
                captured: *c,
                received: r.received,
                dropped: r.dropped,
                not_written: r.received.saturating_sub(r.dropped + c),
            })
            .collect(),
        files,
        stopped_by: stopped_by.into(),
        gone,
    }
}

/// Waits up to `timeout` for any ring to have something (or an error).
fn poll(pollfds: &mut [libc::pollfd], timeout: Duration) {
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
}

/// Frames taken from the rings, in the capture's window, on their way to the writer.
struct Collector {
    /// Frames stamped before this (ns since the epoch) arrived before every ring was started.
    start_ns: u64,
    /// Frames stamped after this arrived after the stop.
    end_ns: u64,
    /// One interface: its ring is in time order, frames go straight to the writer.
    single: bool,
    snaplen: usize,
    /// `-c` / `-a packets`.
    count: Option<u64>,
    /// Frames written, per interface and in all.
    captured: Vec<u64>,
    total: u64,
    /// Per ring: a frame from after `end_ns` was seen (nothing older can follow).
    seen_after_end: Vec<bool>,
    /// With several interfaces: frames drained but not written yet, their bytes in `data`.
    held: Vec<Held>,
    data: Vec<u8>,
}

impl Collector {
    /// An empty collector for `rings` rings, its window starting now.
    fn new(spec: &Spec, rings: usize) -> Collector {
        Collector {
            start_ns: now_ns(),
            end_ns: u64::MAX,
            single: rings == 1,
            snaplen: spec.snaplen as usize,
            count: spec.count,
            captured: vec![0; rings],
            seen_after_end: vec![false; rings],
            total: 0,
            held: Vec::new(),
            data: Vec::with_capacity(1 << 20),
        }
    }

    /// Takes every frame the kernel has handed over from every ring.
    fn collect(&mut self, rings: &mut [Ring], writer: &mut Writer) -> std::io::Result<()> {
        let mut error = None;
        for (id, ring) in rings.iter_mut().enumerate() {
            let mut taken = 0u64;
            let (total, count) = (self.total, self.count);
            let (start, end, single, snaplen) =
                (self.start_ns, self.end_ns, self.single, self.snaplen);
            let (held, data, after) = (&mut self.held, &mut self.data, &mut self.seen_after_end);
            ring.drain(|frame| {
                if error.is_some() || frame.timestamp_ns < start {
                    return;
                }
                if frame.timestamp_ns > end {
                    after[id] = true;
                    return;
                }
                let flags = pcapng::epb_flags(frame.outbound, frame.packet_type);
                if single {
                    if count.is_some_and(|c| total + taken >= c) {
                        return;
                    }
                    let mut tag = [0; 4];
                    let parts = frame.parts(snaplen, &mut tag);
                    match writer.packet(0, frame.timestamp_ns, frame.original_len, parts, flags) {
                        Ok(true) => taken += 1,
                        Ok(false) => {}
                        Err(e) => error = Some(e),
                    }
                    return;
                }
                let at = data.len();
                frame.append_on_wire(snaplen, data);
                held.push((
                    frame.timestamp_ns,
                    id as u32,
                    flags,
                    frame.original_len,
                    at,
                    data.len(),
                ));
            });
            self.captured[id] += taken;
            self.total += taken;
        }
        error.map_or(Ok(()), Err)
    }

    /// Writes the held frames older than `cutoff` (see [`write_held`]).
    fn write_held(&mut self, cutoff: u64, writer: &mut Writer) -> std::io::Result<()> {
        let remaining = self.count.map(|c| c.saturating_sub(self.total));
        self.total += write_held(
            &mut self.held,
            &mut self.data,
            cutoff,
            writer,
            remaining,
            &mut self.captured,
        )?;
        Ok(())
    }
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
        if !writer.packet(id, ts, original, [&data[start..end], &[], &[]], flags)? {
            // A -a filesize/files limit: nothing more is written.
            held.clear();
            data.clear();
            return Ok(written);
        }
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
