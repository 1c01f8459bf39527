//! Kernel features, tried for real in the doctor's private namespace: veth, clsact, u32, mirred
//! (a wire that must carry a test frame), bpf(), cls_bpf, tun/tap and vxlan.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Check, Item, RUN_AS_ROOT, io_errno, plain};
use crate::bpf::{self, Program, insn};
use crate::link::tap::{self, TapOptions};
use crate::netns::Netns;
use crate::nl::link::{self, IfIndex};
use crate::nl::{NlError, RouteSocket, tc};
use crate::packet::PacketSocket;

/// The checks that need a namespace to be tried in (but cls_bpf, which also needs bpf()).
const NAMESPACED: [Check; 7] = [
    Check::Veth,
    Check::Clsact,
    Check::U32,
    Check::Mirred,
    Check::TunTap,
    Check::Vxlan,
    Check::Dummy,
];

/// The namespaced checks as "not checked" (`why`, `fix`), and bpf(), which needs no
/// namespace, tried anyway.
pub(super) fn without_namespace(why: &str, fix: &str) -> Vec<Item> {
    let mut items: Vec<Item> = NAMESPACED
        .into_iter()
        .chain([Check::ClsBpf])
        .map(|check| match check {
            Check::Dummy => Item::unchecked(check, why, fix).optional(),
            _ => Item::unchecked(check, why, fix),
        })
        .chain([Check::Tbf, Check::Netem].map(|check| Item::unchecked(check, why, fix).optional()))
        .collect();
    items.push(load_program().0);
    items
}

/// veth, clsact, u32, mirred, bpf(), cls_bpf, tun/tap and vxlan, tried in `netns`.
pub(super) fn in_namespace(netns: &Netns) -> Vec<Item> {
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
        Ok(ends) => (Some(ends), Item::ok(Check::Veth, "two veth pairs created")),
        Err(error) => (
            None,
            Item::refused(
                Check::Veth,
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
            for check in [Check::Clsact, Check::U32, Check::Mirred, Check::ClsBpf] {
                items.push(Item::unchecked(
                    check,
                    "not checked: needs veth",
                    veth_fix.clone(),
                ));
            }
        }
    }
    items.push(load);
    items.push(tun(netns));
    items.push(vxlan(netns, &mut socket));
    items.push(dummy(netns, &mut socket));
    items.extend(impairment_qdiscs(&mut socket));
    items
}

/// tbf and netem, tried as the root qdisc of the namespace's loopback (removed after each).
/// Both optional: only `impair --rate` and `impair --delay/--jitter/--reorder` need them.
fn impairment_qdiscs(socket: &mut RouteSocket) -> Vec<Item> {
    use crate::impair::qdisc;
    let lo = IfIndex(1);
    let tbf = qdisc::Tbf {
        rate: 1_000_000,
        burst: 16 * 1024,
    };
    let tries = [
        (
            Check::Tbf,
            qdisc::replace_tbf_root(lo, &tbf),
            "sch_tbf",
            "rates (impair --rate) are refused",
        ),
        (
            Check::Netem,
            qdisc::probe_netem(lo),
            "sch_netem",
            "delay, jitter and reordering (impair --delay) are refused; loss, corruption, \
             duplication and rates work without it",
        ),
    ];
    let mut items = Vec::new();
    for (check, (request, flags), module, without) in tries {
        let item = match socket.request(request, flags) {
            Ok(_) => {
                let _ = socket.request(qdisc::delete_root(lo), 0);
                Item::ok(check, "added to a loopback")
            }
            Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::EOPNOTSUPP)) => Item::missing(
                check,
                format!("this kernel has no {module}: {without}"),
                format!("modprobe {module} (distribution kernels build it as a module)"),
            ),
            Err(e) => Item::refused(
                check,
                "adding a root qdisc",
                e.errno(),
                &e,
                &format!("modprobe {module}"),
            ),
        };
        items.push(item.optional());
    }
    items
}

/// A dummy device (only lab links of `type: dummy` need one: optional).
fn dummy(netns: &Netns, socket: &mut RouteSocket) -> Item {
    match crate::link::try_dummy(socket, netns.fd()) {
        Ok(()) => Item::ok(
            Check::Dummy,
            "a dummy device created: optional, for lab links of type: dummy",
        )
        .optional(),
        Err(error) => Item::refused(
            Check::Dummy,
            "creating a dummy device",
            error.errno(),
            &error,
            "a kernel with the dummy module (CONFIG_DUMMY; modprobe dummy)",
        )
        .optional(),
    }
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
            Check::Clsact,
            "adding a clsact qdisc to a veth",
            error.errno(),
            &error,
            "a kernel with the clsact qdisc (CONFIG_NET_SCH_INGRESS; modprobe sch_ingress)",
        );
        let fix = clsact.fix.clone().unwrap_or_default();
        items.push(clsact);
        for check in [Check::U32, Check::Mirred, Check::ClsBpf] {
            items.push(Item::unchecked(
                check,
                "not checked: needs the clsact qdisc",
                fix.clone(),
            ));
        }
        return items;
    }
    items.push(Item::ok(Check::Clsact, "added to a veth"));

    items.extend(wire(netns, socket, ends));
    items.push(match program {
        Err(fix) => Item::unchecked(Check::ClsBpf, "not checked: needs the bpf() syscall", fix),
        Ok(program) => {
            match bpf::attach_cls_bpf(socket, ends.x0, tc::INGRESS_PARENT, 1, program, "pw_doctor")
            {
                Ok(()) => Item::ok(
                    Check::ClsBpf,
                    "a direct-action bpf filter attached to a veth",
                ),
                Err(error) => Item::refused(
                    Check::ClsBpf,
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
                Item::ok(Check::U32, "a match-all filter accepted"),
                Item::missing(
                    Check::Mirred,
                    format!("adding a mirred redirect: {error}"),
                    "a kernel with the mirred action (CONFIG_NET_ACT_MIRRED; modprobe act_mirred)",
                ),
            ];
        }
        let u32_item = Item::refused(
            Check::U32,
            "adding a u32 match-all filter with a mirred redirect",
            error.errno(),
            &error,
            "a kernel with the u32 classifier (CONFIG_NET_CLS_U32; modprobe cls_u32)",
        );
        let fix = u32_item.fix.clone().unwrap_or_default();
        return vec![
            u32_item,
            Item::unchecked(Check::Mirred, "not checked: needs the u32 classifier", fix),
        ];
    }
    let u32_ok = Item::ok(Check::U32, "a match-all filter accepted");
    let mirred = match frame_crosses(netns, socket, ends) {
        Ok(true) => Item::ok(
            Check::Mirred,
            "a wire between two veths carried a test frame unchanged",
        ),
        Ok(false) => Item::missing(
            Check::Mirred,
            "the wire was made, but a test frame sent across it did not arrive within 2 s",
            "none known: this kernel accepts a wire but does not forward through it; please report it (uname -r)",
        ),
        Err(error) => Item::refused_for_want_of(
            "CAP_NET_RAW",
            Check::Mirred,
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
pub(super) fn load_program() -> (Item, Option<Program>) {
    let code = [insn::mov64_imm(insn::R0, bpf::TC_ACT_UNSPEC), insn::exit()];
    match Program::load_sched_cls(&code, "pw_doctor") {
        Ok(program) => (
            Item::ok(Check::BpfSyscall, "a tc program (2 instructions) loaded"),
            Some(program),
        ),
        Err(error) => {
            let errno = match &error {
                bpf::BpfError::Load { errno, .. } => Some(*errno),
                _ => None,
            };
            let item = match errno {
                Some(libc::EPERM | libc::EACCES) => Item::unchecked(
                    Check::BpfSyscall,
                    format!("not checked: {error} (needs CAP_BPF and CAP_NET_ADMIN)"),
                    RUN_AS_ROOT,
                ),
                Some(libc::ENOSYS) => Item::missing(
                    Check::BpfSyscall,
                    "this kernel has no bpf() syscall",
                    "a kernel with CONFIG_BPF_SYSCALL",
                ),
                _ => Item::missing(
                    Check::BpfSyscall,
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
    let fix = "load the tun module (modprobe tun), or create the device node \
               (mknod /dev/net/tun c 10 200); in a container pass --device /dev/net/tun";
    if !Path::new("/dev/net/tun").exists() {
        return Item::missing(Check::TunTap, "no /dev/net/tun", fix);
    }
    let made = netns
        .run(|| tap::create_persistent("pwdtap0", &TapOptions::default()))
        .map_err(|e| io::Error::other(e.to_string()))
        .and_then(|made| made);
    match made {
        Ok(_) => Item::ok(Check::TunTap, "a tap created through /dev/net/tun"),
        Err(error) => Item::refused(Check::TunTap, "/dev/net/tun", io_errno(&error), &error, fix),
    }
}

/// A vxlan device (VNI 4242 between two benchmarking addresses; never brought up).
fn vxlan(netns: &Netns, socket: &mut RouteSocket) -> Item {
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
        Ok(_) => Item::ok(Check::Vxlan, "a vxlan device created"),
        Err(error) => Item::refused(
            Check::Vxlan,
            "creating a vxlan device",
            error.errno(),
            &error,
            "a kernel with vxlan (CONFIG_VXLAN; modprobe vxlan)",
        ),
    }
}
