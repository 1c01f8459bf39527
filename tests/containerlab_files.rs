//! containerlab's own topology files (its smoke tests and lab examples, copied under
//! tests/data/containerlab with their origin in the README there) read as they are: every
//! file whose nodes are all of kinds patchwire runs loads; every file with vendor nodes is
//! refused in one message that lists each of them with its kind. Unprivileged: reading only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use patchwire::lab::file::{self, LinkKind, NodeKind};
use serde_norway::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/containerlab");

/// Files refused for a reason of their own (not a vendor kind), with the message.
const REFUSED: &[(&str, &str)] = &[(
    "tests/01-smoke/24-bridge-in-ns.clab.yaml",
    "4:5: node \"br01|bp1\" is containerlab's bridge br01 inside node bp1's namespace, which \
     patchwire does not make: use a `kind: hub` node (a segment of its own), or make the bridge \
     with `exec:` in bp1",
)];

const OURS: &[&str] = &[
    "linux",
    "ext-container",
    "bridge",
    "host",
    "hub",
    "namespace",
    "vm",
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.to_string_lossy().contains(".clab.y") {
            out.push(path);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    files(Path::new(DATA), &mut out);
    out.sort();
    out
}

/// Each node's kind as containerlab resolves it (the node's, its group's, the defaults'),
/// read here with a YAML parser of its own rather than patchwire's reader.
fn kinds(path: &Path) -> BTreeMap<String, String> {
    let doc: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let topo = &doc["topology"];
    let defaults_kind = topo["defaults"]["kind"].as_str();
    let mut out = BTreeMap::new();
    let Some(nodes) = topo["nodes"].as_mapping() else {
        return out;
    };
    for (name, node) in nodes {
        let group = node["group"].as_str();
        let kind = node["kind"]
            .as_str()
            .or_else(|| group.and_then(|g| topo["groups"][g]["kind"].as_str()))
            .or(defaults_kind)
            .unwrap_or("");
        out.insert(name.as_str().unwrap().to_string(), kind.to_string());
    }
    out
}

#[test]
fn containerlab_files_load_or_their_vendor_nodes_are_refused_in_one_message() {
    let all = all_files();
    assert!(all.len() >= 12, "only {} files", all.len());
    let (mut loaded, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for path in &all {
        let shown = path.display().to_string();
        let vendor: Vec<(String, String)> = kinds(path)
            .into_iter()
            .filter(|(_, k)| !k.is_empty() && !OURS.contains(&k.to_lowercase().as_str()))
            .collect();
        let own = REFUSED
            .iter()
            .find(|(name, _)| path.ends_with(name))
            .map(|(_, m)| format!("{shown}:{m}"));
        if let Some(expected) = own {
            match file::load(&shown) {
                Err(e) if e.to_string() == expected => refused += 1,
                other => failures.push(format!("{shown}: expected {expected}, got {other:?}")),
            }
            continue;
        }
        match (file::load(&shown), vendor.is_empty()) {
            (Ok(lab), true) => {
                loaded += 1;
                assert!(!lab.nodes.is_empty(), "{shown}: no nodes");
            }
            (Ok(_), false) => failures.push(format!("{shown}: accepted with {vendor:?}")),
            (Err(e), true) => failures.push(format!("{e}")),
            (Err(e), false) => {
                refused += 1;
                let message = e.to_string();
                let head = match vendor.len() {
                    1 => "1 node has a kind patchwire does not run: ".to_string(),
                    n => format!("{n} nodes have kinds patchwire does not run: "),
                };
                let one = message.lines().count() == 1 && message.contains(&head);
                let every = vendor
                    .iter()
                    .all(|(node, kind)| message.contains(&format!("{node} ({kind}, line ")));
                if !(one && every && message.contains("`kind: ext-container`")) {
                    failures.push(format!("{shown}: wrong refusal for {vendor:?}: {message}"));
                }
            }
        }
    }
    println!("loaded {loaded}, refused {refused}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        loaded >= 10 && refused >= 10,
        "loaded {loaded}, refused {refused}"
    );
}

#[test]
fn a_smoke_test_file_reads_as_containerlab_runs_it() {
    let path = format!("{DATA}/tests/01-smoke/01-linux-nodes.clab.yml");
    let lab = file::load(&path).unwrap();
    assert_eq!(lab.name, "2-linux-nodes");
    let NodeKind::Container(l1) = &lab.nodes["l1"].kind else {
        panic!("l1 is {:?}", lab.nodes["l1"].kind);
    };
    assert_eq!(l1.spec.name, "clab-2-linux-nodes-l1");
    assert_eq!(lab.mgmt.as_ref().unwrap().name, "clab");
    assert_eq!(l1.spec.cmd.as_ref().unwrap()[0], "ash");
    assert_eq!(l1.spec.env["MYVAR"], "MYVAR is SET");
    assert_eq!(
        l1.exec,
        ["echo this_is_an_exec_test", "cat /etc/os-release"]
    );
    assert_eq!(l1.spec.mgmt_ipv4, Some("172.20.20.99".parse().unwrap()));
    // Binds are made absolute against the file's folder.
    assert_eq!(
        l1.spec.binds,
        [
            format!("{DATA}/tests/01-smoke/01-test.json:/test.json"),
            format!("{DATA}/tests/01-smoke/01-test.txt:/01-test.txt"),
        ]
    );
    // containerlab's links default to 9500 bytes; the link's own `mtu:` wins.
    let mtus: Vec<u32> = lab.links.iter().map(|l| l.mtu).collect();
    assert_eq!(mtus, [2000, 9500, 9500, 9500, 9500, 9500]);
    let kinds: Vec<&LinkKind> = lab.links.iter().map(|l| &l.kind).collect();
    assert_eq!(
        kinds,
        [
            &LinkKind::Veth,
            &LinkKind::Veth,
            &LinkKind::Veth,
            &LinkKind::Host {
                host_interface: "l2eth4".into()
            },
            &LinkKind::MgmtNet {
                host_interface: "l2eth5mgmt".into()
            },
            &LinkKind::Dummy,
        ]
    );
    assert_eq!(lab.links[2].macs.len(), 2);
    assert_eq!(
        lab.notes,
        [
            "environment variables not set (or empty), left as written as containerlab does: \
             $MYVAR",
            "patchwire does not do `healthcheck` (node l1): containers run without a health check",
            "patchwire does not do `aliases` (node l2): network aliases on the management network",
            "patchwire does not do `dns` (node l2): the runtime's DNS settings apply",
        ]
    );
}

#[test]
fn vxlan_stitch_links_read_with_their_port_and_the_mgmt_network() {
    let lab = file::load(&format!(
        "{DATA}/tests/08-vxlan/vxlan-stitch-linux.clab.yml"
    ))
    .unwrap();
    let mgmt = lab.mgmt.unwrap();
    assert_eq!(mgmt.name, "clab-vxlan-linux");
    assert_eq!(mgmt.ipv4_subnet.as_deref(), Some("172.20.30.0/24"));
    // containerlab's default IPv6 subnet stays when the file sets only IPv4.
    assert_eq!(mgmt.ipv6_subnet.as_deref(), Some("3fff:172:20:20::/64"));
    assert_eq!(
        lab.links[0].kind,
        LinkKind::Vxlan {
            remote: "172.20.30.12".parse().unwrap(),
            vni: 200,
            udp_port: 14792,
            dev: None,
            stitch: true,
        }
    );
    assert_eq!(lab.links[0].endpoints[0].to_string(), "l1:eth1");
    let NodeKind::Container(l2) = &lab.nodes["l2"].kind else {
        panic!("l2 is not a container");
    };
    // A folded scalar (`>`) is one command.
    assert_eq!(l2.exec.len(), 1);
    assert!(l2.exec[0].starts_with("ash -c ' apk add iproute2 -q &&"));
}

#[test]
fn up_plan_and_down_without_a_file_name_the_clab_files_here() {
    let dir = std::env::temp_dir().join(format!("pw-clab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let none = run(&["plan"]);
    let none_graph = run(&["graph"]);
    // One file: graph and show --lab take it as up/plan/down do.
    std::fs::write(
        dir.join("c.clab.yml"),
        "name: c\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n  links:\n    \
         - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n",
    )
    .unwrap();
    let graph = run(&["graph"]);
    let show = run(&["-j", "show", "--lab"]);
    std::fs::remove_file(dir.join("c.clab.yml")).unwrap();
    // Two files: refused before anything is read or changed.
    std::fs::write(dir.join("a.clab.yml"), "name: a\ntopology: {}\n").unwrap();
    std::fs::write(dir.join("b.clab.yaml"), "name: b\ntopology: {}\n").unwrap();
    let two = run(&["down"]);
    std::fs::remove_dir_all(&dir).unwrap();
    // A usage error (exit 2), like a missing argument.
    // The advice names the command the user ran.
    let no_file = |command: &str| {
        format!(
            "error: .: no lab file given, and no *.clab.yml or *.clab.yaml here to use: \
             name the file (`patchwire {command} FILE`)"
        )
    };
    assert_eq!((none.0, none.1), (Some(2), no_file("plan")));
    assert_eq!((none_graph.0, none_graph.1), (Some(2), no_file("graph")));
    assert_eq!(graph.0, Some(0), "{}", graph.1);
    assert!(graph.2.starts_with("graph \"c\" {"), "{}", graph.2);
    assert_eq!(show.0, Some(0), "{}", show.1);
    let links: serde_json::Value = serde_json::from_str(&show.2).unwrap();
    assert_eq!(
        links[0]["endpoints"],
        serde_json::json!(["r1:eth1", "r2:eth1"])
    );
    assert_eq!(links[0]["health"], "missing");
    assert_eq!(
        (two.0, two.1.as_str()),
        (
            Some(2),
            "error: .: no lab file given, and 2 *.clab.yml files here (a.clab.yml, \
             b.clab.yaml): name the one to use"
        )
    );
}

/// Every error of a file in one run, those of the values (serde's) and of the checks after
/// them together, in file order, each at its place: `plan` and `up` also name a `binds:`
/// source that is not there; `down` reads the file without them.
#[test]
fn plan_up_and_down_name_every_error_of_a_file_at_once() {
    let dir = std::env::temp_dir().join(format!("pw-clab-errors-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::write(dir.join("cfg/ok.conf"), "").unwrap();
    let text = "name: errs
topology:
  nodes:
    r1:
      kind: linux
      image: alpine:3
      cpu: lots
      memory: much
      binds: [cfg/ok.conf:/etc/ok.conf, nothere/x:/x]
      privileged: maybe
    r2:
      kind: linxu
    r3: {kind: linux, image: alpine:3, memory: 1Gb, cpu: 0.5, queues: 0}
  links:
    - endpoints: [\"r1:eth1\", \"r3:eth1\"]
      mtu: big
    - endpoints: [\"r1:eth2\", \"r3:eth2\"]
      mtu: 99999999
    - endpoints: [\"r1:eth3\", \"r9:eth3\"]
    - {endpoints: [\"r1:eth4\", \"r3:eth4\"], vni: x}
";
    let file = dir.join("errs.clab.yml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let at = |line: &str| format!("{path}:{line}");
    let errors =
        |binds: bool| {
            let mut lines = vec![
                at("7:12: node r1: cpu `lots` is not a number of CPUs (such as 2 or 0.5)"),
                at("8:15: node r1: memory `much` is not a size (such as 512Mb or 2Gb)"),
            ];
            if binds {
                lines.push(format!(
                    "{path}:9:41: node r1: bind source {}/nothere/x does not exist (a relative \
                 source is taken from the lab file's folder)",
                    dir.display()
                ));
            }
            lines.extend([
            at("10:19: `topology.nodes.r1.privileged` must be a boolean, found string \"maybe\""),
            at("12:13: node r2: unknown kind `linxu` — did you mean `linux`?"),
            at("13:71: queues 0 is out of range (1..=256)"),
            at("16:12: `topology.links[0].mtu` must be an integer in 68..=65535, found string \
                \"big\""),
            at("18:12: mtu 99999999 is out of range (68..=65535)"),
            at("19:30: endpoint r9:eth3 names node r9, which is not defined (nodes: r1, r2, r3)"),
            at("20:48: `topology.links[3].vni` must be an integer in 1..=16777215, found \
                string \"x\""),
        ]);
            format!("patchwire: {}\n", lines.join("\n"))
        };
    let plan = run(&["plan", path]);
    let up = run(&["up", path]);
    let down = run(&["down", path]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(plan, (Some(1), errors(true)));
    assert_eq!(up, (Some(1), errors(true)));
    // down says too that the lab of a file it cannot read does not run here.
    let not_here = format!(
        "({path} does not read; its lab errs has no namespaces on this host: nothing of it to \
         take down here)\n"
    );
    assert_eq!(down, (Some(1), format!("{}{not_here}", errors(false))));
}

/// Every error of a file in one run, whatever phase finds it (issue 20's review): an unknown key
/// (block or flow mapping, defaults, group, top level) is said once at its own place and the
/// rest read without it; every bad endpoint name and `mac:`; the management address, the CPU,
/// memory and bind source of a node with other errors; `remote:` on a veth; a missing `name:`
/// with all the rest.
#[test]
fn every_phase_says_its_errors_in_one_run_each_once() {
    let dir = std::env::temp_dir().join(format!("pw-clab-phases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"topology:
  defaults:
    labels: {a: b}
    envv: {A: 1}
  groups:
    g:
      kind: linux
      image: x
      cmd: sh
      imagee: y
  nodes:
    r5:
      kind: linux
      image: alpine:3
      cmd: sh
      bogus: 1
      cpu: lots
      memory: much
      binds:
        - nothere.txt:/nothere
      mgmt-ipv4: 10.0.0.5
    r6: {kind: linux, image: x, bogus: 1}
    n1: {}
    n2: {}
  links:
    - endpoints: ["n1:eth/1", "n2:eth 2"]
    - endpoints:
        - node: n1
          interface: eth3
          mac: 02:00:00:00:00:0g
        - node: n2
          interface: eth3
          mac: 03:00:00:00:00:01
    - endpoints: ["r5:eth1", "r6:eth1"]
      remote: 198.18.0.1
kinds: {}
mgmt: {ipv4-subnet: 172.20.20.0/24}
"#;
    let file = dir.join("all.clab.yml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["plan", path])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let lines = [
        "1:1: missing key `name`: every lab has a name (1-32 characters from A-Z a-z 0-9 _ -)",
        "4:5: unknown key `envv` in topology.defaults (did you mean `env`?)",
        "10:7: unknown key `imagee` in group g (did you mean `image`?)",
        "16:7: unknown key `bogus` in node r5 (docs/containerlab.md lists every key)",
        "17:12: node r5: cpu `lots` is not a number of CPUs (such as 2 or 0.5)",
        "18:15: node r5: memory `much` is not a size (such as 512Mb or 2Gb)",
        &format!(
            "20:11: node r5: bind source {}/nothere.txt does not exist (a relative source is \
             taken from the lab file's folder)",
            dir.display()
        ),
        "21:18: node r5: mgmt-ipv4 10.0.0.5 is outside the management subnet 172.20.20.0/24 \
         (`mgmt:`)",
        "22:33: unknown key `bogus` in node r6 (docs/containerlab.md lists every key)",
        "26:19: endpoint \"n1:eth/1\": interface name \"eth/1\" contains '/', which Linux does \
         not allow",
        "26:31: endpoint \"n2:eth 2\": interface name \"eth 2\" contains ' ', which Linux does \
         not allow",
        "30:16: mac \"02:00:00:00:00:0g\" is not a MAC address (six hex octets: \
         aa:bb:cc:dd:ee:ff)",
        "33:16: mac 03:00:00:00:00:01 is a multicast address (the first octet is odd); an \
         interface needs a unicast one, such as 02:00:00:00:00:01",
        "35:15: `remote` is for links of type vxlan, vxlan-stitch; this link is veth",
        "36:1: unknown key `kinds` at the top level (`kinds` belongs under `topology:`)",
    ];
    let expected: Vec<String> = lines.iter().map(|l| format!("{path}:{l}")).collect();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned()
        ),
        (Some(1), format!("patchwire: {}\n", expected.join("\n")))
    );
}

/// `plan` names each missing bind source at the list item that writes it, in file order: a
/// node's own, and one it inherits from a group or the defaults where that is written, naming
/// the node it applies to.
#[test]
fn each_missing_bind_source_is_named_where_it_is_written() {
    let dir = std::env::temp_dir().join(format!("pw-clab-binds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("here.txt"), "").unwrap();
    let text = "name: g
topology:
  defaults:
    binds:
      - d.txt:/d
  groups:
    grp:
      binds:
        - g.txt:/g
  nodes:
    r1:
      kind: linux
      image: alpine:3
      group: grp
      binds:
        - 01-test.txt:/t
        - 01-test.json:/j
        - here.txt:/h
";
    let file = dir.join("g.clab.yml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["plan", path])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let d = dir.display();
    let why = "does not exist (a relative source is taken from the lab file's folder)";
    let expected = [
        format!("{path}:5:9: node r1 (from topology.defaults): bind source {d}/d.txt {why}"),
        format!("{path}:9:11: node r1 (from group grp): bind source {d}/g.txt {why}"),
        format!("{path}:16:11: node r1: bind source {d}/01-test.txt {why}"),
        format!("{path}:17:11: node r1: bind source {d}/01-test.json {why}"),
    ];
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned()
        ),
        (Some(1), format!("patchwire: {}\n", expected.join("\n")))
    );
}

/// What waited for the rest of a file to be right comes with the rest (a demanding user's
/// review): an endpoint in two links even when its node has errors of its own, or in a link
/// with errors of its own; an `exec:` command that does not split into words (it was `plan`'s,
/// after the file had read); a flap's values beside its clash with `state: down`; the rest of a
/// node whose unknown key is a near miss of `binds` (not of `kind`).
#[test]
fn endpoints_in_two_links_exec_and_flap_values_come_with_the_other_errors() {
    let dir = std::env::temp_dir().join(format!("pw-clab-gather-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"name: gather
topology:
  defaults:
    cpu: lots
  nodes:
    d: {kind: linux, image: alpine:3, memory: much}
    e: {kind: linux, image: alpine:3, cmd: "sh -c 'x", bind: [a:/b]}
    f: {kind: linxu}
    r1: {kind: linux, image: alpine:3, exec: ["sh -c 'unbalanced"]}
    r2: {kind: ext-container, exec: ["ip link", "echo 'no end"]}
  links:
    - endpoints: ["d:eth1", "e:eth1"]
      mtu: big
    - endpoints: ["d:eth1", "r1:eth9"]
    - endpoints: ["r1:eth1", "r2:eth1"]
      state: down
      flap: {down: 0s, up: 2s}
    - endpoints: ["r2:eth2", "r2:eth2"]
      impair: {both: {delay: soon}}
"#;
    let file = dir.join("gather.clab.yml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["plan", path])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let exec = "cannot split it into words (an unbalanced quote, a trailing backslash, or \
                nothing at all); exec commands are split as a shell would and run without one, \
                as containerlab runs them";
    let lines = [
        "6:8: node d: cpu `lots` is not a number of CPUs (such as 2 or 0.5)".to_string(),
        "6:47: node d: memory `much` is not a size (such as 512Mb or 2Gb)".into(),
        "7:8: node e: cpu `lots` is not a number of CPUs (such as 2 or 0.5)".into(),
        "7:44: node e: cmd \"sh -c 'x\" cannot be split into words: a quote is not closed".into(),
        "7:56: unknown key `bind` in node e (did you mean `binds`?)".into(),
        "8:15: node f: unknown kind `linxu` — did you mean `linux`?".into(),
        "9:9: node r1: cpu `lots` is not a number of CPUs (such as 2 or 0.5)".into(),
        format!("9:47: node r1: exec `sh -c 'unbalanced`: {exec}"),
        format!("10:49: node r2: exec `echo 'no end`: {exec}"),
        "13:12: `topology.links[0].mtu` must be an integer in 68..=65535, found string \"big\""
            .into(),
        "14:19: endpoint d:eth1 is in two links (lines 12 and 14)".into(),
        "17:7: a link is either pulled (`state: down`) or flapping (`flap:`), not both".into(),
        "17:20: flap: down: \"0s\" is zero: a phase of a flap lasts at least 10ms".into(),
        "18:30: endpoint r2:eth2 appears twice in this link".into(),
        "19:30: delay: \"soon\" is not a duration like 50ms, 1.5ms, 200us or 1s".into(),
    ];
    let expected: Vec<String> = lines.iter().map(|l| format!("{path}:{l}")).collect();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned()
        ),
        (Some(1), format!("patchwire: {}\n", expected.join("\n")))
    );
}

/// A `group:` that `groups:` does not define, a `kinds:` entry of no known kind, other tools'
/// names for keys, and an endpoint's `mac:` written on its link: each said at its place, with
/// what was meant.
#[test]
fn undefined_groups_unknown_kinds_entries_and_synonyms_are_named_with_what_was_meant() {
    let dir = std::env::temp_dir().join(format!("pw-clab-groups-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"name: groups
topology:
  kinds:
    linxu: {image: alpine:3}
    ceos: {image: ceos:4.32}
  groups:
    edge: {kind: linux, image: alpine:3}
    core: {kind: linux, image: alpine:3}
  nodes:
    r1: {group: nogroup}
    r2: {group: egde, environment: {A: "1"}}
    r3: {kind: linux, image: alpine:3, enviroment: {A: "1"}, command: sh}
    r4: {kind: linux, image: alpine:3, mounts: [/a:/b], capabilities: [NET_ADMIN]}
    v1: {kind: vm, group: kvm}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      mac: 02:00:00:00:00:01
"#;
    let file = dir.join("groups.clab.yml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["plan", path])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let lines = [
        "4:5: `kinds:` names kind `linxu`, which is unknown — did you mean `linux`?",
        "10:17: node r1: group `nogroup` is not defined in `groups:` (groups: core, edge)",
        "11:17: node r2: group `egde` is not defined in `groups:` — did you mean `edge`?",
        "11:23: unknown key `environment` in node r2 (did you mean `env`?)",
        "12:40: unknown key `enviroment` in node r3 (did you mean `env`?)",
        "12:62: unknown key `command` in node r3 (did you mean `cmd`?)",
        "13:40: unknown key `mounts` in node r4 (did you mean `binds`?)",
        "13:57: unknown key `capabilities` in node r4 (did you mean `cap-add`?)",
        "17:7: unknown key `mac` in a link (`mac` belongs to an endpoint, written in the \
         extended form: `endpoints: [{node: NODE, interface: INTERFACE, mac: …}, …]`)",
    ];
    let expected: Vec<String> = lines.iter().map(|l| format!("{path}:{l}")).collect();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned()
        ),
        (Some(1), format!("patchwire: {}\n", expected.join("\n")))
    );
}
