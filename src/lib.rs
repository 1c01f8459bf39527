//! patchwire: transparent layer-2 wires between Linux interfaces, over netlink.
//!
//! Rooms, top-down:
//! * [`lab`] — whole labs from one YAML file (`up`, `plan`, `down`, `show --lab`, `graph`): it
//!   plans what should exist and makes it with the same wires, hubs, mirrors and taps.
//! * [`wire`] — link / unlink / show: the wire model, planning, loop guard, apply and rollback.
//! * [`hub`] — transparent multi-access segments: every frame entering one member leaves every
//!   other member once, built from the same tc filters, records and rollback as wires.
//! * [`mirror`] — SPAN: copies of a source's frames (in, out, by VLAN, RSPAN-tagged) sent out
//!   of a destination, with counters and health, rebuilt from the kernel like wires.
//! * [`probe`] — the end-to-end transparency check: a catalogue of frames sent through a wire.
//! * [`demo`] — a throwaway lab comparing a Linux bridge with a patchwire wire.
//! * [`watch`] — link-state propagation and re-attaching wires while a lab runs.
//! * [`doctor`] — what this host has of what patchwire needs, each part tried for real in a
//!   throwaway namespace.
//! * [`capture`] — `capture`: interfaces of any namespaces, a wire's or a lab's, into one
//!   pcapng file with each frame's direction (TPACKET_V3 rings, libpcap filters, file rings).
//! * [`cni`] — `patchwire-cni`, a chained CNI plugin: a tap for a VM (Kata, Firecracker) wired
//!   to the container's interface, or two container interfaces wired together.
//! * [`vm`] — taps for qemu, and qemu's ifup/ifdown scripts (with the tap -> partner mapping).
//! * [`nl`] — the thin netlink layer: one file per kernel object (links, tc, namespace ids).
//! * [`netns`] — namespace handles; work "in" a namespace happens on a thread that entered it.
//! * [`link`] — what needs more than netlink: taps (/dev/net/tun), TX checksum offload (ethtool).
//! * [`packet`] — raw frame I/O (AF_PACKET) on one interface.
//! * `sys` — the small syscall helpers those share (poll with a deadline, socket options).
//! * [`bpf`] — tiny tc eBPF programs from raw instructions (no compiler), loaded with bpf(2)
//!   and attached as cls_bpf filters (with a tiny label assembler): mirrors' frame selection.

#![warn(missing_docs)]

pub mod bpf;
pub mod capture;
pub mod cni;
pub mod demo;
pub mod doctor;
pub mod hub;
pub mod impair;
pub mod lab;
pub mod link;
pub mod marks;
pub mod mirror;
pub mod netns;
pub mod nl;
pub mod packet;
pub mod probe;
pub mod runtime;
pub mod signals;
pub(crate) mod suggest;
mod sys;
pub mod vm;
pub mod watch;
pub mod wire;
