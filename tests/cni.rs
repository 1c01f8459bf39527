//! `patchwire-cni` against the real kernel, chained after Debian's reference CNI plugins
//! (containernetworking-plugins: ptp, bridge, host-local), invoked exactly as a runtime does:
//! the CNI_* environment, the configuration on stdin, prevResult passed down the chain, DEL in
//! reverse order with the final result. The runtime's own namespace ("host") and the
//! container's are namespaces the test creates, so the bridge, ip_forward and the host-side
//! veths never touch this machine. A real qemu opens the CNI-made tap.

mod common;
use common::cni::*;
use common::qemu::*;
use common::*;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use patchwire::probe::{self, Port};

// ---------------------------------------------------------------------------------------------
// Tap mode
// ---------------------------------------------------------------------------------------------

/// ptp -> patchwire-cni: the tap is made in the container's namespace and wired to eth0; the
/// whole probe catalogue (LACP, STP, LLDP, PAUSE, 802.1X, VLAN, jumbo…) crosses between the
/// host side of ptp's veth and a real qemu on the tap, both ways; CHECK passes until half the
/// wire is removed, then names it; DEL leaves the container's namespace exactly as ptp left it,
/// twice.
#[test]
fn ptp_then_patchwire_cni_gives_a_vm_a_transparent_tap() {
    let (host, pod) = (TestNs::new(), TestNs::with_ipv6());
    pod.ip("link set lo up");
    let plugins = Plugins::new(&host);
    let net = Network {
        plugins: &plugins,
        host: &host,
        name: format!("{}-ptp", host.name),
        version: "1.0.0",
        list: vec![
            json!({"type": "ptp", "ipam": plugins.ipam("198.18.40.0/24")}),
            json!({"type": "patchwire-cni"}),
        ],
    };
    let a = Attachment::new("c1", &pod, "eth0");
    let ptp_result = net.add_step(0, &a, None);
    settle(&pod, "eth0");
    let before = state(&pod);
    assert!(before.contains("disable_ipv6=0"), "{before}");

    let result = net.add_step(1, &a, Some(&ptp_result));
    // prevResult passes through, plus the tap in the container's sandbox.
    assert_eq!(result["ips"], ptp_result["ips"], "{result}");
    assert_eq!(result["cniVersion"], "1.0.0");
    let tap = interface(&result, "tapeth0", &a.netns);
    assert_eq!(tap["mac"].as_str().unwrap().len(), 17, "{result}");
    assert!(tap.get("mtu").is_none(), "mtu is a 1.1.0 field: {result}");
    let wires = pod.patchwire(&["-j", "show"]).json();
    assert!(is_wire(&wires[0], "tapeth0", "eth0"), "{wires}");
    assert_eq!(wires[0]["health"], "degraded", "no VM yet: {wires}");
    // IPv6 off on eth0 (ptp gave it no IPv6 address): the namespace sends nothing into the wire.
    assert_eq!(
        pod.exec(&["sysctl", "-n", "net.ipv6.conf.eth0.disable_ipv6"])
            .trim(),
        "1"
    );
    // CHECK right after ADD, before any VM opened the tap: the normal state, not a failure.
    net.check(&a, &result).expect("CHECK before the VM starts");

    let (qemu, udp) = qemu_on(&pod, "tapeth0");
    let host_side = result["interfaces"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let veth = probe::packet_port(&host.netns(), ifindex(&host, &host_side), &host_side).unwrap();
    let into_vm = probe::run_direction(&veth, &udp, 1500, &host_side, "qemu").unwrap();
    let from_vm = probe::run_direction(&udp, &veth, 1500, "qemu", &host_side).unwrap();
    assert!(into_vm.passed(), "{into_vm:#?}");
    assert!(from_vm.passed(), "{from_vm:#?}");
    let wires = pod.patchwire(&["-j", "show"]).json();
    assert_eq!(
        wires[0]["health"], "ok",
        "eth0's IPv4 address is the VM's: {wires}"
    );
    net.check(&a, &result).expect("CHECK with the VM running");

    // Half a wire: CHECK fails naming it (ptp's own CHECK still passes).
    pod.tc("filter del dev eth0 ingress");
    let (plugin, out) = net.check(&a, &result).expect_err("CHECK must fail");
    assert_eq!(plugin, "patchwire-cni");
    let error = out.error();
    assert_eq!(error["code"], 100, "{error}");
    assert_eq!(
        error["details"],
        "half a wire: only one direction between tapeth0 and eth0 is installed (repair: DEL and ADD again)"
    );
    drop(qemu);
    udp.drain();

    // DEL: back to what ptp made, exactly; and again.
    net.del_step(1, &a, Some(&result));
    assert_eq!(state(&pod), before);
    net.del_step(1, &a, Some(&result));
    assert_eq!(state(&pod), before);

    // The tap deleted behind the plugin's back: DEL still removes eth0's half of the wire.
    let result = net.add_step(1, &a, Some(&ptp_result));
    pod.ip("link del dev tapeth0");
    net.del_step(1, &a, Some(&result));
    assert_eq!(state(&pod), before);
    net.del_step(0, &a, Some(&result));
    assert_eq!(pod.devices(), ["lo"]);
}

/// bridge + host-local -> patchwire-cni the way Firecracker's Go SDK uses tc-redirect-tap:
/// the tap's name and owner from CNI_ARGS, and the VM's own interface in the result (named like
/// the tap, sandbox = container ID, eth0's MAC, eth0's addresses). A frame crosses each way
/// between the bridge's side and a qemu on the tap. Spec 1.1.0 results carry the tap's MTU.
#[test]
fn bridge_chain_reports_the_vm_interface_like_tc_redirect_tap() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    let net = Network {
        plugins: &plugins,
        host: &host,
        name: format!("{}-br", host.name),
        version: "1.0.0",
        list: vec![
            json!({"type": "bridge", "bridge": "pwcni0", "isGateway": true, "ipMasq": false,
                   "ipam": plugins.ipam("198.18.41.0/24")}),
            json!({"type": "patchwire-cni", "vmInterface": true}),
        ],
    };
    let mut a = Attachment::new("vm-7", &pod, "eth0");
    a.args =
        Some("IgnoreUnknown=1;K8S_POD_NAME=x;TC_REDIRECT_TAP_NAME=vm7tap;TC_REDIRECT_TAP_UID=4242");
    let result = net.add(&a);
    let eth0 = interface(&result, "eth0", &a.netns).clone();
    interface(&result, "vm7tap", &a.netns);
    let vm = interface(&result, "vm7tap", "vm-7");
    assert_eq!(vm["mac"], eth0["mac"], "{result}");
    let ips = result["ips"].as_array().unwrap();
    let vm_index = result["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .position(|i| i["sandbox"] == "vm-7")
        .unwrap();
    let vm_ip = ips
        .iter()
        .find(|ip| ip["interface"] == vm_index)
        .expect("VM's IP");
    assert_eq!(vm_ip["address"], ips[0]["address"], "{result}");
    assert!(pod.ip("-d link show dev vm7tap").contains("user 4242"));
    net.check(&a, &result)
        .expect("bridge and patchwire-cni CHECK");

    // One frame each way between the bridge port (the veth's host side) and the VM.
    let (qemu, udp) = qemu_on(&pod, "vm7tap");
    let port = result["interfaces"][1]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let veth = probe::packet_port(&host.netns(), ifindex(&host, &port), &port).unwrap();
    let lacp = patchwire::probe::catalogue::catalogue([2, 0, 0x5e, 0, 0, 7], *b"cnitest1", 1500)
        .into_iter()
        .find(|f| f.kind == patchwire::probe::catalogue::FrameKind::Lacp)
        .expect("LACP in the catalogue");
    for (from, to) in [(&veth as &dyn Port, &udp as &dyn Port), (&udp, &veth)] {
        to.drain();
        from.send(&lacp.bytes).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut got = false;
        while let Some(frame) = to.recv_until(deadline).unwrap() {
            if frame == lacp.bytes {
                got = true;
                break;
            }
        }
        assert!(
            got,
            "an LACP frame did not cross the bridge port <-> VM path"
        );
    }
    drop(qemu);

    // The same attachment made again with spec 1.1.0 reports the tap's MTU. (Debian's
    // reference plugins speak up to 1.0.0; 1.0 and 1.1 results have the same form.)
    net.del(&a, Some(&result));
    let prev = net.add_step(0, &a, None);
    let mut config = net.request(1, Some(&prev));
    config["cniVersion"] = json!("1.1.0");
    let out = invoke(&plugins, &host, "patchwire-cni", "ADD", Some(&a), &config);
    assert_eq!(out.exit, 0, "{out:?}");
    assert_eq!(interface(&out.json(), "vm7tap", &a.netns)["mtu"], 1500);
    let out = invoke(&plugins, &host, "patchwire-cni", "DEL", Some(&a), &config);
    assert_eq!(out.exit, 0, "{out:?}");
    net.del_step(0, &a, Some(&prev));
    assert_eq!(pod.devices(), ["lo"]);
}

// ---------------------------------------------------------------------------------------------
// Wire mode
// ---------------------------------------------------------------------------------------------

/// A pod with two NICs that must behave as one cable: ptp's eth0 and net1 (a veth whose far
/// side is in another namespace) wired together; the catalogue crosses; DEL gives both back.
#[test]
fn wire_mode_joins_two_interfaces_of_the_pod() {
    let (host, pod, far) = (TestNs::new(), TestNs::with_ipv6(), TestNs::new());
    pod.ip("link set lo up");
    let plugins = Plugins::new(&host);
    let net = Network {
        plugins: &plugins,
        host: &host,
        name: format!("{}-wire", host.name),
        version: "1.0.0",
        list: vec![
            json!({"type": "ptp", "ipam": plugins.ipam("198.18.42.0/24")}),
            json!({"type": "patchwire-cni", "mode": "wire", "peer": "net1"}),
        ],
    };
    veth(&pod, "net1", &far, "x1");
    let a = Attachment::new("c2", &pod, "eth0");
    let ptp_result = net.add_step(0, &a, None);
    settle(&pod, "eth0");
    let before = state(&pod);
    let result = net.add_step(1, &a, Some(&ptp_result));
    assert_eq!(result, ptp_result, "wire mode adds no interface");
    let wires = pod.patchwire(&["-j", "show"]).json();
    assert!(is_wire(&wires[0], "eth0", "net1"), "{wires}");
    net.check(&a, &result).expect("CHECK");

    let host_side = result["interfaces"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let veth = probe::packet_port(&host.netns(), ifindex(&host, &host_side), &host_side).unwrap();
    let x1 = probe::packet_port(&far.netns(), ifindex(&far, "x1"), "x1").unwrap();
    let there = probe::run_direction(&veth, &x1, 1500, &host_side, "x1").unwrap();
    let back = probe::run_direction(&x1, &veth, 1500, "x1", &host_side).unwrap();
    assert!(there.passed(), "{there:#?}");
    assert!(back.passed(), "{back:#?}");

    // CHECK names a wire that goes somewhere else.
    pod.patchwire(&["unlink", "eth0"]).ok();
    pod.ip("link add name net2 type veth peer name net2p");
    pod.patchwire(&["link", "eth0", "net2"]).ok();
    let (_, out) = net.check(&a, &result).expect_err("rewired");
    assert_eq!(out.error()["details"], "eth0 is wired to net2, not to net1");
    pod.patchwire(&["unlink", "eth0"]).ok();
    pod.ip("link del dev net2");
    settle(&pod, "eth0");
    net.del_step(1, &a, Some(&result));
    net.del_step(1, &a, Some(&result));
    assert_eq!(state(&pod), before);
    net.del_step(0, &a, Some(&result));
}

/// Wire mode where the main plugin's CNI_IFNAME is itself a tap (the reference tap plugin makes
/// those): DEL removes the wire and its record, never the interface, which is not patchwire's.
#[test]
fn wire_mode_never_deletes_the_main_plugins_tap() {
    let (host, pod, far) = (TestNs::new(), TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    pod.ip("tuntap add dev eth0 mode tap");
    pod.ip("link set dev eth0 up");
    veth(&pod, "net1", &far, "x1");
    let before = state(&pod);
    let a = Attachment::new("c7", &pod, "eth0");
    let config = json!({"cniVersion": "1.0.0", "name": format!("{}-tapwire", host.name),
        "type": "patchwire-cni", "mode": "wire", "peer": "net1",
        "prevResult": {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": a.netns}], "ips": []}});
    let out = invoke(&plugins, &host, "patchwire-cni", "ADD", Some(&a), &config);
    assert_eq!(out.exit, 0, "{out:?}");
    assert!(is_wire(
        &pod.patchwire(&["-j", "show"]).json()[0],
        "eth0",
        "net1"
    ));
    let out = invoke(&plugins, &host, "patchwire-cni", "DEL", Some(&a), &config);
    assert_eq!(out.exit, 0, "{out:?}");
    assert_eq!(
        state(&pod),
        before,
        "eth0 (a tap the test made) is still there, as it was"
    );
}

// ---------------------------------------------------------------------------------------------
// STATUS, VERSION, GC (spec 1.1)
// ---------------------------------------------------------------------------------------------

/// GC removes the attachments the runtime no longer lists — and only those, only of its own
/// network; STATUS says the plugin is ready; VERSION lists the versions.
#[test]
fn gc_removes_only_attachments_that_are_no_longer_valid() {
    let host = TestNs::new();
    let (pod1, pod2, pod3) = (TestNs::new(), TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    let name = format!("{}-gc", host.name);
    let make = |pod: &TestNs, container: &str, network: &str| {
        pod.ip("link add name eth0 type veth peer name x0");
        pod.ip("link set dev eth0 up");
        pod.ip("link set dev x0 up");
        let a = Attachment::new(container, pod, "eth0");
        let config = json!({"cniVersion": "1.1.0", "name": network, "type": "patchwire-cni",
                            "prevResult": {"cniVersion": "1.1.0", "interfaces": [], "ips": []}});
        let leaked = Attachment {
            container: "leak",
            ..Attachment::new(container, pod, "eth0")
        };
        let _ = leaked;
        let out = invoke(&plugins, &host, "patchwire-cni", "ADD", Some(&a), &config);
        assert_eq!(out.exit, 0, "{out:?}");
    };
    make(&pod1, "keep", &name);
    make(&pod2, "gone", &name);
    make(&pod3, "gone", &format!("{name}-other"));
    let gc = json!({"cniVersion": "1.1.0", "name": name, "type": "patchwire-cni",
                    "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]});
    let out = invoke(&plugins, &host, "patchwire-cni", "GC", None, &gc);
    assert_eq!((out.exit, out.stdout.as_str()), (0, ""), "{out:?}");
    assert!(pod1.devices().contains(&"tapeth0".to_string()));
    let mut left = pod2.devices();
    left.sort();
    assert_eq!(left, ["eth0", "lo", "x0"], "GC removed tap and wire");
    assert_eq!(pod2.patchwire(&["-j", "show"]).json(), json!([]));
    assert!(
        pod3.devices().contains(&"tapeth0".to_string()),
        "another network's attachment stays"
    );

    let status = json!({"cniVersion": "1.1.0", "name": name, "type": "patchwire-cni"});
    let out = invoke(&plugins, &host, "patchwire-cni", "STATUS", None, &status);
    assert_eq!((out.exit, out.stdout.as_str()), (0, ""), "{out:?}");
    let out = invoke(&plugins, &host, "patchwire-cni", "VERSION", None, &status);
    assert_eq!(
        out.json(),
        json!({"cniVersion": "1.1.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

/// Each mistake is a spec error (code, msg, details naming the thing) on stdout, exit 1, and
/// the container's namespace exactly as it was.
#[test]
fn bad_input_is_a_spec_error_and_leaves_nothing_behind() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    pod.ip("link add name eth0 type veth peer name x0");
    pod.ip("link set dev eth0 up");
    pod.ip("link set dev x0 up");
    pod.ip("link add name tap0 type veth peer name tap0p");
    let before = state(&pod);
    let a = Attachment::new("c1", &pod, "eth0");
    let prev = json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": a.netns}], "ips": []});
    let base =
        json!({"cniVersion": "1.0.0", "name": "bad", "type": "patchwire-cni", "prevResult": prev});
    let with = |key: &str, value: Value| {
        let mut config = base.clone();
        config[key] = value;
        config
    };
    let cases: Vec<(&str, Vec<u8>, &Attachment, u64, &str)> = vec![
        (
            "malformed JSON",
            b"{\"cniVersion\": ".to_vec(),
            &a,
            6,
            "stdin is not valid JSON",
        ),
        (
            "unknown key",
            with("tapname", json!("t0")).to_string().into_bytes(),
            &a,
            2,
            "unsupported field \"tapname\": \"t0\" (did you mean \"tapName\"?)",
        ),
        (
            "no prevResult",
            {
                let mut c = base.clone();
                c.as_object_mut().unwrap().remove("prevResult");
                c.to_string().into_bytes()
            },
            &a,
            7,
            "no prevResult: patchwire-cni is a chained plugin",
        ),
        (
            "old version",
            with("cniVersion", json!("0.2.0")).to_string().into_bytes(),
            &a,
            1,
            "the configuration's cniVersion is \"0.2.0\"; patchwire-cni supports",
        ),
        (
            "taken tap name",
            with("tapName", json!("tap0")).to_string().into_bytes(),
            &a,
            7,
            "tap0 already exists in",
        ),
    ];
    for (what, stdin, attachment, code, details) in &cases {
        let out = invoke_raw(
            &plugins,
            &host,
            "patchwire-cni",
            "ADD",
            Some(attachment),
            stdin,
        );
        let error = out.error();
        assert_eq!(error["code"], *code, "{what}: {error}");
        assert!(
            error["details"].as_str().unwrap().contains(details),
            "{what}: {error}"
        );
        assert_eq!(state(&pod), before, "{what} left something behind");
    }
    let missing = Attachment::new("c1", &pod, "eth9");
    let error = invoke(
        &plugins,
        &host,
        "patchwire-cni",
        "ADD",
        Some(&missing),
        &base,
    )
    .error();
    assert_eq!(error["code"], 7);
    assert!(
        error["details"]
            .as_str()
            .unwrap()
            .starts_with("eth9 (CNI_IFNAME) does not exist in /run/netns/"),
        "{error}"
    );
    let nowhere = Attachment {
        netns: "/run/netns/pw-no-such-ns".into(),
        ..Attachment::new("c1", &pod, "eth0")
    };
    let error = invoke(
        &plugins,
        &host,
        "patchwire-cni",
        "ADD",
        Some(&nowhere),
        &base,
    )
    .error();
    assert_eq!(error["code"], 3, "{error}");

    // The wire fails after the tap was made: the tap is removed again.
    pod.patchwire(&["link", "eth0", "tap0"]).ok();
    let wired = state(&pod);
    let error = invoke(&plugins, &host, "patchwire-cni", "ADD", Some(&a), &base).error();
    assert_eq!(error["code"], 999, "{error}");
    assert!(
        error["details"].as_str().unwrap().contains("eth0"),
        "{error}"
    );
    assert_eq!(
        state(&pod),
        wired,
        "the tap made before the failure is gone"
    );
    pod.patchwire(&["unlink", "eth0"]).ok();

    // DEL of something never added, and DEL after the namespace is gone: success, no output.
    let out = invoke(&plugins, &host, "patchwire-cni", "DEL", Some(&a), &base);
    assert_eq!((out.exit, out.stdout.as_str()), (0, ""), "{out:?}");
    let out = invoke(
        &plugins,
        &host,
        "patchwire-cni",
        "DEL",
        Some(&nowhere),
        &base,
    );
    assert_eq!((out.exit, out.stdout.as_str()), (0, ""), "{out:?}");
    assert_eq!(state(&pod), before);
}

/// Older configurations: a 0.4.0 chain (ips carry "version") passes through unchanged with the
/// tap added, and CHECK works; a 0.3.1 one has no CHECK (the spec added it in 0.4.0).
#[test]
fn spec_0_4_0_results_pass_through_and_0_3_1_has_no_check() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    let net = Network {
        plugins: &plugins,
        host: &host,
        name: format!("{}-old", host.name),
        version: "0.4.0",
        list: vec![
            json!({"type": "ptp", "ipam": plugins.ipam("198.18.43.0/24")}),
            json!({"type": "patchwire-cni"}),
        ],
    };
    let a = Attachment::new("c4", &pod, "eth0");
    let prev = net.add_step(0, &a, None);
    assert_eq!(prev["ips"][0]["version"], "4", "a 0.4.0 result: {prev}");
    let result = net.add_step(1, &a, Some(&prev));
    assert_eq!(result["ips"], prev["ips"]);
    assert_eq!(result["cniVersion"], "0.4.0");
    interface(&result, "tapeth0", &a.netns);
    net.check(&a, &result).expect("0.4.0 CHECK");

    let mut old = net.request(1, Some(&result));
    old["cniVersion"] = json!("0.3.1");
    let error = invoke(&plugins, &host, "patchwire-cni", "CHECK", Some(&a), &old).error();
    assert_eq!(error["code"], 1, "{error}");
    assert_eq!(
        error["details"],
        "CHECK came with cniVersion 0.3.1; the spec has it from 0.4.0 on"
    );
    net.del(&a, Some(&result));
    assert_eq!(pod.devices(), ["lo"]);
}

/// libcni itself as the runtime: its reference client cnitool (built from Debian's sources by
/// scripts/cnitool) runs a conflist ptp -> patchwire-cni. ADD; CHECK, where libcni hands every
/// plugin the cached result (podman 4.3 never calls CHECK); a CHECK that fails once the tap is
/// deleted, naming it; DEL.
#[test]
fn libcni_cnitool_adds_checks_and_deletes() {
    let cnitool = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/cnitool/cnitool");
    assert!(
        cnitool.exists(),
        "{} missing: scripts/test builds it with scripts/cnitool",
        cnitool.display()
    );
    let (host, pod) = (TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    let (conf_dir, var_lib) = (plugins.dir.join("net.d"), plugins.dir.join("var-lib"));
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::create_dir_all(&var_lib).unwrap();
    let name = format!("{}-libcni", host.name);
    let conflist = json!({"cniVersion": "1.0.0", "name": name, "plugins": [
        {"type": "ptp", "ipam": plugins.ipam("198.18.45.0/24")},
        {"type": "patchwire-cni"}]});
    std::fs::write(conf_dir.join("10-pw.conflist"), conflist.to_string()).unwrap();
    // libcni keeps its result cache in /var/lib/cni, not configurable in cnitool: each call
    // sees the test's own directory there (ip netns exec gives it a private mount namespace).
    let cnitool_run = |command: &str| {
        let script = format!(
            "mount --bind {} /var/lib && exec {} {command} {name} /run/netns/{}",
            var_lib.display(),
            cnitool.display(),
            pod.name
        );
        let output = Command::new("ip")
            .args(["netns", "exec", &host.name, "sh", "-c", &script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("NETCONFPATH", &conf_dir)
            .env("CNI_PATH", &plugins.dir)
            .output()
            .unwrap();
        Outcome {
            exit: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    };
    let add = cnitool_run("add");
    assert_eq!(add.exit, 0, "{add:?}");
    interface(&add.json(), "tapeth0", &format!("/run/netns/{}", pod.name));
    let wires = pod.patchwire(&["-j", "show"]).json();
    assert!(is_wire(&wires[0], "tapeth0", "eth0"), "{wires}");
    let check = cnitool_run("check");
    assert_eq!(check.exit, 0, "{check:?}");

    pod.ip("link del dev tapeth0");
    let check = cnitool_run("check");
    assert_ne!(check.exit, 0, "{check:?}");
    assert!(
        format!("{}{}", check.stdout, check.stderr)
            .contains("the tap tapeth0 of this attachment is gone"),
        "{check:?}"
    );
    let del = cnitool_run("del");
    assert_eq!(del.exit, 0, "{del:?}");
    assert_eq!(pod.devices(), ["lo"]);
}

// ---------------------------------------------------------------------------------------------
// Configuration mistakes, DEL after the owner is gone, oversized input (issue #18)
// ---------------------------------------------------------------------------------------------

/// A peer that is CNI_IFNAME itself or the loopback, a tap named like CNI_IFNAME, CNI_IFNAME
/// lo: configuration mistakes (code 7, 4), not the kernel's refusals (999) — and nothing is
/// touched.
#[test]
fn configuration_mistakes_are_not_kernel_refusals() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    pod.ip("link add name eth0 type veth peer name x0");
    pod.ip("link set dev eth0 up");
    let before = state(&pod);
    let a = Attachment::new("c1", &pod, "eth0");
    let prev = json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": a.netns}], "ips": []});
    let base = json!({"cniVersion": "1.0.0", "name": format!("{}-mistakes", host.name),
        "type": "patchwire-cni", "prevResult": prev});
    let with = |pairs: &[(&str, Value)]| {
        let mut config = base.clone();
        for (key, value) in pairs {
            config[*key] = value.clone();
        }
        config
    };
    let wire = |peer: &str| with(&[("mode", json!("wire")), ("peer", json!(peer))]);
    let cases = [
        (
            wire("eth0"),
            &a,
            7,
            "peer eth0 is CNI_IFNAME itself: wire mode joins CNI_IFNAME to another interface of \
             the pod",
        ),
        (
            wire("lo"),
            &a,
            7,
            "peer lo is the loopback interface, which carries no frames to a wire: name an \
             Ethernet-like interface of the pod (veth, tap, macvlan)",
        ),
        (
            with(&[("tapName", json!("eth0"))]),
            &a,
            7,
            "tapName eth0 is CNI_IFNAME itself: the tap is a new interface next to CNI_IFNAME, \
             with a name of its own",
        ),
    ];
    // CNI_IFNAME's own veth partner: patchwire's loop check, code 7, and no CLI flag named.
    let error = invoke(
        &plugins,
        &host,
        "patchwire-cni",
        "ADD",
        Some(&a),
        &wire("x0"),
    )
    .error();
    assert_eq!(error["code"], 7, "{error}");
    assert_eq!(error["msg"], "invalid network configuration");
    assert_eq!(
        error["details"],
        "wiring eth0 to x0 would close a loop: eth0 -veth- x0. Frames would circulate forever (a \
         ring like this pins every core at 100% softirq). Name as peer an interface that does \
         not lead back to eth0."
    );
    for command in ["ADD", "CHECK"] {
        for (config, attachment, code, details) in &cases {
            let error = invoke(
                &plugins,
                &host,
                "patchwire-cni",
                command,
                Some(attachment),
                config,
            )
            .error();
            assert_eq!(error["code"], *code, "{command}: {error}");
            assert_eq!(error["details"], *details, "{command}");
        }
    }
    let lo = Attachment::new("c1", &pod, "lo");
    let error = invoke(
        &plugins,
        &host,
        "patchwire-cni",
        "ADD",
        Some(&lo),
        &wire("eth0"),
    )
    .error();
    assert_eq!(error["code"], 4, "{error}");
    assert_eq!(
        error["details"],
        "CNI_IFNAME is lo, the loopback interface: a chained plugin joins the interface the main \
         plugin made (eth0, net1…)"
    );
    assert_eq!(state(&pod), before);
}

/// DEL gives back a tap made for an owner that has since been deleted: the owner is not needed
/// to remove it, and a DEL that fails leaves the pod unremovable.
#[test]
fn del_needs_no_owner_that_still_exists() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    let plugins = Plugins::new(&host);
    pod.ip("link add name eth0 type veth peer name x0");
    pod.ip("link set dev eth0 up");
    let before = state(&pod);
    let a = Attachment::new("c1", &pod, "eth0");
    let prev = json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": a.netns}], "ips": []});
    let mut config = json!({"cniVersion": "1.0.0", "name": format!("{}-owner", host.name),
        "type": "patchwire-cni", "tapName": "tap0", "owner": "nobody", "prevResult": prev});
    let out = invoke(&plugins, &host, "patchwire-cni", "ADD", Some(&a), &config);
    assert_eq!(out.exit, 0, "{out:?}");
    assert!(pod.ip("-d link show dev tap0").contains("tun type tap"));
    // The same configuration once its user is gone (as if `userdel` ran after ADD).
    config["owner"] = json!("pw-no-such-user");
    let error = invoke(&plugins, &host, "patchwire-cni", "CHECK", Some(&a), &config).error();
    assert_eq!(error["code"], 7, "{error}");
    let out = invoke(&plugins, &host, "patchwire-cni", "DEL", Some(&a), &config);
    assert_eq!((out.exit, out.stdout.as_str()), (0, ""), "{out:?}");
    assert_eq!(state(&pod), before, "the tap and the wire are gone");
}

/// More than 1 MiB on stdin is refused unread (parsed JSON takes up to 100 times its size).
#[test]
fn oversized_stdin_is_refused() {
    let host = TestNs::new();
    let plugins = Plugins::new(&host);
    let mut child = Command::new("ip")
        .args(["netns", "exec", &host.name])
        .arg(plugins.dir.join("patchwire-cni"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", "ADD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run plugin");
    let mut stdin = child.stdin.take().unwrap();
    // 64 MiB of nested arrays: the plugin stops reading after 1 MiB, so this write fails with
    // EPIPE once it exits.
    let chunk = vec![b'['; 1 << 20];
    for _ in 0..64 {
        if stdin.write_all(&chunk).is_err() {
            break;
        }
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let out = Outcome {
        exit: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let error = out.error();
    assert_eq!(error["code"], 6, "{error}");
    assert_eq!(
        error["details"],
        "stdin holds more than 1024 KiB; a network configuration with its prevResult is a few KB"
    );
}

/// `txChecksum: false`: the plugin turns TX checksum offload off on both ends, then a VM takes
/// the tap and its driver turns the tap's back on (qemu's TUNSETOFFLOAD). CHECK and `show`
/// leave the held tap's offload to the VM, and still report a mismatch on the other end.
#[test]
fn a_vm_owns_its_taps_tx_checksum_and_check_leaves_it_alone() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    pod.ip("link set lo up");
    let plugins = Plugins::new(&host);
    let net = Network {
        plugins: &plugins,
        host: &host,
        name: format!("{}-csum", host.name),
        version: "1.0.0",
        list: vec![
            json!({"type": "ptp", "ipam": plugins.ipam("198.18.41.0/24")}),
            json!({"type": "patchwire-cni", "txChecksum": false}),
        ],
    };
    let a = Attachment::new("c1", &pod, "eth0");
    let result = net.add(&a);
    let ends = |pod: &TestNs| {
        let wires = pod.patchwire(&["-j", "show", "-s"]).json();
        let end = |name: &str| {
            [&wires[0]["a"], &wires[0]["b"]]
                .into_iter()
                .find(|e| e["name"] == name)
                .unwrap()
                .clone()
        };
        (end("tapeth0"), end("eth0"), wires[0]["health"].clone())
    };
    let (tap, eth0, _) = ends(&pod);
    assert_eq!(
        (&tap["tx_checksum"], &eth0["tx_checksum"]),
        (&json!(false), &json!(false))
    );
    net.check(&a, &result).expect("CHECK before the VM starts");

    let holder = hold_tap_like_qemu(&pod.name, "tapeth0", true);
    let (tap, eth0, health) = ends(&pod);
    assert_eq!(tap["attached"], true, "{tap}");
    assert_eq!(tap["tx_checksum"], true, "the VM turned it on: {tap}");
    assert_eq!(eth0["tx_checksum"], false, "{eth0}");
    assert_eq!(health, "ok");
    net.check(&a, &result)
        .expect("CHECK with a VM holding the tap: its offload is the VM's");

    // The end that is not the VM's is still compared.
    pod.patchwire(&["link", "tapeth0", "eth0", "--tx-checksum", "on"])
        .ok();
    let (_, eth0, _) = ends(&pod);
    assert_eq!(eth0["tx_checksum"], true, "{eth0}");
    let (plugin, out) = net.check(&a, &result).expect_err("CHECK must fail");
    assert_eq!(plugin, "patchwire-cni");
    assert_eq!(
        out.error()["details"],
        "eth0: TX checksum offload is on, the configuration says off"
    );
    drop(holder);
    net.del(&a, Some(&result));
}

/// `txChecksum: true` before any VM holds the tap: the kernel lets only a tap's holder turn its
/// TX checksum on, so the tap stays off; CHECK right after ADD passes (a tap's offload is its
/// holder's, never compared), and still fails when `CNI_IFNAME`'s differs.
#[test]
fn check_passes_with_tx_checksum_on_before_a_vm_holds_the_tap() {
    let (host, pod) = (TestNs::new(), TestNs::new());
    pod.ip("link set lo up");
    let plugins = Plugins::new(&host);
    let net = Network {
        plugins: &plugins,
        host: &host,
        name: format!("{}-csumon", host.name),
        version: "1.0.0",
        list: vec![
            json!({"type": "ptp", "ipam": plugins.ipam("198.18.47.0/24")}),
            json!({"type": "patchwire-cni", "txChecksum": true}),
        ],
    };
    let a = Attachment::new("c1", &pod, "eth0");
    let result = net.add(&a);
    let wires = pod.patchwire(&["-j", "show", "-s"]).json();
    let end = |name: &str| {
        [&wires[0]["a"], &wires[0]["b"]]
            .into_iter()
            .find(|e| e["name"] == name)
            .unwrap()
            .clone()
    };
    let (tap, eth0) = (end("tapeth0"), end("eth0"));
    assert_eq!(tap["attached"], false, "{tap}");
    assert_eq!(eth0["tx_checksum"], true, "{eth0}");
    net.check(&a, &result)
        .expect("CHECK right after ADD, no VM holding the tap yet");

    pod.patchwire(&["link", "tapeth0", "eth0", "--tx-checksum", "off"])
        .ok();
    let (plugin, out) = net.check(&a, &result).expect_err("CHECK must fail");
    assert_eq!(plugin, "patchwire-cni");
    assert_eq!(
        out.error()["details"],
        "eth0: TX checksum offload is off, the configuration says on"
    );
    net.del(&a, Some(&result));
}
