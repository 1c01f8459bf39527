//! Container nodes on the management network, on podman and docker (the runtimes and image of
//! tests/containers.rs, in `common::containers`; the rest of containerlab's files is
//! tests/containers_clab.rs): `mgmt-net` links joining the network's bridge, `mgmt.bridge`
//! named or refused, static management addresses outside the network refused, management
//! networks going with the last lab.

mod common;
use common::containers::*;

use std::path::Path;
use std::process::Command;

use patchwire::runtime::Kind;

/// containerlab's smoke files name labs of their own (`mgmtnetif`): their panels and
/// registrations are the host's, so the podman and docker runs take turns.
static SMOKE: std::sync::Mutex<()> = std::sync::Mutex::new(());

const SMOKE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/containerlab/tests/01-smoke"
);

/// containerlab's `16-mgmtnetinterface.clab.yml` as written (no `mgmt.bridge`; its image
/// local): `plan` before the network exists says where the host side goes, `up` plugs it into
/// the bridge the runtime made for the `clab` network (`ip -d link` shows it as its master),
/// frames pass between the container's eth1 and that bridge, and `down` removes the host side
/// and everything else.
fn mgmt_net_link_joins_the_runtimes_bridge(rt: &Rt) {
    let _turn = SMOKE.lock().unwrap_or_else(|e| e.into_inner());
    rt.adopt_lab("mgmtnetif");
    rt.tag_as(&["alpine:latest"]);
    let path = rt.work.join("16-mgmtnetinterface.clab.yml");
    std::fs::copy(format!("{SMOKE_DIR}/16-mgmtnetinterface.clab.yml"), &path).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for line in [
        format!("+ network clab ({})\n", rt.kind),
        "+ container clab-mgmtnetif-l1 (node l1, image alpine:latest)\n".to_string(),
        "+ port host.l1eth1 for host:l1eth1 (veth, l1eth1 in the host's namespace, a port of \
         management network clab's bridge (up makes the network first), mtu 9500)\n"
            .to_string(),
    ] {
        assert!(stdout.contains(&line), "{line} in {stdout}");
    }
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let bridge = rt
        .runtime()
        .network_bridge("clab")
        .unwrap()
        .expect("a bridge");
    let link = rt.ns.ip("-d link show l1eth1");
    assert!(link.contains(&format!(" master {bridge} ")), "{link}");
    assert!(link.contains("bridge_slave"), "{link}");
    // Frames: the container's eth1 reaches an address on the bridge, through the wire.
    let n = rt.n;
    rt.ns
        .ip(&format!("addr add 198.18.{}.254/24 dev {bridge}", n + 1));
    rt.sh(
        "clab-mgmtnetif-l1",
        &format!(
            "ip addr add 198.18.{}.1/24 dev eth1 && ip link set eth1 up",
            n + 1
        ),
    );
    assert!(ping(
        rt,
        "clab-mgmtnetif-l1",
        &format!("198.18.{}.254", n + 1)
    ));
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(0), "lab mgmtnetif: the kernel matches the file\n", "")
    );
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("l1eth1"),
        "down names the host side: {stdout}"
    );
    let gone = Command::new("ip")
        .args(["-n", &rt.ns.name, "link", "show", "l1eth1"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("does not exist"),
        "the host side is gone"
    );
    assert_eq!(leftovers(rt, "mgmtnetif", "clab"), Vec::<String>::new());

    // `01-linux-nodes.clab.yml` has a mgmt-net link too (and no mgmt.bridge): `plan` no longer
    // refuses it for that; on a kernel without `dummy`, its dummy link is what it refuses.
    let path = rt.work.join("01-linux-nodes.clab.yml");
    std::fs::copy(format!("{SMOKE_DIR}/01-linux-nodes.clab.yml"), &path).unwrap();
    // Its binds' sources sit beside it in containerlab's tree (plan refuses missing ones).
    for bind in ["01-test.json", "01-test.txt"] {
        std::fs::write(rt.work.join(bind), "bind source\n").unwrap();
    }
    let (code, stdout, stderr) = rt.patchwire(&["plan", path.to_str().unwrap()]);
    let refusals: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("patchwire:"))
        .collect();
    match code {
        Some(0) => assert!(stdout.contains("l2eth5mgmt"), "{stdout}"),
        _ => assert!(
            refusals.len() == 1
                && refusals[0].ends_with(
                    "01-linux-nodes.clab.yml:84:5: link of l2:somedummy (type: dummy): this kernel \
                     cannot make dummy interfaces (Operation not supported (Unknown device \
                     type)): it needs the kernel module dummy (modprobe dummy, or a kernel with \
                     CONFIG_DUMMY); patchwire doctor checks for it"
                ),
            "{stderr}"
        ),
    }
}

#[test]
fn podman_mgmt_net_link_joins_the_runtimes_bridge() {
    mgmt_net_link_joins_the_runtimes_bridge(&Rt::new(Kind::Podman));
}

#[test]
fn docker_mgmt_net_link_joins_the_runtimes_bridge() {
    mgmt_net_link_joins_the_runtimes_bridge(&Rt::new(Kind::Docker));
}

/// `mgmt.bridge`: docker names the management network's bridge so, and the mgmt-net link's
/// host side joins it; podman 4.3 (this machine's) cannot name a network's bridge, and `plan`
/// and `up` refuse the file before anything changes, saying what works instead.
fn mgmt_bridge_is_named_or_refused(rt: &Rt) {
    let lab = rt.lab_name("b");
    let n = rt.n;
    let network = format!("pwt-net{n}-3");
    let bridge = format!("pwb{n}");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{}.0/24\n  bridge: \
         {bridge}\ntopology:\n  nodes:\n    a: {{kind: linux, image: {IMAGE}, cmd: sleep \
         100000}}\n  links:\n    - endpoints: [\"a:eth1\", \"mgmt-net:a-eth1\"]\n",
        n + 2
    );
    let path = rt.work.join("bridge.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    match rt.kind {
        Kind::Podman => {
            let version = rt.runtime().version;
            let refusal = format!(
                "patchwire: {path}:5:11: mgmt.bridge {bridge}: podman {version} cannot name the \
                 bridge of the network it makes (its `network create` has no --interface-name; \
                 newer podman has): remove mgmt.bridge (the management network {network} then \
                 gets the bridge podman names, and mgmt-net links join that one), or run the lab \
                 with --runtime docker, or with a podman that has --interface-name\n"
            );
            for command in ["plan", "up"] {
                let (code, _, stderr) = rt.patchwire(&[command, path]);
                assert_eq!(code, Some(1), "{command}: {stderr}");
                assert!(stderr.ends_with(&refusal), "{command}: {stderr}");
            }
            assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
            assert!(!Path::new(&format!("/run/netns/{lab}.panel")).exists());
        }
        Kind::Docker => {
            let (code, stdout, stderr) = rt.patchwire(&["up", path]);
            assert_eq!(code, Some(0), "{stdout}{stderr}");
            assert_eq!(
                rt.runtime().network_bridge(&network).unwrap().as_deref(),
                Some(bridge.as_str())
            );
            let link = rt.ns.ip("-d link show a-eth1");
            assert!(link.contains(&format!(" master {bridge} ")), "{link}");
            let (code, stdout, stderr) = rt.patchwire(&["down", path]);
            assert_eq!(code, Some(0), "{stdout}{stderr}");
            assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
        }
    }
}

#[test]
fn podman_mgmt_bridge_is_named_or_refused() {
    mgmt_bridge_is_named_or_refused(&Rt::new(Kind::Podman));
}

#[test]
fn docker_mgmt_bridge_is_named_or_refused() {
    mgmt_bridge_is_named_or_refused(&Rt::new(Kind::Docker));
}

/// A static `mgmt-ipv4` outside the management network's subnets (an existing network's, as
/// the runtime reports them, or the ones `up` would make it with): `plan` and `up` refuse at
/// the node, before anything changes.
fn static_addresses_outside_the_network_are_refused(rt: &Rt) {
    let lab = rt.lab_name("a");
    let n = rt.n;
    let existing = format!("pwt-net{n}-3");
    rt.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("198.18.{}.0/24", n + 1),
        &existing,
    ]);
    let text = |network: &str, subnet: &str| {
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n{subnet}topology:\n  nodes:\n    a:\n      \
             kind: linux\n      image: {IMAGE}\n      cmd: sleep 100000\n      mgmt-ipv4: \
             198.18.{}.5\n",
            n + 2
        )
    };
    let path = rt.work.join("static.clab.yml");
    let path_text = path.to_str().unwrap().to_string();
    // The file's own subnet holds the address (the reader checks that); the existing
    // network's does not.
    let file = text(
        &existing,
        &format!("  ipv4-subnet: 198.18.{}.0/24\n", n + 2),
    );
    let cases = [(
        file,
        "7:5",
        format!("{existing} ({}'s subnets: 198.18.{}.0/24)", rt.kind, n + 1),
    )];
    for (file, at, network) in cases {
        std::fs::write(&path, file).unwrap();
        for command in ["plan", "up"] {
            let (code, stdout, stderr) = rt.patchwire(&[command, &path_text]);
            assert_eq!(code, Some(1), "{command}: {stdout}{stderr}");
            assert_eq!(
                stderr,
                format!(
                    "patchwire: {path_text}:{at}: node a: mgmt-ipv4 198.18.{0}.5 is not in a \
                     subnet of management network {network}; it is in the file's subnet \
                     198.18.{0}.0/24, but the network exists with other subnets and is not \
                     changed in place (the lab did not make it: once nothing is on it, {1} \
                     network rm {existing}, then patchwire up {path_text} makes it with the \
                     file's): give the node an address in one, or remove mgmt-ipv4 (the runtime \
                     then picks one)\n",
                    n + 2,
                    rt.kind
                ),
                "{command}"
            );
            let filter = format!("label=patchwire.lab={lab}");
            assert_eq!(rt.ok(&["ps", "-a", "-q", "--filter", &filter]), "");
            assert!(
                !rt.cli(&["network", "inspect", &format!("pwt-net{n}-2")])
                    .status
                    .success()
            );
        }
    }
    rt.ok(&["network", "rm", &existing]);
}

#[test]
fn podman_static_addresses_outside_the_network_are_refused() {
    static_addresses_outside_the_network_are_refused(&Rt::new(Kind::Podman));
}

#[test]
fn docker_static_addresses_outside_the_network_are_refused() {
    static_addresses_outside_the_network_are_refused(&Rt::new(Kind::Docker));
}

/// A management network a lab made does not outlive every lab: the last lab on it removes it
/// on `down` (another lab made it), and `up` removes it once the lab's last container node
/// left the file.
fn management_networks_go_with_the_last_lab(rt: &Rt) {
    let (a, b) = (rt.lab_name("m"), rt.lab_name("n"));
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = |lab: &str, image: bool| {
        let node = match image {
            true => format!("{{kind: linux, image: {IMAGE}, cmd: sleep 100000}}"),
            false => "{kind: linux}".to_string(),
        };
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n\
             topology:\n  nodes:\n    x: {node}\n"
        )
    };
    let path = |lab: &str| {
        rt.work
            .join(format!("{lab}.clab.yml"))
            .to_str()
            .unwrap()
            .to_string()
    };
    for lab in [&a, &b] {
        std::fs::write(path(lab), text(lab, true)).unwrap();
        let (code, stdout, stderr) = rt.patchwire(&["up", &path(lab)]);
        assert_eq!(code, Some(0), "{stdout}{stderr}");
    }
    let exists = || rt.cli(&["network", "inspect", &network]).status.success();
    let (code, stdout, stderr) = rt.patchwire(&["down", &path(&a)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(exists(), "b's container is on it: {stdout}");
    let (code, stdout, stderr) = rt.patchwire(&["down", &path(&b)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "removed network {network} (the lab had made it)\n"
        )),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        format!(
            "note: network {network} was made by lab {a}: removed with the last container on it\n"
        )
    );
    assert!(!exists());
    // The lab's last container node gone from the file: up removes the network too.
    let (code, stdout, stderr) = rt.patchwire(&["up", &path(&a)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    std::fs::write(path(&a), text(&a, false)).unwrap();
    let gone = format!(
        "- container clab-{a}-x (node x is no longer in the file)\n- network {network} ({}): a \
         lab made it, and no container uses it any more\n",
        rt.kind
    );
    let (code, stdout, stderr) = rt.patchwire(&["plan", &path(&a)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&gone), "{stdout}");
    let (code, stdout, stderr) = rt.patchwire(&["up", &path(&a)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&gone), "{stdout}");
    assert!(!exists());
    let (code, stdout, stderr) = rt.patchwire(&["down", &path(&a)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &a, &network), Vec::<String>::new());
}

#[test]
fn podman_management_networks_go_with_the_last_lab() {
    management_networks_go_with_the_last_lab(&Rt::new(Kind::Podman));
}

#[test]
fn docker_management_networks_go_with_the_last_lab() {
    management_networks_go_with_the_last_lab(&Rt::new(Kind::Docker));
}

/// The file gives the management network the lab made other subnets than it has: `plan` and
/// `up` say so, naming both and what makes it again (down, then up), and a static address in
/// the file's new subnet is refused saying the same; down then up makes it with the file's.
fn changed_subnets_of_the_labs_network_are_said(rt: &Rt) {
    let lab = rt.lab_name("s");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = |subnet: u32, address: &str| {
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{subnet}.0/24\n\
             topology:\n  nodes:\n    a:\n      kind: linux\n      image: {IMAGE}\n      cmd: \
             sleep 100000\n{address}"
        )
    };
    let path = rt.work.join("subnets.clab.yml");
    let path_text = path.to_str().unwrap().to_string();
    std::fs::write(&path, text(n, "")).unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["up", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    std::fs::write(&path, text(n + 1, "")).unwrap();
    let advice = format!(
        "the lab made it: patchwire down {path_text} then patchwire up {path_text} makes it \
         again with the file's"
    );
    for command in ["plan", "up"] {
        let (code, stdout, stderr) = rt.patchwire(&[command, &path_text]);
        assert_eq!(code, Some(0), "{command}: {stdout}{stderr}");
        let note = stderr
            .lines()
            .find(|l| l.starts_with(&format!("note: management network {network} has subnets")))
            .unwrap_or_else(|| panic!("{command}: no note about the subnets: {stderr}"));
        assert!(note.contains(&format!("198.18.{n}.0/24")), "{note}");
        assert!(
            note.contains(&format!(
                ", the file gives it 198.18.{}.0/24, 3fff:172:20:20::/64: up uses it as it is \
                 (a network is not changed in place; {advice})",
                n + 1
            )),
            "{note}"
        );
    }
    // A static address in the file's new subnet: refused, saying why.
    std::fs::write(
        &path,
        text(n + 1, &format!("      mgmt-ipv4: 198.18.{}.5\n", n + 1)),
    )
    .unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["plan", &path_text]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "node a: mgmt-ipv4 198.18.{0}.5 is not in a subnet of management network \
             {network} ({1}'s subnets: ",
            n + 1,
            rt.kind
        )) && stderr.contains(&format!(
            "; it is in the file's subnet 198.18.{}.0/24, but the network exists with other \
             subnets and is not changed in place ({advice}): give the node an address in one",
            n + 1
        )),
        "{stderr}"
    );
    // Down, then up: the network made again with the file's subnets; nothing more to say.
    let (code, stdout, stderr) = rt.patchwire(&["down", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, stderr) = rt.patchwire(&["up", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, stderr) = rt.patchwire(&["plan", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: the kernel matches the file\n"));
    assert!(!stderr.contains("has subnets"), "{stderr}");
    let (code, stdout, stderr) = rt.patchwire(&["down", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_changed_subnets_of_the_labs_network_are_said() {
    changed_subnets_of_the_labs_network_are_said(&Rt::new(Kind::Podman));
}
