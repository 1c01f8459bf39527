//! Labs as files against the real kernel: `up` builds node namespaces, ports, wires and hubs
//! that pass the probe catalogue; `up` again changes nothing; an edit touches only what
//! changed; `down` leaves /run/netns exactly as before; a lab over two simulated hosts joined by
//! VXLAN; an existing namespace's tap as an endpoint; bad input refused with the kernel
//! unchanged; `up` killed at any moment converges when run again.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::labframes::*;
use common::*;

#[test]
fn a_lab_comes_up_passes_frames_converges_and_goes_away_without_a_trace() {
    let lab = LabFile::new("l", BASIC);
    let before = netns_list(&lab.name);
    let up = lab.pw(&["up"]);
    up.ok();
    for node in ["r1", "r2", "r3"] {
        assert!(
            netns_list(&lab.name).contains(&lab.ns(node)),
            "{}",
            up.stdout
        );
    }
    assert!(ip_in(&lab.ns("r3"), "link show dev eth2").contains("mtu 9000"));

    // A wire and a hub, checked by the product's probe from inside the panel and by hand.
    run_probe(&lab.panel(), "r1.eth1");
    let got = cross(
        &lab.ns("r1"),
        "eth1",
        &[(&lab.ns("r2"), "eth1")],
        &frames(1),
    );
    assert_eq!(got, vec![KINDS]);
    fans_out(&lab, ("r1", "eth2"), &[("r2", "eth2"), ("r3", "eth2")], 2);

    // Converged: nothing to do.
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    let again = lab.pw(&["up"]);
    assert!(
        again.ok().stdout.contains("up to date, nothing changed"),
        "{}",
        again.stdout
    );

    // An edit: r1:eth1 now goes to r3:eth1 (its port stays and is bounced: r1 sees the cable
    // move); the hub is untouched (same ports, same ifindexes).
    let hub_ports: Vec<u32> = ["r1.eth2", "r2.eth2", "r3.eth2"]
        .iter()
        .map(|p| ifindex_in(&lab.panel(), p))
        .collect();
    lab.write(&BASIC.replace("[\"r1:eth1\", \"r2:eth1\"]", "[\"r1:eth1\", \"r3:eth1\"]"));
    let plan = lab.pw(&["-j", "plan"]).json();
    let kinds: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["bounce", "unwire", "delete-port", "create-port", "wire"],
        "{plan}"
    );
    // Frames cross the unchanged wire and the hub all through the edit.
    let (mut edit, mut hub_edit) = (None, None);
    let (sent, arrived) = frames_during((&lab.ns("r2"), "eth3"), (&lab.ns("r3"), "eth3"), || {
        hub_edit = Some(frames_during(
            (&lab.ns("r1"), "eth2"),
            (&lab.ns("r3"), "eth2"),
            || edit = Some(lab.pw(&["up"])),
        ))
    });
    edit.unwrap().ok();
    assert_eq!(
        arrived, sent,
        "an unchanged wire passed every frame during the edit"
    );
    let (sent, arrived) = hub_edit.unwrap();
    assert!(sent > 50, "{sent}");
    assert_eq!(
        arrived, sent,
        "an unchanged hub passed every frame during the edit"
    );
    let after: Vec<u32> = ["r1.eth2", "r2.eth2", "r3.eth2"]
        .iter()
        .map(|p| ifindex_in(&lab.panel(), p))
        .collect();
    assert_eq!(hub_ports, after, "an unchanged link keeps its interfaces");
    let got = cross(
        &lab.ns("r1"),
        "eth1",
        &[(&lab.ns("r3"), "eth1")],
        &frames(3),
    );
    assert_eq!(got, vec![KINDS]);
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));

    // A hub filter deleted behind the lab's back: plan says so and up repairs it.
    run(
        "tc",
        &[
            "-n",
            &lab.panel(),
            "filter",
            "del",
            "dev",
            "r2.eth2",
            "ingress",
            "pref",
            "20567",
        ],
    );
    let plan = lab.pw(&["-j", "plan"]).json();
    assert_eq!(plan.as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(plan[0]["change"], "hub", "{plan}");
    lab.pw(&["up"]).ok();
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));

    // A new member that sorts first: the hub is re-patched in place, not removed and re-made.
    let edited = BASIC
        .replace("[\"r1:eth1\", \"r2:eth1\"]", "[\"r1:eth1\", \"r3:eth1\"]")
        .replace(
            "[\"r1:eth2\", \"r2:eth2\", \"r3:eth2\"]",
            "[\"r1:eth0\", \"r1:eth2\", \"r2:eth2\", \"r3:eth2\"]",
        );
    lab.write(&edited);
    let plan = lab.pw(&["-j", "plan"]).json();
    let kinds: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["create-port", "hub"], "{plan}");
    lab.pw(&["up"]).ok();
    let got = cross(
        &lab.ns("r1"),
        "eth0",
        &[
            (&lab.ns("r2"), "eth2"),
            (&lab.ns("r3"), "eth2"),
            (&lab.ns("r1"), "eth2"),
        ],
        &frames(15),
    );
    assert_eq!(got, vec![KINDS, KINDS, KINDS]);
    lab.write(&BASIC.replace("[\"r1:eth1\", \"r2:eth1\"]", "[\"r1:eth1\", \"r3:eth1\"]"));
    lab.pw(&["up"]).ok();

    let show = lab.pw(&["-j", "show", "--lab"]).json();
    assert_eq!(show[0]["kind"], "wire");
    assert_eq!(show[0]["health"], "ok", "{show}");
    assert_eq!(show[1]["kind"], "hub");
    let graph = lab.pw(&["graph"]);
    let dot = &graph.ok().stdout;
    assert!(
        dot.starts_with(&format!("graph \"{}\" {{", lab.name)),
        "{dot}"
    );
    assert!(
        dot.contains(
            "\"r1\" -- \"r3\" [label=\"r1:eth1\\nr3:eth1\", color=black, fontcolor=black];"
        ),
        "{dot}"
    );
    assert!(
        dot.contains("\"r3\" -- \"hub.2\" [label=\"r3:eth2\""),
        "{dot}"
    );
    let mermaid = lab.pw(&["graph", "--format", "mermaid"]);
    let mermaid = &mermaid.ok().stdout;
    assert!(mermaid.starts_with("graph LR\n"), "{mermaid}");
    assert!(
        mermaid.contains("n0[\"r1\"]") && mermaid.contains("n0 ---|\"r1:eth1 - r3:eth1\"| n2"),
        "{mermaid}"
    );

    lab.pw(&["down"]).ok();
    assert_eq!(
        netns_list(&lab.name),
        before,
        "down leaves /run/netns as it was"
    );
    let twice = lab.pw(&["down"]);
    assert!(twice.ok().stdout.contains("nothing to remove"));
}

#[test]
fn a_lab_over_two_hosts_joins_them_with_vxlan() {
    // Two "hosts": namespaces joined by an underlay veth.
    let (host_a, host_b) = (TestNs::new(), TestNs::new());
    veth(&host_a, "u0", &host_b, "u0");
    host_a.ip("addr add 198.18.1.1/24 dev u0");
    host_b.ip("addr add 198.18.1.2/24 dev u0");
    let mut lab = LabFile::new(
        "l",
        "\
name: LAB
hosts:
  a: {address: 198.18.1.1}
  b: {address: 198.18.1.2}
topology:
  nodes:
    r1: {}
    r2: {host: b}
    r3: {}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\"]
    - endpoints: [\"r1:eth2\", \"r2:eth2\", \"r3:eth2\"]
",
    );
    lab.hosts = vec![
        ("a".into(), host_a.name.clone()),
        ("b".into(), host_b.name.clone()),
    ];
    // 1500 + 50 does not fit a 1500 underlay: refused with the numbers, nothing made.
    let before = netns_list(&lab.name);
    let refused = on_host(&host_a.name, &["up", lab.path(), "--host", "a"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(
            "mtu 1500 plus 50 bytes of VXLAN encapsulation is 1550, more than the underlay u0's \
             mtu 1500: lower the link's mtu to 1450 or raise the underlay's"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(netns_list(&lab.name), before, "a refused up makes nothing");
    host_a.ip("link set dev u0 mtu 1600");
    host_b.ip("link set dev u0 mtu 1600");
    let (a_before, b_before) = (host_a.snapshot(), host_b.snapshot());
    // plan's hint is the command to type on this host, --host included.
    let plan = on_host(&host_a.name, &["plan", lab.path(), "--host", "a"]);
    let lines: Vec<&str> = plan.ok().stdout.lines().collect();
    assert_eq!(
        lines.last().copied().unwrap_or_default(),
        format!(
            "{} change(s) to make (patchwire up {} --host a)",
            lines.len() - 1,
            lab.path()
        )
    );
    on_host(&host_a.name, &["up", lab.path(), "--host", "a"]).ok();
    on_host(&host_b.name, &["up", lab.path(), "--host", "b"]).ok();
    let made = netns_list(&lab.name);
    assert!(made.contains(&format!("{}.panel.a", lab.name)), "{made:?}");
    assert!(made.contains(&format!("{}.panel.b", lab.name)), "{made:?}");
    let got = cross(
        &lab.ns("r1"),
        "eth1",
        &[(&lab.ns("r2"), "eth1")],
        &frames(4),
    );
    assert_eq!(
        got,
        vec![KINDS],
        "frames cross the VXLAN link byte for byte"
    );
    let got = cross(
        &lab.ns("r2"),
        "eth1",
        &[(&lab.ns("r1"), "eth1")],
        &frames(5),
    );
    assert_eq!(got, vec![KINDS], "and back");
    // A segment across the two hosts: a hub of r1, r3 and a tunnel on a; a wire on b.
    fans_out(&lab, ("r1", "eth2"), &[("r2", "eth2"), ("r3", "eth2")], 8);
    let got = cross(
        &lab.ns("r2"),
        "eth2",
        &[(&lab.ns("r1"), "eth2"), (&lab.ns("r3"), "eth2")],
        &frames(9),
    );
    assert_eq!(got, vec![KINDS, KINDS]);
    let plan = on_host(&host_a.name, &["-j", "plan", lab.path(), "--host", "a"]);
    assert_eq!(plan.json(), serde_json::json!([]));
    // down on each host: the hosts' own namespaces are exactly as before (the tunnels lived in
    // the panels), and nothing of the lab is left.
    on_host(&host_a.name, &["down", lab.path(), "--host", "a"]).ok();
    on_host(&host_b.name, &["down", lab.path(), "--host", "b"]).ok();
    assert_eq!(host_a.snapshot(), a_before);
    assert_eq!(host_b.snapshot(), b_before);
    assert_eq!(netns_list(&lab.name), Vec::<String>::new());
    let no_host = lab.pw(&["up"]);
    no_host.fails_with(&format!(
        "{}: the lab spans hosts (a, b): say which one this is with --host NAME",
        lab.path()
    ));
}

#[test]
fn bad_input_is_refused_and_the_kernel_left_as_it_was() {
    let lab = LabFile::new(
        "l",
        "\
name: LAB
topology:
  nodes:
    r1: {}
    sw: {netns: pwt-no-such-netns}
  links:
    - endpoints: [\"r1:eth1\", \"sw:e1\"]
",
    );
    let before = netns_list(&lab.name);
    let run = lab.pw(&["up"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("node sw: netns pwt-no-such-netns does not exist"),
        "{}",
        run.stderr
    );
    lab.write(
        "\
name: LAB
topology:
  nodes:
    r1: {}
  links:
    - endpoints: [\"r1:eth1\", \"r9:eth1\"]
",
    );
    let run = lab.pw(&["up"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "patchwire: {}:6:30: endpoint r9:eth1 names node r9, which is not defined (nodes: r1)",
            lab.path()
        )
    );
    lab.write(BASIC);
    let run = lab.pw(&["up", "--host", "x"]);
    run.fails_with(&format!(
        "--host x: {} defines no hosts (a lab over several hosts lists them under hosts:)",
        lab.path()
    ));
    assert_eq!(netns_list(&lab.name), before);
}

#[test]
fn an_existing_namespace_lends_its_tap_as_an_endpoint() {
    let sw = TestNs::new();
    sw.ip("tuntap add dev tap9 mode tap");
    sw.ip("link set dev tap9 up");
    let lab = LabFile::new(
        "l",
        &format!(
            "\
name: LAB
topology:
  nodes:
    r1: {{}}
    sw: {{netns: {}}}
  links:
    - endpoints: [\"r1:eth1\", \"sw:tap9\"]
",
            sw.name
        ),
    );
    // Compared without carrier: tap9's carrier is the kernel's view of who holds it (this test
    // attaches and detaches it), worded differently by 6.1 and later kernels; what patchwire
    // owns (admin state, MTU, master, qdiscs, filters) must come back exactly.
    let before = sw.snapshot_without_carrier();
    lab.pw(&["up"]).ok();
    // Frames written by "the VM" into tap9 reach r1's eth1.
    let tap = sw
        .netns()
        .run(|| patchwire::link::tap::TapHandle::attach("tap9", false))
        .unwrap()
        .unwrap();
    let receiver = {
        let index = ifindex_in(&lab.ns("r1"), "eth1");
        patchwire::netns::Netns::open(Some(&lab.ns("r1")))
            .unwrap()
            .run(move || patchwire::packet::PacketSocket::open(index))
            .unwrap()
            .unwrap()
    };
    receiver.drain();
    let sent = frames(6);
    for frame in &sent {
        tap.send(frame).unwrap();
    }
    let deadline = Instant::now() + patience(Duration::from_secs(2));
    let mut arrived = 0;
    while let Some(got) = receiver.recv_until(deadline).unwrap() {
        arrived += usize::from(sent.contains(&got));
    }
    assert_eq!(arrived, KINDS);
    drop(tap);
    // The link leaves the file: the stub goes and tap9 is given back as it was, in one up.
    lab.write(&format!(
        "\
name: LAB
topology:
  nodes:
    r1: {{}}
    sw: {{netns: {}}}
  links: []
",
        sw.name
    ));
    lab.pw(&["up"]).ok();
    assert_eq!(
        sw.snapshot_without_carrier(),
        before,
        "removing the link gives tap9 back"
    );
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    lab.pw(&["down"]).ok();
    assert_eq!(
        sw.snapshot_without_carrier(),
        before,
        "down gives the namespace back as it was"
    );
}

#[test]
fn up_killed_at_any_moment_converges_when_run_again() {
    use std::os::unix::process::ExitStatusExt;
    let lab = LabFile::new("l", BASIC);
    let before = netns_list(&lab.name);
    // Every stop point of apply: the testing hook kills the process there with SIGKILL.
    for point in [1u32, 10, 11, 2, 3, 4, 5, 6, 7] {
        let status = Command::new(common::bin())
            .args(["up", lab.path()])
            .env("PATCHWIRE_LAB_KILL_AT", point.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "killed at point {point}"
        );
        lab.pw(&["up"]).ok();
        assert_eq!(
            lab.pw(&["-j", "plan"]).json(),
            serde_json::json!([]),
            "converged after a kill at point {point}"
        );
        let got = cross(
            &lab.ns("r1"),
            "eth1",
            &[(&lab.ns("r2"), "eth1")],
            &frames(7),
        );
        assert_eq!(got, vec![KINDS], "after a kill at point {point}");
        lab.pw(&["down"]).ok();
        assert_eq!(
            netns_list(&lab.name),
            before,
            "nothing leaked after a kill at point {point}"
        );
    }
}

#[test]
fn a_vm_node_gets_taps_that_a_real_qemu_plugs_into() {
    use std::net::UdpSocket;
    const QEMU_PORT: u16 = 47_311;
    const TEST_PORT: u16 = 47_312;
    let lab = LabFile::new(
        "l",
        "\
name: LAB
topology:
  nodes:
    r1: {}
    vm1: {kind: vm}
  links:
    - endpoints: [\"r1:eth1\", \"vm1:tap1\"]
",
    );
    lab.pw(&["up"]).ok();
    let tap = ip_in(&lab.ns("vm1"), "-d link show dev tap1");
    assert!(
        tap.contains("tun type tap") && tap.contains("vnet_hdr on"),
        "{tap}"
    );

    // qemu in the node's namespace, its tap joined through a qemu hub to a UDP socket there:
    // what the "VM" sends is what the test writes to that socket, and back.
    let netdev_udp = format!(
        "dgram,id=u0,local.type=inet,local.host=127.0.0.1,local.port={QEMU_PORT},\
         remote.type=inet,remote.host=127.0.0.1,remote.port={TEST_PORT}"
    );
    let vm_ns = lab.ns("vm1");
    let udp = patchwire::netns::Netns::open(Some(&vm_ns))
        .unwrap()
        .run(|| UdpSocket::bind(("127.0.0.1", TEST_PORT)))
        .unwrap()
        .unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut qemu = common::ovs::Guarded::spawn(
        "qemu",
        &[
            "ip",
            "netns",
            "exec",
            &vm_ns,
            "qemu-system-x86_64",
            "-M",
            "none",
            "-nodefaults",
            "-nographic",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-netdev",
            "tap,id=t0,ifname=tap1,script=no,downscript=no",
            "-netdev",
            "hubport,id=p0,hubid=0,netdev=t0",
            "-netdev",
            &netdev_udp,
            "-netdev",
            "hubport,id=p1,hubid=0,netdev=u0",
        ],
        std::process::Stdio::null(),
        &[],
        Duration::from_secs(60),
    )
    .unwrap();
    // Attached: the tap gets its carrier; the lab's show says the link is ok.
    let deadline = Instant::now() + patience(Duration::from_secs(10));
    while !ip_in(&vm_ns, "-o link show dev tap1").contains("LOWER_UP") {
        assert!(qemu.exited().is_none(), "qemu exited");
        assert!(Instant::now() < deadline, "qemu never attached to tap1");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let show = lab.pw(&["-j", "show", "--lab"]).json();
    assert_eq!(show[0]["health"], "ok", "{show}");

    // From the VM to r1, byte for byte.
    let sent = frames(10);
    let receiver = {
        let index = ifindex_in(&lab.ns("r1"), "eth1");
        patchwire::netns::Netns::open(Some(&lab.ns("r1")))
            .unwrap()
            .run(move || patchwire::packet::PacketSocket::open(index))
            .unwrap()
            .unwrap()
    };
    receiver.drain();
    for frame in &sent {
        udp.send_to(frame, ("127.0.0.1", QEMU_PORT)).unwrap();
    }
    let deadline = Instant::now() + patience(Duration::from_secs(2));
    let mut arrived = 0;
    while let Some(got) = receiver.recv_until(deadline).unwrap() {
        arrived += usize::from(sent.contains(&got));
    }
    assert_eq!(arrived, KINDS, "VM -> r1");

    // From r1 to the VM.
    let back = frames(11);
    let index = ifindex_in(&lab.ns("r1"), "eth1");
    let frames_back = back.clone();
    patchwire::netns::Netns::open(Some(&lab.ns("r1")))
        .unwrap()
        .run(move || {
            let socket = patchwire::packet::PacketSocket::open(index).unwrap();
            for frame in &frames_back {
                socket.send(frame).unwrap();
            }
        })
        .unwrap();
    let mut buffer = [0u8; 2048];
    let mut got = 0;
    let deadline = Instant::now() + patience(Duration::from_secs(2));
    while got < KINDS && Instant::now() < deadline {
        if let Ok(n) = udp.recv(&mut buffer) {
            got += usize::from(back.iter().any(|f| f[..] == buffer[..n]));
        }
    }
    assert_eq!(got, KINDS, "r1 -> VM");
    qemu.stop();
}

#[test]
fn bad_files_are_refused_with_file_line_and_column_and_nothing_is_made() {
    let lab = LabFile::new("l", BASIC);
    let cases: [(&str, &str); 5] = [
        (
            "name: LAB\ntopology:\n  nodes: {r1: {}, r2: {}}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n      mut: 9000\n",
            "6:7: unknown key `mut` in a link (did you mean `mtu`?)",
        ),
        (
            "name: LAB\ntopology:\n  nodes: {r1: {}, r2: {}}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"\n",
            "6:1: did not find expected ',' or ']'",
        ),
        (
            "name: LAB\ntopology:\n  nodes: {r1: {}, r2: {}}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n    - endpoints: [\"r1:eth1\", \"r2:eth2\"]\n",
            "6:19: endpoint r1:eth1 is in two links (lines 5 and 6)",
        ),
        (
            "name: LAB\ntopology:\n  nodes: {r1: {}}\n  links:\n    - endpoints: [\"r1:eth1\"]\n",
            "a link needs at least two endpoints; this one has 1",
        ),
        (
            "name: LAB\ntopology:\n  nodes: {r1: {}, r2: {}}\n  links:\n    - endpoints: [\"r1:a234567890123456\", \"r2:eth1\"]\n",
            "interface name \"a234567890123456\" is 16 bytes long; Linux allows at most 15",
        ),
    ];
    for (body, says) in cases {
        lab.write(body);
        let run = lab.pw(&["up"]);
        assert_eq!(run.code, 1, "{body}");
        assert!(
            run.stderr
                .starts_with(&format!("patchwire: {}:", lab.path()))
                && run.stderr.contains(says),
            "{body}\n{}",
            run.stderr
        );
        assert_eq!(
            netns_list(&lab.name),
            Vec::<String>::new(),
            "nothing made for {body}"
        );
    }
}

#[test]
fn a_mirror_in_the_file_copies_a_link_to_an_analyzer_node() {
    let body = "\
name: LAB
topology:
  nodes:
    r1: {}
    r2: {}
    mon: {}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\"]
  mirrors:
    - name: tap1
      from: [\"r1:eth1\"]
      to: \"mon:eth1\"
      direction: DIRECTION
";
    let lab = LabFile::new("l", &body.replace("DIRECTION", "both"));
    lab.pw(&["up"]).ok();
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    // What r1 sends and what it receives both reach the analyzer, once each.
    let got = cross(
        &lab.ns("r1"),
        "eth1",
        &[(&lab.ns("r2"), "eth1"), (&lab.ns("mon"), "eth1")],
        &frames(12),
    );
    assert_eq!(got, vec![KINDS, KINDS]);
    let got = cross(
        &lab.ns("r2"),
        "eth1",
        &[(&lab.ns("r1"), "eth1"), (&lab.ns("mon"), "eth1")],
        &frames(13),
    );
    assert_eq!(got, vec![KINDS, KINDS]);
    // Only what r1 sends: the mirror is made again, the wire untouched.
    lab.write(&body.replace("DIRECTION", "tx"));
    let plan = lab.pw(&["-j", "plan"]).json();
    let kinds: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unmirror", "mirror"], "{plan}");
    lab.pw(&["up"]).ok();
    let got = cross(
        &lab.ns("r2"),
        "eth1",
        &[(&lab.ns("r1"), "eth1"), (&lab.ns("mon"), "eth1")],
        &frames(14),
    );
    assert_eq!(got, vec![KINDS, 0], "rx is no longer copied");
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
}

// Issue 18: a mirror of two ends of a wire (`both`) copies each frame once, where it enters;
// re-pointed wires (the file's links changed, `patchwire link` on panel ports, an `out` copy
// lost) must neither lose nor double copies, and `plan` must see when they would.
#[test]
fn a_mirror_keeps_its_coverage_when_its_wires_move() {
    let body = "\
name: LAB
topology:
  nodes:
    a: {}
    b: {}
    c: {}
    d: {}
    mon: {}
  links:
    - endpoints: [\"a:e1\", \"X:e1\"]
    - endpoints: [\"b:e1\", \"Y:e1\"]
  mirrors:
    - name: m
      from: [\"a:e1\", \"b:e1\"]
      to: \"mon:e1\"
";
    // a-b and c-d, or a-c and b-d.
    let together = body.replace("X:e1", "b:e1").replace(
        "    - endpoints: [\"b:e1\", \"Y:e1\"]\n",
        "    - endpoints: [\"c:e1\", \"d:e1\"]\n",
    );
    let apart = body.replace("X", "c").replace("Y", "d");
    let lab = LabFile::new("l", &together);
    lab.pw(&["up"]).ok();
    let (ns, mon) = (|n: &str| lab.ns(n), lab.ns("mon"));
    let each_way_once = |x: &str, y: &str, tag: u8| {
        let (x_ns, y_ns) = (ns(x), ns(y));
        let there = copies((&x_ns, "e1"), (&y_ns, "e1"), (&mon, "e1"), tag);
        let back = copies((&y_ns, "e1"), (&x_ns, "e1"), (&mon, "e1"), tag + 1);
        assert_eq!(
            (there, back),
            ((KINDS, KINDS), (KINDS, KINDS)),
            "{x} -> {y} and back: (delivered, copies at the analyzer)"
        );
    };
    each_way_once("a", "b", 0x40);

    // The file moves both cables: a:e1 and b:e1 lose their partner source, so the frames
    // leaving them (from c and d) need an `out` copy each: plan says the mirror is made again.
    lab.write(&apart);
    let plan = lab.pw(&["plan"]).ok().stdout.clone();
    assert!(
        plan.ends_with(&format!(
            "+ wire a:e1 <-> c:e1 (tc)\n\
             + wire b:e1 <-> d:e1 (tc)\n\
             - mirror m\n\
             + mirror m: a:e1, b:e1 -> mon:e1\n\
             10 change(s) to make (patchwire up {})\n",
            lab.path()
        )),
        "{plan}"
    );
    lab.pw(&["up"]).ok();
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    each_way_once("a", "c", 0x42);
    each_way_once("b", "d", 0x44);

    // An `out` copy lost (deleted behind patchwire's back): plan sees the missing coverage.
    let panel = lab.panel();
    let egress = run(
        "tc",
        &["-n", &panel, "filter", "show", "dev", "a.e1", "egress"],
    );
    let pref = egress
        .split_whitespace()
        .skip_while(|w| *w != "pref")
        .nth(1)
        .unwrap_or_else(|| panic!("no egress filter on a.e1: {egress}"))
        .to_string();
    run(
        "tc",
        &[
            "-n", &panel, "filter", "del", "dev", "a.e1", "egress", "pref", &pref,
        ],
    );
    let plan = lab.pw(&["plan"]).ok().stdout.clone();
    assert!(
        plan == format!(
            "- mirror m\n+ mirror m: a:e1, b:e1 -> mon:e1\n2 change(s) to make (patchwire up {})\n",
            lab.path()
        ),
        "{plan}"
    );
    lab.pw(&["up"]).ok();
    each_way_once("a", "c", 0x46);

    // Back together: the `out` copies are redundant again (a frame from a would be copied
    // entering a.e1 and leaving b.e1).
    lab.write(&together);
    lab.pw(&["up"]).ok();
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    each_way_once("a", "b", 0x48);

    // By hand on the panel: unlink, then link the same ports again.
    let pw = |args: &[&str]| {
        let mut all = vec!["-n", panel.as_str()];
        all.extend_from_slice(args);
        patchwire(&all).ok().stdout.clone()
    };
    pw(&["unlink", "a.e1"]);
    assert_eq!(
        pw(&["link", "a.e1", "b.e1"]),
        "wired: a.e1 <-> b.e1\n\
         mirror m: a.e1 out is no longer copied: every frame leaving it entered b.e1 first (wire \
         b.e1 -> a.e1), copied there already\n\
         mirror m: b.e1 out is no longer copied: every frame leaving it entered a.e1 first (wire \
         a.e1 -> b.e1), copied there already\n"
    );
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    each_way_once("a", "b", 0x4a);
}

#[test]
fn a_segment_over_three_hosts_reaches_every_member_once() {
    // Three "hosts" on one underlay: a bridge in a namespace of its own.
    let underlay = TestNs::new();
    underlay.ip("link add br0 type bridge");
    underlay.ip("link set dev br0 up");
    let hosts: Vec<TestNs> = (0..3).map(|_| TestNs::new()).collect();
    for (i, host) in hosts.iter().enumerate() {
        veth(host, "u0", &underlay, &format!("h{i}"));
        underlay.ip(&format!("link set dev h{i} master br0"));
        underlay.ip(&format!("link set dev h{i} mtu 1600"));
        host.ip("link set dev u0 mtu 1600");
        host.ip(&format!("addr add 198.18.2.{}/24 dev u0", i + 1));
    }
    let mut lab = LabFile::new(
        "l",
        "\
name: LAB
hosts:
  a: {address: 198.18.2.1}
  b: {address: 198.18.2.2}
  c: {address: 198.18.2.3}
topology:
  nodes:
    r1: {}
    r2: {host: b}
    r3: {host: c}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\", \"r3:eth1\"]
",
    );
    lab.hosts = ["a", "b", "c"]
        .iter()
        .zip(&hosts)
        .map(|(h, ns)| (h.to_string(), ns.name.clone()))
        .collect();
    for (host, ns) in lab.hosts.clone() {
        on_host(&ns, &["up", lab.path(), "--host", &host]).ok();
        let plan = on_host(&ns, &["-j", "plan", lab.path(), "--host", &host]);
        assert_eq!(plan.json(), serde_json::json!([]), "host {host}");
    }
    for (from, to) in [
        ("r1", ["r2", "r3"]),
        ("r2", ["r1", "r3"]),
        ("r3", ["r1", "r2"]),
    ] {
        let got = cross(
            &lab.ns(from),
            "eth1",
            &[
                (&lab.ns(to[0]), "eth1"),
                (&lab.ns(to[1]), "eth1"),
                (&lab.ns(from), "eth1"),
            ],
            &frames(20),
        );
        assert_eq!(
            got,
            vec![KINDS, KINDS, 0],
            "from {from}: each other host once, none back"
        );
    }
}

#[test]
fn a_link_chooses_its_datapath_and_an_edit_converts_it_in_place() {
    let body = "\
name: LAB
defaults: {datapath: ebpf}
topology:
  nodes:
    r1: {}
    r2: {}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\"]
      DATAPATH
";
    let lab = LabFile::new("l", &body.replace("DATAPATH", ""));
    lab.pw(&["up"]).ok();
    let panel = patchwire(&["-n", &lab.panel(), "-j", "show"]).json();
    assert_eq!(panel[0]["datapath"], "ebpf", "the file's default");
    let got = cross(
        &lab.ns("r1"),
        "eth1",
        &[(&lab.ns("r2"), "eth1")],
        &frames(21),
    );
    assert_eq!(got, vec![KINDS]);
    lab.write(&body.replace("DATAPATH", "datapath: tc"));
    let plan = lab.pw(&["-j", "plan"]).json();
    assert_eq!(plan.as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(plan[0]["change"], "wire");
    assert_eq!(plan[0]["datapath"], "tc");
    lab.pw(&["up"]).ok();
    let panel = patchwire(&["-n", &lab.panel(), "-j", "show"]).json();
    assert_eq!(panel[0]["datapath"], "tc", "converted in place");
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    let got = cross(
        &lab.ns("r2"),
        "eth1",
        &[(&lab.ns("r1"), "eth1")],
        &frames(22),
    );
    assert_eq!(got, vec![KINDS]);
}
