//! `doctor`: what this host has of what patchwire needs, found by trying each thing rather
//! than by reading kernel configs or version numbers.
//!
//! Kernel features are tried for real inside one private, unnamed network namespace that
//! disappears with the process (veth pairs, a clsact qdisc, a wire that must pass a frame, a
//! cls_bpf filter, a tap, a vxlan device); /run/netns is tried in a private mount namespace of
//! a helper thread, so the host's mounts are never changed; capabilities are read from
//! /proc/self/status. Every check yields an [`Item`]: what is there, what is missing, which
//! commands that affects and how to fix it. Nothing here fails: a check that cannot run (no
//! capability to create the namespace it needs) says so as "not checked".

use std::ffi::CString;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::bpf::{self, Program, insn};
use crate::link::tap::{self, TapOptions};
use crate::netns::{NETNS_RUN_DIR, Netns};
use crate::nl::link::{self, IfIndex};
use crate::nl::{NlError, RouteSocket, errno_text, tc};
use crate::packet::PacketSocket;

/// Capability numbers (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// The fix for anything refused for want of privilege.
const RUN_AS_ROOT: &str = "run as root (sudo patchwire ...)";

/// Commands that change the kernel, all of which need CAP_NET_ADMIN.
const CHANGES_THE_KERNEL: &[&str] = &[
    "link",
    "unlink",
    "mirror add/del",
    "tap",
    "qemu-ifup",
    "qemu-ifdown",
    "watch",
    "probe",
    "up",
    "down",
    "demo",
];
/// What a wire is made of (clsact, u32, mirred): wires, hubs, and what builds them.
const WIRES: &[&str] = &["link", "qemu-ifup", "watch", "up", "demo"];
/// What mirrors are made of (clsact, cls_bpf, bpf()).
const MIRRORS: &[&str] = &["mirror add", "up (lab mirrors)", "demo"];

/// One thing checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What was checked ("clsact qdisc", "CAP_NET_ADMIN", ...).
    pub name: &'static str,
    /// It is there and works.
    pub ok: bool,
    /// Something patchwire needs today; `false` for what only optional features use, whose
    /// absence does not fail the report.
    pub required: bool,
    /// The check ran; `false` when something it depends on (a capability, a namespace to try
    /// it in) was missing, so the answer is unknown. `ok` is then `false` too.
    pub checked: bool,
    /// What was found, in a few words.
    pub detail: String,
    /// The commands (or options) that need it.
    pub affects: Vec<&'static str>,
    /// How to get it, when it is not ok.
    pub fix: Option<String>,
}

impl Item {
    fn ok(name: &'static str, affects: &[&'static str], detail: impl Into<String>) -> Item {
        Item {
            name,
            ok: true,
            required: true,
            checked: true,
            detail: detail.into(),
            affects: affects.to_vec(),
            fix: None,
        }
    }

    fn missing(
        name: &'static str,
        affects: &[&'static str],
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item {
            ok: false,
            fix: Some(fix.into()),
            ..Item::ok(name, affects, detail)
        }
    }

    fn unchecked(
        name: &'static str,
        affects: &[&'static str],
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item {
            checked: false,
            ..Item::missing(name, affects, detail, fix)
        }
    }

    /// A refusal: "not checked" when the kernel said EPERM/EACCES (the feature may well be
    /// there; the caller may not use it), "missing" with `fix` otherwise.
    fn refused(
        name: &'static str,
        affects: &[&'static str],
        what: &str,
        errno: Option<i32>,
        error: &dyn std::fmt::Display,
        fix: &str,
    ) -> Item {
        Item::refused_for_want_of("CAP_NET_ADMIN", name, affects, what, errno, error, fix)
    }

    /// [`Item::refused`], for an operation that needs capability `needs`.
    fn refused_for_want_of(
        needs: &str,
        name: &'static str,
        affects: &[&'static str],
        what: &str,
        errno: Option<i32>,
        error: &dyn std::fmt::Display,
        fix: &str,
    ) -> Item {
        let error = plain(error);
        if matches!(errno, Some(libc::EPERM | libc::EACCES)) {
            Item::unchecked(
                name,
                affects,
                format!("not checked: {what}: {error} (needs {needs})"),
                RUN_AS_ROOT,
            )
        } else {
            Item::missing(name, affects, format!("{what}: {error}"), fix)
        }
    }

    fn optional(self) -> Item {
        Item {
            required: false,
            ..self
        }
    }
}

/// An error's text without io::Error's " (os error N)".
fn plain(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    match text.split_once(" (os error ") {
        Some((before, after)) => {
            let rest = after.split_once(')').map_or("", |(_, rest)| rest);
            format!("{before}{rest}")
        }
        None => text,
    }
}

/// The errno behind an io::Error, also when a context message has hidden it.
fn io_errno(error: &io::Error) -> Option<i32> {
    error.raw_os_error().or(match error.kind() {
        io::ErrorKind::PermissionDenied => Some(libc::EPERM),
        io::ErrorKind::NotFound => Some(libc::ENOENT),
        _ => None,
    })
}

/// Everything checked, in a fixed order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every required item is ok.
    pub ok: bool,
    /// Every check, in a fixed order: capabilities, kernel features, /run/netns, libpcap.
    pub items: Vec<Item>,
}

impl Report {
    fn new(items: Vec<Item>) -> Report {
        let ok = items.iter().all(|item| item.ok || !item.required);
        Report { ok, items }
    }

    /// Required items that are not ok (missing, or not checked).
    pub fn problems(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|item| item.required && !item.ok)
    }
}

/// Checks the host (in tens of milliseconds when everything works; at most about 2 s waiting
/// for the wire's test frame). Changes nothing outside the namespaces it creates for itself.
pub fn run() -> Report {
    let caps = effective_capabilities();
    let mut items = capability_items(&caps);
    let has = |cap| caps.as_ref().is_ok_and(|set| set & (1u64 << cap) != 0);

    match Netns::create_private("doctor") {
        Ok(netns) => {
            items.push(Item::ok(
                "network namespaces",
                &["up", "down", "demo"],
                "a private one was created for these checks",
            ));
            items.extend(in_namespace(&netns));
        }
        Err(error) => {
            let denied = matches!(error.raw_os_error(), Some(libc::EPERM | libc::EACCES));
            let item = if denied {
                Item::unchecked(
                    "network namespaces",
                    &["up", "down", "demo"],
                    format!("not checked: {} (needs CAP_SYS_ADMIN)", plain(&error)),
                    RUN_AS_ROOT,
                )
            } else {
                Item::missing(
                    "network namespaces",
                    &["up", "down", "demo"],
                    plain(&error),
                    "a kernel with network namespaces (CONFIG_NET_NS)",
                )
            };
            let fix = item.fix.clone().unwrap_or_default();
            items.push(item);
            let why = format!(
                "not checked: no namespace to try it in ({})",
                error
                    .raw_os_error()
                    .map(errno_text)
                    .unwrap_or_else(|| error.to_string())
            );
            items.extend(without_namespace(&why, &fix));
        }
    }
    // Keep the report's order fixed whichever path ran.
    items.sort_by_key(|item| ORDER.iter().position(|name| *name == item.name));
    items.push(run_netns_dir(has(CAP_SYS_ADMIN)));
    items.push(libpcap());
    Report::new(items)
}

/// The order of the report.
const ORDER: &[&str] = &[
    "CAP_NET_ADMIN",
    "CAP_SYS_ADMIN",
    "CAP_BPF",
    "network namespaces",
    "veth",
    "clsact qdisc",
    "u32 classifier",
    "mirred action",
    "bpf() syscall",
    "cls_bpf classifier",
    "tun/tap",
    "vxlan",
];

/// The checks that need a namespace to be tried in (but cls_bpf, which also needs bpf()).
const NAMESPACED: [(&str, &[&str]); 6] = [
    ("veth", &["up", "demo"]),
    (
        "clsact qdisc",
        &["link", "mirror add", "qemu-ifup", "up", "demo"],
    ),
    ("u32 classifier", WIRES),
    ("mirred action", WIRES),
    ("tun/tap", &["tap add", "up (vm nodes)"]),
    ("vxlan", &["up --host (links across hosts)"]),
];

/// The effective capability set (CapEff in /proc/self/status).
fn effective_capabilities() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_cap_eff(&status).ok_or_else(|| io::Error::other("no CapEff line in /proc/self/status"))
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

fn capability_items(caps: &io::Result<u64>) -> Vec<Item> {
    let set = match caps {
        Ok(set) => *set,
        Err(error) => {
            let detail = format!("not checked: reading /proc/self/status: {error}");
            return [
                ("CAP_NET_ADMIN", CHANGES_THE_KERNEL),
                ("CAP_SYS_ADMIN", SYS_ADMIN_AFFECTS),
                ("CAP_BPF", MIRRORS),
            ]
            .into_iter()
            .map(|(name, affects)| Item::unchecked(name, affects, detail.clone(), RUN_AS_ROOT))
            .collect();
        }
    };
    let has = |cap: u32| set & (1u64 << cap) != 0;
    let capability = |name, cap, affects: &[&'static str]| {
        if has(cap) {
            Item::ok(name, affects, "in the effective capability set")
        } else {
            Item::missing(
                name,
                affects,
                format!("not in the effective capability set (CapEff {set:016x})"),
                RUN_AS_ROOT,
            )
        }
    };
    let bpf = if has(CAP_BPF) {
        Item::ok("CAP_BPF", MIRRORS, "in the effective capability set")
    } else if has(CAP_SYS_ADMIN) {
        Item::ok(
            "CAP_BPF",
            MIRRORS,
            "not in the effective set, but CAP_SYS_ADMIN allows bpf() too",
        )
    } else {
        Item::missing(
            "CAP_BPF",
            MIRRORS,
            format!("neither it nor CAP_SYS_ADMIN in the effective set (CapEff {set:016x})"),
            RUN_AS_ROOT,
        )
    };
    vec![
        capability("CAP_NET_ADMIN", CAP_NET_ADMIN, CHANGES_THE_KERNEL),
        capability("CAP_SYS_ADMIN", CAP_SYS_ADMIN, SYS_ADMIN_AFFECTS),
        bpf,
    ]
}

/// Entering or creating a namespace, and mounting named ones, needs CAP_SYS_ADMIN.
const SYS_ADMIN_AFFECTS: &[&str] = &["-n NETNS", "up", "down", "plan", "watch", "demo"];

/// The namespaced checks as "not checked" (`why`, `fix`), and bpf(), which needs no
/// namespace, tried anyway.
fn without_namespace(why: &str, fix: &str) -> Vec<Item> {
    let mut items: Vec<Item> = NAMESPACED
        .into_iter()
        .chain([("cls_bpf classifier", MIRRORS)])
        .map(|(name, affects)| Item::unchecked(name, affects, why, fix))
        .collect();
    items.push(load_program().0);
    items
}

/// veth, clsact, u32, mirred, bpf(), cls_bpf, tun/tap and vxlan, tried in `netns`.
fn in_namespace(netns: &Netns) -> Vec<Item> {
    let mut items = Vec::new();
    let mut socket = match netns.route() {
        Ok(socket) => socket,
        Err(error) => {
            return without_namespace(&format!("not checked: {}", plain(&error)), RUN_AS_ROOT);
        }
    };
    // No router solicitations or MLD reports of the namespace's own: the test frame is the
    // only frame on the wire. A kernel without IPv6 has nothing to turn off.
    let _ = netns.run(|| {
        for knob in ["all", "default"] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"), "1");
        }
    });

    let veths = add_veths(&mut socket);
    let (ends, veth) = match veths {
        Ok(ends) => (
            Some(ends),
            Item::ok("veth", NAMESPACED[0].1, "two veth pairs created"),
        ),
        Err(error) => (
            None,
            Item::refused(
                "veth",
                NAMESPACED[0].1,
                "creating a veth pair",
                error.errno(),
                &error,
                "a kernel with veth (CONFIG_VETH; modprobe veth)",
            ),
        ),
    };
    let veth_fix = veth.fix.clone().unwrap_or_default();
    items.push(veth);
    let (load, program) = load_program();
    match ends {
        Some(ends) => {
            let program = program
                .as_ref()
                .ok_or(load.fix.as_deref().unwrap_or_default());
            items.extend(wire_and_bpf(netns, &mut socket, &ends, program));
        }
        None => {
            let dependents = NAMESPACED[1..4].iter().copied();
            for (name, affects) in dependents.chain([("cls_bpf classifier", MIRRORS)]) {
                items.push(Item::unchecked(
                    name,
                    affects,
                    "not checked: needs veth",
                    veth_fix.clone(),
                ));
            }
        }
    }
    items.push(load);
    items.push(tun(netns));
    items.push(vxlan(netns, &mut socket));
    items
}

/// The interfaces of the test bench: x0 - x1 and y0 - y1, wired x1 <-> y1.
struct Ends {
    x0: IfIndex,
    x1: IfIndex,
    y0: IfIndex,
    y1: IfIndex,
}

fn add_veths(socket: &mut RouteSocket) -> Result<Ends, NlError> {
    for (name, peer) in [("pwdx0", "pwdx1"), ("pwdy0", "pwdy1")] {
        let (message, flags) = link::add_veth(name, peer, None);
        socket.request(message, flags)?;
    }
    let mut index = |name: &str| -> Result<IfIndex, NlError> {
        Ok(link::parse_one(socket.request_raw(link::get_by_name(name), 0))?.index)
    };
    Ok(Ends {
        x0: index("pwdx0")?,
        x1: index("pwdx1")?,
        y0: index("pwdy0")?,
        y1: index("pwdy1")?,
    })
}

/// clsact, u32, mirred (a wire x1 <-> y1 that must carry a frame from x0 to y0) and cls_bpf
/// (`program` attached to x0's ingress; without one, the fix that would give one).
fn wire_and_bpf(
    netns: &Netns,
    socket: &mut RouteSocket,
    ends: &Ends,
    program: Result<&Program, &str>,
) -> Vec<Item> {
    let [_, clsact_affects, u32_affects, mirred_affects, ..] = NAMESPACED.map(|(_, a)| a);
    let mut items = Vec::new();
    let mut clsact_error = None;
    for index in [ends.x0, ends.x1, ends.y1] {
        let (message, flags) = tc::add_clsact(index);
        if let Err(error) = socket.request(message, flags) {
            clsact_error = Some(error);
            break;
        }
    }
    if let Some(error) = clsact_error {
        let clsact = Item::refused(
            "clsact qdisc",
            clsact_affects,
            "adding a clsact qdisc to a veth",
            error.errno(),
            &error,
            "a kernel with the clsact qdisc (CONFIG_NET_SCH_INGRESS; modprobe sch_ingress)",
        );
        let fix = clsact.fix.clone().unwrap_or_default();
        items.push(clsact);
        for (name, affects) in [
            ("u32 classifier", u32_affects),
            ("mirred action", mirred_affects),
            ("cls_bpf classifier", MIRRORS),
        ] {
            items.push(Item::unchecked(
                name,
                affects,
                "not checked: needs the clsact qdisc",
                fix.clone(),
            ));
        }
        return items;
    }
    items.push(Item::ok("clsact qdisc", clsact_affects, "added to a veth"));

    items.extend(wire(netns, socket, ends));
    items.push(match program {
        Err(fix) => Item::unchecked(
            "cls_bpf classifier",
            MIRRORS,
            "not checked: needs the bpf() syscall",
            fix,
        ),
        Ok(program) => {
            match bpf::attach_cls_bpf(socket, ends.x0, tc::INGRESS_PARENT, 1, program, "pw_doctor")
            {
                Ok(()) => Item::ok(
                    "cls_bpf classifier",
                    MIRRORS,
                    "a direct-action bpf filter attached to a veth",
                ),
                Err(error) => Item::refused(
                    "cls_bpf classifier",
                    MIRRORS,
                    "attaching a cls_bpf filter",
                    error.errno(),
                    &error,
                    "a kernel with the bpf classifier (CONFIG_NET_CLS_BPF; modprobe cls_bpf)",
                ),
            }
        }
    });
    items
}

/// A real wire x1 <-> y1 (u32 match-all + mirred redirect, both ways), then one frame sent
/// into x0 that must come out of y0 unchanged.
fn wire(netns: &Netns, socket: &mut RouteSocket, ends: &Ends) -> Vec<Item> {
    let [_, _, u32_affects, mirred_affects, ..] = NAMESPACED.map(|(_, a)| a);
    for (from, to, to_name) in [(ends.x1, ends.y1, "pwdy1"), (ends.y1, ends.x1, "pwdx1")] {
        let (message, flags) = tc::add_wire_filter(from, to, to_name);
        let Err(error) = socket.request(message, flags) else {
            continue;
        };
        // The kernel parses the classifier before its actions: an action it cannot load
        // means the classifier is there.
        let action = matches!(&error, NlError::Kernel { ext_ack: Some(text), .. }
            if text.to_lowercase().contains("action"));
        if action && matches!(error.errno(), Some(libc::ENOENT | libc::EOPNOTSUPP)) {
            return vec![
                Item::ok("u32 classifier", u32_affects, "a match-all filter accepted"),
                Item::missing(
                    "mirred action",
                    mirred_affects,
                    format!("adding a mirred redirect: {error}"),
                    "a kernel with the mirred action (CONFIG_NET_ACT_MIRRED; modprobe act_mirred)",
                ),
            ];
        }
        let u32_item = Item::refused(
            "u32 classifier",
            u32_affects,
            "adding a u32 match-all filter with a mirred redirect",
            error.errno(),
            &error,
            "a kernel with the u32 classifier (CONFIG_NET_CLS_U32; modprobe cls_u32)",
        );
        let fix = u32_item.fix.clone().unwrap_or_default();
        return vec![
            u32_item,
            Item::unchecked(
                "mirred action",
                mirred_affects,
                "not checked: needs the u32 classifier",
                fix,
            ),
        ];
    }
    let u32_ok = Item::ok("u32 classifier", u32_affects, "a match-all filter accepted");
    let mirred = match frame_crosses(netns, socket, ends) {
        Ok(true) => Item::ok(
            "mirred action",
            mirred_affects,
            "a wire between two veths carried a test frame unchanged",
        ),
        Ok(false) => Item::missing(
            "mirred action",
            mirred_affects,
            "the wire was made, but a test frame sent across it did not arrive within 2 s",
            "none known: this kernel accepts a wire but does not forward through it; please report it (uname -r)",
        ),
        Err(error) => Item::refused_for_want_of(
            "CAP_NET_RAW",
            "mirred action",
            mirred_affects,
            "sending a test frame across a wire",
            io_errno(&error),
            &error,
            "AF_PACKET sockets (CONFIG_PACKET) to run this check",
        ),
    };
    vec![u32_ok, mirred]
}

/// Brings the bench up and sends a frame into x0 until it comes out of y0 (a fresh veth
/// drops what it is given until the kernel has activated its queue), for at most 2 s.
fn frame_crosses(netns: &Netns, socket: &mut RouteSocket, ends: &Ends) -> io::Result<bool> {
    for index in [ends.x0, ends.x1, ends.y0, ends.y1] {
        socket
            .request(link::set_up(index, true), 0)
            .map_err(|e| nl_io(e, "bringing a veth up"))?;
    }
    let open = |index: IfIndex| {
        netns
            .run(|| PacketSocket::open(index.0))
            .map_err(|e| io::Error::other(e.to_string()))?
    };
    let (sender, receiver) = (open(ends.x0)?, open(ends.y0)?);
    let mut frame = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5];
    frame.extend(b"patchwire doctor test frame");
    frame.resize(60, 0);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        sender.send(&frame)?;
        let wait = (Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Some(received) = receiver.recv_until(wait)? {
            if received == frame {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn nl_io(error: NlError, what: &str) -> io::Error {
    let errno = error.errno();
    match errno {
        Some(errno) => io::Error::from_raw_os_error(errno),
        None => io::Error::other(format!("{what}: {error}")),
    }
}

/// bpf(BPF_PROG_LOAD) of the smallest tc program there is: "return TC_ACT_UNSPEC".
fn load_program() -> (Item, Option<Program>) {
    let code = [insn::mov64_imm(insn::R0, bpf::TC_ACT_UNSPEC), insn::exit()];
    match Program::load_sched_cls(&code, "pw_doctor") {
        Ok(program) => (
            Item::ok(
                "bpf() syscall",
                MIRRORS,
                "a tc program (2 instructions) loaded",
            ),
            Some(program),
        ),
        Err(error) => {
            let errno = match &error {
                bpf::BpfError::Load { errno, .. } => Some(*errno),
                _ => None,
            };
            let item = match errno {
                Some(libc::EPERM | libc::EACCES) => Item::unchecked(
                    "bpf() syscall",
                    MIRRORS,
                    format!("not checked: {error} (needs CAP_BPF and CAP_NET_ADMIN)"),
                    RUN_AS_ROOT,
                ),
                Some(libc::ENOSYS) => Item::missing(
                    "bpf() syscall",
                    MIRRORS,
                    "this kernel has no bpf() syscall",
                    "a kernel with CONFIG_BPF_SYSCALL",
                ),
                _ => Item::missing(
                    "bpf() syscall",
                    MIRRORS,
                    error.to_string(),
                    "a kernel with CONFIG_BPF_SYSCALL and CONFIG_NET_CLS_BPF",
                ),
            };
            (item, None)
        }
    }
}

/// /dev/net/tun, and a tap made with it (it vanishes with the namespace).
fn tun(netns: &Netns) -> Item {
    let (_, affects) = NAMESPACED[4];
    let fix = "load the tun module (modprobe tun), or create the device node \
               (mknod /dev/net/tun c 10 200); in a container pass --device /dev/net/tun";
    if !Path::new("/dev/net/tun").exists() {
        return Item::missing("tun/tap", affects, "no /dev/net/tun", fix);
    }
    let made = netns
        .run(|| tap::create_persistent("pwdtap0", &TapOptions::default()))
        .map_err(|e| io::Error::other(e.to_string()))
        .and_then(|made| made);
    match made {
        Ok(_) => Item::ok("tun/tap", affects, "a tap created through /dev/net/tun"),
        Err(error) => Item::refused(
            "tun/tap",
            affects,
            "/dev/net/tun",
            io_errno(&error),
            &error,
            fix,
        ),
    }
}

/// A vxlan device (VNI 4242 between two benchmarking addresses; never brought up).
fn vxlan(netns: &Netns, socket: &mut RouteSocket) -> Item {
    let (_, affects) = NAMESPACED[5];
    let (message, flags) = link::add_vxlan(
        "pwdvx0",
        1450,
        4242,
        [198, 18, 0, 1].into(),
        Some([198, 18, 0, 2].into()),
        4789,
        netns.fd(),
    );
    match socket.request(message, flags) {
        Ok(_) => Item::ok("vxlan", affects, "a vxlan device created"),
        Err(error) => Item::refused(
            "vxlan",
            affects,
            "creating a vxlan device",
            error.errno(),
            &error,
            "a kernel with vxlan (CONFIG_VXLAN; modprobe vxlan)",
        ),
    }
}

/// /run/netns: there (or creatable), and a shared mount point or one patchwire can make it.
/// The making is tried in a private mount namespace of a helper thread, whose mounts are
/// slaves of the host's: nothing done there reaches the host.
fn run_netns_dir(sys_admin: bool) -> Item {
    const NAME: &str = "/run/netns";
    let affects: &[&str] = &["up", "down", "-n NAME (named namespaces)"];
    let dir = Path::new(NETNS_RUN_DIR);
    let mount = mount_of(dir);
    if !dir.is_dir() {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        if !writable(parent) {
            return Item::missing(
                NAME,
                affects,
                format!("absent, and {} is not writable here", parent.display()),
                RUN_AS_ROOT,
            );
        }
        return if sys_admin {
            Item::ok(
                NAME,
                affects,
                "absent: made (a shared mount point) with the first named namespace",
            )
        } else {
            Item::missing(
                NAME,
                affects,
                "absent; making it a mount point needs CAP_SYS_ADMIN",
                RUN_AS_ROOT,
            )
        };
    }
    if mount == Some(true) {
        return Item::ok(NAME, affects, "exists, a shared mount point");
    }
    let state = match mount {
        Some(_) => "exists, a mount point but not shared",
        None => "exists, not a mount point yet",
    };
    match try_make_shared(dir, mount.is_some()) {
        Ok(()) => Item::ok(
            NAME,
            affects,
            format!("{state}: made shared with the first named namespace (tried privately)"),
        ),
        Err(error) if matches!(error.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
            Item::unchecked(
                NAME,
                affects,
                format!(
                    "{state}; not checked whether it can be made shared: {error} (needs CAP_SYS_ADMIN)"
                ),
                RUN_AS_ROOT,
            )
        }
        Err(error) => Item::missing(
            NAME,
            affects,
            format!("{state}, and it cannot be made shared: {error}"),
            "as root: mount --bind /run/netns /run/netns; mount --make-shared /run/netns",
        ),
    }
}

/// Whether `dir` is a mount point (the topmost mount there), and if so whether it is shared.
fn mount_of(dir: &Path) -> Option<bool> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_mountinfo(&mountinfo, dir.to_str()?)
}

/// mountinfo(5): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE ...`;
/// a `shared:N` optional field marks a shared mount. The last line for a mount point is the
/// mount on top.
fn parse_mountinfo(mountinfo: &str, dir: &str) -> Option<bool> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (fields.get(4) == Some(&dir)).then(|| {
                fields[6..]
                    .iter()
                    .take_while(|f| **f != "-")
                    .any(|f| f.starts_with("shared:"))
            })
        })
        .next_back()
}

fn writable(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path that outlives the call; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// What `Netns::create_named` does to /run/netns on first use (bind it onto itself when it is
/// no mount point, then make it shared), done in a throwaway mount namespace.
fn try_make_shared(dir: &Path, mount_point: bool) -> io::Result<()> {
    let path = CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    let mount = |source: &std::ffi::CStr, target: &std::ffi::CStr, flags: libc::c_ulong| {
        let none = c"none";
        // SAFETY: NUL-terminated strings that outlive the call; null data is allowed.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                none.as_ptr(),
                flags,
                std::ptr::null(),
            )
        };
        match rc {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: unshare only gives this helper thread its own mount namespace (and
                // its own fs_struct); the thread ends right after, and the namespace with it.
                if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                // From here on nothing propagates back to the host's mounts.
                mount(c"none", c"/", libc::MS_REC | libc::MS_SLAVE)?;
                if !mount_point {
                    mount(&path, &path, libc::MS_BIND)?;
                }
                mount(c"none", &path, libc::MS_SHARED | libc::MS_REC)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("mount helper thread panicked")))
    })
}

/// libpcap, loaded at run time for filters: the same names, in the same order, as the
/// filter compiler tries (`capture::filter::LIBRARIES`).
fn libpcap() -> Item {
    const NAME: &str = "libpcap";
    const USES: &str = "capture -f, mirror add --filter and lab mirrors' `filter:`";
    let affects: &[&str] = &["capture -f", "mirror add --filter", "lab mirror filter:"];
    let libraries = crate::capture::filter::LIBRARIES;
    match first_loadable(&libraries) {
        Some(name) => {
            Item::ok(NAME, affects, format!("{name} loads: optional, for {USES}")).optional()
        }
        None => Item::missing(
            NAME,
            affects,
            format!(
                "none of {} loads: optional, for {USES}",
                libraries.join(", ")
            ),
            "apt install libpcap0.8",
        )
        .optional(),
    }
}

/// The first of `names` that dlopen loads.
fn first_loadable<'n>(names: &[&'n str]) -> Option<&'n str> {
    names.iter().copied().find(|name| {
        let Ok(soname) = std::ffi::CString::new(*name) else {
            return false;
        };
        // SAFETY: dlopen with a NUL-terminated name; the handle is closed at once and no
        // symbol from it is ever used.
        let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return false;
        }
        // SAFETY: a handle dlopen returned, closed once.
        unsafe { libc::dlclose(handle) };
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpcap_is_looked_for_under_every_name_capture_tries() {
        assert_eq!(
            first_loadable(&["libpw-no-such-library.so.1", "libpcap.so.0.8"]),
            Some("libpcap.so.0.8")
        );
        assert_eq!(first_loadable(&["libpw-no-such-library.so.1"]), None);
        let item = libpcap();
        assert_eq!(
            item.detail,
            "libpcap.so.0.8 loads: optional, for capture -f, mirror add --filter and lab \
             mirrors' `filter:`"
        );
        assert!(!item.detail.contains("not built yet"));
    }

    #[test]
    fn cap_eff_is_read_as_hex() {
        let status = "Name:\tpatchwire\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn capabilities_name_root_as_the_fix() {
        let none = capability_items(&Ok(0));
        assert!(none.iter().all(|item| !item.ok && item.checked));
        assert_eq!(none[0].name, "CAP_NET_ADMIN");
        assert_eq!(none[0].fix.as_deref(), Some(RUN_AS_ROOT));
        assert!(none[0].detail.contains("CapEff 0000000000000000"));
        // CAP_SYS_ADMIN stands in for CAP_BPF.
        let sys_admin = capability_items(&Ok(1 << CAP_SYS_ADMIN));
        assert!(sys_admin[2].ok, "{:?}", sys_admin[2]);
        assert!(!sys_admin[0].ok);
        let all = capability_items(&Ok(u64::MAX));
        assert!(all.iter().all(|item| item.ok && item.fix.is_none()));
    }

    #[test]
    fn shared_mount_points_are_told_from_private_ones() {
        let run = "24 1 0:22 / /run rw,nosuid shared:5 - tmpfs tmpfs rw\n";
        let private = "90 24 0:22 /netns /run/netns rw,nosuid - tmpfs tmpfs rw\n";
        let shared = "91 90 0:22 /netns /run/netns rw shared:300 master:5 - tmpfs tmpfs rw\n";
        let both = format!("{run}{private}{shared}");
        // The last mount on a mount point is the one on top.
        assert_eq!(parse_mountinfo(&both, "/run/netns"), Some(true));
        assert_eq!(
            parse_mountinfo(&format!("{run}{private}"), "/run/netns"),
            Some(false)
        );
        assert_eq!(parse_mountinfo(&both, "/run"), Some(true));
        assert_eq!(parse_mountinfo(&both, "/sys"), None);
    }

    #[test]
    fn errors_read_without_os_error_numbers() {
        let error = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(plain(&error), "Operation not permitted");
        let wrapped = io::Error::new(error.kind(), format!("create tap t0: {error}"));
        assert_eq!(plain(&wrapped), "create tap t0: Operation not permitted");
        assert_eq!(io_errno(&wrapped), Some(libc::EPERM));
        assert_eq!(plain(&"no number (here)"), "no number (here)");
    }

    #[test]
    fn optional_items_do_not_fail_the_report() {
        let report = Report::new(vec![
            Item::ok("a", &[], "there"),
            Item::missing("b", &[], "absent", "install b").optional(),
        ]);
        assert!(report.ok);
        assert_eq!(report.problems().count(), 0);
        let report = Report::new(vec![Item::unchecked("c", &[], "unknown", RUN_AS_ROOT)]);
        assert!(!report.ok);
        assert_eq!(report.problems().count(), 1);
    }
}
