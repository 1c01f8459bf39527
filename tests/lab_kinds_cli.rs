//! Lab node kinds and link types through the CLI, on containerlab files in a stand-in host
//! (the in-process checks are tests/lab_kinds.rs): a `kind: bridge` node's note that a hub
//! passes what a bridge eats, said once; a macvlan's MTU from its parent; the file's notes in
//! JSON; `up` killed anywhere converging with bridge, host and macvlan links and with a netns
//! node; a missing bridge named at its node in the file.
//!
//! "The host" is always a namespace the test made (the CLI runs in it), so the machine's own
//! namespace is never touched.

mod common;

use common::*;

/// Takes a lab down (CLI, in its stand-in host) even when a test fails.
struct DownOnDrop<'a> {
    host: &'a TestNs,
    path: &'a str,
}

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = on_host(&self.host.name, &["down", self.path]);
    }
}

/// `up PATH` in `host`, killed by its own hand at `point` (PATCHWIRE_LAB_KILL_AT).
fn up_killed_at(host: &TestNs, path: &str, point: &str) {
    let killed = on_host_command(&host.name)
        .args(["up", path])
        .env("PATCHWIRE_LAB_KILL_AT", point)
        .output()
        .unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(libc::SIGKILL),
        "killed at {point}"
    );
}

/// A directory and a lab file path in it for a test's lab `name` (removed by the test).
fn lab_dir(name: &str, file: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    (dir, path)
}

#[test]
fn a_containerlab_file_with_a_bridge_says_once_that_a_hub_passes_what_it_eats() {
    require_root();
    let host = TestNs::new();
    host.ip("link add br-clab address 02:00:00:00:0c:0c type bridge");
    host.ip("link set br-clab up");
    let name = format!("pwt-{}-kc", std::process::id());
    let (dir, path) = lab_dir(&name, "lab.clab.yml");
    let file = |kind: &str| {
        format!(
            "name: {name}
topology:
  nodes:
    r1: {{kind: linux}}
    r2: {{kind: linux}}
    br-clab: {{kind: {kind}}}
  links:
    - endpoints: [\"r1:eth1\", \"br-clab:eth1\"]
    - endpoints: [\"r2:eth1\", \"br-clab:eth2\"]
    - type: host
      endpoint: {{node: r1, interface: eth2, mac: \"02:00:00:00:0a:02\"}}
      host-interface: r1-eth2
      mtu: 1500
"
        )
    };
    std::fs::write(&path, file("bridge")).unwrap();
    let path = path.to_str().unwrap();
    let _down = DownOnDrop { host: &host, path };
    let before = host.ip("-o link show");
    let note = "note: node br-clab is a Linux bridge: a bridge does not pass LACP, LLDP, PAUSE or \
                802.1X frames (01:80:c2:00:00:0x) between its ports, and with its own STP on it \
                eats STP's too, so bonds, LLDP neighbours and spanning tree do not form through \
                it as through a cable; for a transparent segment write `kind: hub` for it (the \
                links stay as they are)";
    for command in ["plan", "up"] {
        let run = on_host(&host.name, &[command, path]);
        run.ok();
        // Notes go to stderr, as every command's do.
        assert_eq!(
            run.stderr.matches("kind: hub").count(),
            1,
            "said once:\n{}",
            run.stderr
        );
        assert!(run.stderr.lines().any(|l| l == note), "{}", run.stderr);
    }
    let ports = host.ip("-o link show master br-clab");
    assert!(
        ports.contains(": eth1@") && ports.contains(": eth2@"),
        "{ports}"
    );
    // show --labs counts the bridge and the host as nodes, not as existing namespaces.
    let labs = on_host(&host.name, &["-j", "show", "--labs"]);
    labs.ok();
    let mine = labs
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{}", labs.stdout));
    assert_eq!(
        mine["nodes"],
        serde_json::json!(["br-clab", "host", "r1", "r2"])
    );
    assert!(mine.get("existing").is_none(), "{mine}");
    assert!(
        host.ip("-o link show dev r1-eth2").contains("mtu 1500"),
        "the host side has the link's mtu"
    );
    assert!(link_in(&format!("{name}-r1"), "eth2").contains("02:00:00:00:0a:02"));
    // One word changed: the same links through a hub; the bridge is left alone.
    std::fs::write(std::path::Path::new(path), file("hub")).unwrap();
    let up = on_host(&host.name, &["up", path]);
    up.ok();
    assert!(!up.stdout.contains("Linux bridge"), "{}", up.stdout);
    assert!(
        up.stdout.contains("+ hub hub.br-clab: r1:eth1, r2:eth1"),
        "{}",
        up.stdout
    );
    assert_eq!(
        host.ip("-o link show master br-clab"),
        "",
        "no port left on the bridge"
    );
    let down = on_host(&host.name, &["down", path]);
    down.ok();
    assert!(
        down.stdout
            .starts_with("removed host:r1-eth2 (made by the lab in the host's namespace)\n"),
        "{}",
        down.stdout
    );
    links_return_to(&host, &before, "down leaves the host as it was");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_macvlan_without_mtu_takes_its_parents_and_one_above_it_is_refused() {
    require_root();
    let host = TestNs::new();
    let outside = TestNs::new();
    veth(&host, "up0", &outside, "ext0");
    host.ip("link set up0 mtu 1400");
    let name = format!("pwt-{}-km", std::process::id());
    let (dir, path) = lab_dir(&name, "lab.clab.yml");
    let file = |macvlan: &str| {
        format!(
            "name: {name}
topology:
  nodes:
    r1: {{kind: linux}}
    r2: {{kind: linux}}
  links:
    - endpoints: [\"r1:eth1\", \"r2:eth1\"]
{macvlan}"
        )
    };
    let macvlan = "    - type: macvlan\n      endpoint: {node: r1, interface: m0}\n      \
                   host-interface: up0\n";
    std::fs::write(&path, file(macvlan)).unwrap();
    let path = path.to_str().unwrap();
    let _down = DownOnDrop { host: &host, path };
    let before = host.ip("-o link show");
    // containerlab's 9500 is for the veth; the macvlan takes up0's 1400.
    let plan = on_host(&host.name, &["plan", path]);
    plan.ok();
    assert!(
        plan.stdout.contains(&format!(
            "+ macvlan of up0 (bridge) r1:m0 in netns {name}-r1 (mtu 1400)\n"
        )) && plan.stdout.contains("(veth, eth1 in netns "),
        "{}",
        plan.stdout
    );
    on_host(&host.name, &["up", path]).ok();
    assert!(link_in(&format!("{name}-r1"), "m0").contains(" mtu 1400 "));
    assert!(link_in(&format!("{name}-r1"), "eth1").contains(" mtu 9500 "));
    let again = on_host(&host.name, &["up", path]);
    again.ok();
    assert_eq!(
        again.stdout,
        format!("lab {name}: up to date, nothing changed\n")
    );
    // An mtu: above the parent's is refused by plan, naming the parent and its MTU.
    std::fs::write(
        std::path::Path::new(path),
        file(&format!("{macvlan}      mtu: 9000\n")),
    )
    .unwrap();
    let refused = on_host(&host.name, &["plan", path]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert_eq!(
        refused.stderr,
        format!(
            "patchwire: {path}:8:5: link of r1:m0 (type: macvlan): mtu 9000 is more than up0's \
             mtu 1400: give the link mtu: 1400 or less (or raise up0's)\n"
        )
    );
    // The link gone from the file: its macvlan goes too, the node stays.
    std::fs::write(std::path::Path::new(path), file("")).unwrap();
    let plan = on_host(&host.name, &["plan", path]);
    plan.ok();
    assert_eq!(
        plan.stdout,
        format!(
            "- r1:m0 in netns {name}-r1 (not in the file)\n1 change(s) to make (patchwire up \
             {path})\n"
        )
    );
    on_host(&host.name, &["up", path]).ok();
    let left = ip_in(&format!("{name}-r1"), "-o link show");
    assert!(!left.contains(": m0@"), "m0 deleted: {left}");
    on_host(&host.name, &["down", path]).ok();
    links_return_to(&host, &before, "down leaves the host as it was");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_up_and_down_carry_the_files_notes() {
    require_root();
    let host = TestNs::new();
    host.ip("link add br-note type bridge");
    host.ip("link set br-note up");
    let name = format!("pwt-{}-kn", std::process::id());
    let (dir, path) = lab_dir(&name, "lab.clab.yml");
    std::fs::write(
        &path,
        format!(
            "name: {name}
topology:
  nodes:
    r1: {{kind: linux}}
    br-note: {{kind: bridge}}
  links:
    - endpoints: [\"r1:eth1\", \"br-note:eth1\"]
      vars: {{speed: 10G}}
"
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let _down = DownOnDrop { host: &host, path };
    let vars = "patchwire does not do `vars` (link on line 7): containerlab's template variables";
    let bridge = "node br-note is a Linux bridge: a bridge does not pass LACP, LLDP, PAUSE or \
                  802.1X frames (01:80:c2:00:00:0x) between its ports, and with its own STP on \
                  it eats STP's too, so bonds, LLDP neighbours and spanning tree do not form \
                  through it as through a cable; for a transparent segment write `kind: hub` for \
                  it (the links stay as they are)";
    // Text: notes on stderr; JSON: the same notes in `notes`, the file's first.
    let up = on_host(&host.name, &["-j", "up", path]);
    up.ok();
    assert_eq!(
        up.json()["notes"],
        serde_json::json!([vars, bridge]),
        "{}",
        up.stdout
    );
    let down = on_host(&host.name, &["-j", "down", path]);
    down.ok();
    assert_eq!(
        down.json()["notes"],
        serde_json::json!([vars]),
        "{}",
        down.stdout
    );
    let down = on_host(&host.name, &["down", path]);
    down.ok();
    assert_eq!(down.stderr, format!("note: {vars}\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_up_killed_anywhere_converges_with_bridge_host_and_macvlan_links() {
    require_root();
    let host = TestNs::new();
    host.ip("link add sw address 02:00:00:00:0d:0d type bridge");
    host.ip("link set sw up");
    host.ip("link add name up0 type veth peer name up1");
    let before = host.ip("-o link show");
    let name = format!("pwt-{}-kk", std::process::id());
    let (dir, path) = lab_dir(&name, "lab.clab.yml");
    std::fs::write(
        &path,
        format!(
            "name: {name}
topology:
  nodes:
    r1: {{kind: linux}}
    r2: {{kind: linux}}
    sw: {{kind: bridge}}
  links:
    - endpoints: [\"r1:e1\", \"sw:p1\"]
    - type: veth
      endpoints:
        - {{node: r2, interface: e1, mac: \"02:00:00:00:0e:01\"}}
        - {{node: sw, interface: p2}}
    - type: host
      endpoint: {{node: r1, interface: e2, mac: \"02:00:00:00:0e:02\"}}
      host-interface: h2
    - type: macvlan
      endpoint: {{node: r2, interface: m1, mac: \"02:00:00:00:0e:03\"}}
      host-interface: up0
      mtu: 1500
"
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let _down = DownOnDrop { host: &host, path };
    for point in ["1", "2", "10", "11", "12", "3", "6", "7"] {
        up_killed_at(&host, path, point);
        on_host(&host.name, &["up", path]).ok();
        let again = on_host(&host.name, &["up", path]);
        again.ok();
        assert!(
            again.stdout.contains("up to date, nothing changed"),
            "after a kill at {point}: {}",
            again.stdout
        );
        assert!(host.ip("-o link show dev p2").contains("master sw"));
        for (node, dev, mac) in [
            ("r2", "e1", "02:00:00:00:0e:01"),
            ("r1", "e2", "02:00:00:00:0e:02"),
            ("r2", "m1", "02:00:00:00:0e:03"),
        ] {
            let shown = link_in(&format!("{name}-{node}"), dev);
            assert!(shown.contains(mac), "after a kill at {point}: {shown}");
        }
        on_host(&host.name, &["down", path]).ok();
        links_return_to(&host, &before, &format!("after a kill at {point}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_up_killed_before_recording_its_ports_converges_with_a_netns_node() {
    require_root();
    let host = TestNs::new();
    let existing = TestNs::new();
    let name = format!("pwt-{}-kn", std::process::id());
    let (dir, path) = lab_dir(&name, "lab.yaml");
    std::fs::write(
        &path,
        format!(
            "name: {name}
topology:
  nodes:
    r1: {{}}
    ext: {{netns: {}}}
  links:
    - endpoints: [\"r1:e1\", \"ext:e1\"]
",
            existing.name
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let _down = DownOnDrop { host: &host, path };
    up_killed_at(&host, path, "10");
    assert!(
        existing.ip("-o link show dev e1").contains("e1@"),
        "left half-made"
    );
    let up = on_host(&host.name, &["up", path]);
    up.ok();
    assert!(
        up.stdout.contains("- port ext.e1 (was ext.e1)"),
        "the unrecorded port is made again: {}",
        up.stdout
    );
    assert!(
        on_host(&host.name, &["up", path])
            .stdout
            .contains("up to date, nothing changed")
    );
    on_host(&host.name, &["down", path]).ok();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `kind: bridge` node whose bridge is missing is named where the file writes it
/// (`FILE:LINE:COL: node …`), as every other error of a file is; `plan` changes nothing.
#[test]
fn a_missing_bridge_is_named_at_its_node_in_the_file() {
    let bridge = format!("pwtnb{}", std::process::id() % 100_000);
    let dir = std::env::temp_dir().join(format!("pwt-{}-nb", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("nb.clab.yml");
    std::fs::write(
        &file,
        format!(
            "name: nb\ntopology:\n  nodes:\n    {bridge}:\n      kind: bridge\n    r1: {{}}\n  \
             links:\n    - endpoints: [\"r1:e1\", \"{bridge}:p1\"]\n"
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["plan", &path])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned()
        ),
        (
            Some(1),
            format!(
                "patchwire: {path}:4:5: node {bridge} (kind: bridge): there is no bridge {bridge} \
                 in the host's network namespace; create it first (ip link add {bridge} type \
                 bridge; ip link set {bridge} up) — or, for a node, write kind: hub to have \
                 patchwire join its links in a transparent segment with no bridge at all\n"
            )
        )
    );
}
