//! What a lab's commands tell (issue 18): `show --lab` against `show` and the repairs it names,
//! `plan`'s notation, `show --labs` and its orphans, `-n` and private mount namespaces refused,
//! non-root told what is needed, `--help` and `graph`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::lifecycle::*;
use common::*;

// ------------------------------------------------------------------------------------------
// 8. show --lab agrees with show; its repairs run; one notation in plan; labs listed.

#[test]
fn show_lab_agrees_with_show_and_names_up_as_the_repair() {
    let lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n    c: {}\n    vm1: {kind: vm}\n  \
         links:\n    - endpoints: [\"a:e1\", \"b:e1\"]\n    - endpoints: [\"c:e1\", \"vm1:tap1\"]\n",
    );
    lab.pw(&["up"]).ok();
    let plain = patchwire(&["-n", &lab.ns("vm1"), "-j", "show"]).json();
    assert_eq!(plain[0]["health"], "degraded", "{plain}");
    let show = lab.pw(&["-j", "show", "--lab"]).json();
    assert_eq!(show[1]["health"], "degraded", "{show}");
    assert_eq!(
        show[1]["problems"],
        serde_json::json!([format!(
            "tap1 has no carrier: no process holds the tap (qemu not started?), so frames \
             redirected to it are dropped (in netns {})",
            lab.ns("vm1")
        )])
    );
    // Frames sent towards the idle tap are dropped on the second wire, and -s shows where.
    ip_in(&lab.ns("c"), "addr add 198.18.0.1/24 dev e1");
    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("c"),
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "1",
        ])
        .arg("198.18.0.2")
        .output()
        .unwrap();
    let show = lab.pw(&["-j", "show", "--lab"]).json();
    let counters = show[1]["counters"].as_object().unwrap();
    let dropped: u64 = counters
        .iter()
        .filter(|(end, _)| end.starts_with(&format!("{}:pw~", lab.ns("vm1"))))
        .map(|(_, c)| c[2].as_u64().unwrap())
        .sum();
    assert!(dropped >= 1, "{show}");
    // A port deleted under the lab: broken, and the repair is `up FILE`, which works.
    ip_in(&lab.panel(), "link del b.e1");
    let show = lab.pw(&["-j", "show", "--lab"]).json();
    assert_eq!(show[0]["health"], "broken");
    assert_eq!(
        show[0]["problems"],
        serde_json::json!([format!(
            "b.e1 is gone (deleted, or moved to another netns): mirred drops everything a.e1 \
             receives (repair: patchwire up {})",
            lab.path()
        )])
    );
    lab.pw(&["up"]).ok();
    assert_eq!(lab.pw(&["-j", "show", "--lab"]).json()[0]["health"], "ok");
}

#[test]
fn plan_writes_removed_and_new_wires_with_endpoint_names() {
    let lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n    c: {}\n  links:\n    \
         - endpoints: [\"a:e1\", \"b:e1\"]\n    - endpoints: [\"a:e2\", \"b:e2\", \"c:e2\"]\n",
    );
    lab.pw(&["up"]).ok();
    lab.write(
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n    c: {}\n  links:\n    \
         - endpoints: [\"a:e3\", \"c:e3\"]\n",
    );
    let plan = lab.pw(&["plan"]);
    let hub = plan
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("- hub "))
        .and_then(|l| l.split(':').next())
        .unwrap_or("?")
        .to_string();
    assert_eq!(
        plan.ok().stdout,
        format!(
            "- wire a:e1 <-> b:e1\n- hub {hub}: a:e2, b:e2, c:e2\n\
             - port a.e1 (was a:e1)\n- port a.e2 (was a:e2)\n- port b.e1 (was b:e1)\n\
             - port b.e2 (was b:e2)\n- port c.e2 (was c:e2)\n\
             + port a.e3 for a:e3 (veth, e3 in netns {a}, mtu 1500)\n\
             + port c.e3 for c:e3 (veth, e3 in netns {c}, mtu 1500)\n\
             + wire a:e3 <-> c:e3 (tc)\n\
             10 change(s) to make (patchwire up {})\n",
            lab.path(),
            a = lab.ns("a"),
            c = lab.ns("c"),
        )
    );
}

#[test]
fn show_labs_lists_the_labs_and_the_orphans() {
    let lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n    vm1: {kind: vm}\n  links:\n    \
         - endpoints: [\"a:e1\", \"b:e1\"]\n    - endpoints: [\"a:e2\", \"vm1:tap1\"]\n",
    );
    lab.pw(&["up"]).ok();
    let find = |labs: &serde_json::Value, name: &str| {
        labs.as_array()
            .unwrap()
            .iter()
            .find(|l| l["lab"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {labs}"))
    };
    let labs = patchwire(&["-j", "show", "--labs"]).json();
    assert_eq!(
        find(&labs, &lab.name),
        serde_json::json!({
            "lab": lab.name, "host": null, "panel": lab.panel(), "file": lab.path(),
            "nodes": ["a", "b", "vm1"], "links": 2, "health": "degraded", "orphaned": null,
            "remove": format!("patchwire down {}", lab.path()),
        })
    );
    let text = patchwire(&["show", "--labs"]);
    let line = text
        .ok()
        .stdout
        .lines()
        .find(|l| l.starts_with(&lab.name))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(line, format!("{} 3 2 degraded {}", lab.name, lab.path()));

    // Renamed in its file: the old lab is an orphan, and the command it names removes it.
    let renamed = format!("{}r", lab.name);
    std::fs::write(
        &lab.path,
        std::fs::read_to_string(&lab.path)
            .unwrap()
            .replace(&format!("name: {}", lab.name), &format!("name: {renamed}")),
    )
    .unwrap();
    let orphan = find(&patchwire(&["-j", "show", "--labs"]).json(), &lab.name);
    assert_eq!(
        orphan["orphaned"],
        format!("{} now names lab {renamed} (renamed)", lab.path())
    );
    assert_eq!(
        orphan["remove"],
        format!("patchwire down --name {}", lab.name)
    );
    let text = patchwire(&["show", "--labs"]).stdout;
    assert!(
        text.contains(&format!(
            "    ! orphaned: {} now names lab {renamed} (renamed); remove it with: patchwire down \
             --name {}\n",
            lab.path(),
            lab.name
        )),
        "{text}"
    );
    let down = patchwire(&["down", "--name", &lab.name]);
    down.ok();
    assert!(
        !std::path::Path::new("/run/netns")
            .join(lab.panel())
            .exists(),
        "{}",
        down.stdout
    );
    let labs = patchwire(&["-j", "show", "--labs"]).json();
    assert!(
        !labs
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["lab"] == lab.name),
        "{labs}"
    );
}

// ------------------------------------------------------------------------------------------
// 13. -n refused; non-root told what is needed; no lock files left.

/// Review of issue 18 (b), 4: `ip netns exec UNDERLAY patchwire up` runs in a private mount
/// namespace whose /run/netns mounts vanish with it: refused before anything changes, naming
/// `nsenter --net=`.
#[test]
fn up_and_down_refuse_a_private_mount_namespace() {
    let mut lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    \
         - endpoints: [\"a:e1\", \"b:e1\"]\n",
    );
    let underlay = lab.own_netns("u");
    for command in ["up", "down"] {
        let out = Command::new("ip")
            .args(["netns", "exec", &underlay, common::bin()])
            .args([command, lab.path()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "patchwire: {command}: this process runs in a mount namespace of its own whose \
                 /run/netns is a slave of the host's (as `ip netns exec` makes): the lab's \
                 namespaces registered there would vanish when it exits; enter only the network \
                 namespace instead: nsenter --net=/run/netns/{underlay} patchwire {command} {}\n",
                lab.path()
            )
        );
        assert!(
            !std::path::Path::new("/run/netns")
                .join(lab.panel())
                .exists(),
            "{command} changed the kernel"
        );
    }
    // The way the refusal names works.
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{underlay}"))
        .args([common::bin(), "up", lab.path()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ip_in(&lab.panel(), "link show dev b.e1").contains("b.e1"));
}

/// Review of issue 18 (b), 12: `down --name` with a malformed name is a usage error (exit 2);
/// `-j down` names its lab as `-j up` does.
#[test]
fn down_names_its_lab_in_json_and_refuses_a_bad_name_as_usage() {
    let bad = patchwire(&["down", "--name", "bad name!"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_eq!(
        bad.stderr.lines().next(),
        Some("error: --name \"bad name!\": not a lab name (1-32 characters from A-Z a-z 0-9 _ -)")
    );
    let json = patchwire(&["-j", "down", "--name", "bad name!"]);
    assert_eq!(json.code, 2);
    assert_eq!(
        json.json(),
        serde_json::json!({"error": "--name \"bad name!\": not a lab name (1-32 characters \
            from A-Z a-z 0-9 _ -)"})
    );
    let lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    \
         - endpoints: [\"a:e1\", \"b:e1\"]\n",
    );
    lab.pw(&["up"]).ok();
    let down = lab.pw(&["-j", "down"]);
    let down = down.ok().json();
    assert_eq!(down["lab"], lab.name.as_str(), "{down}");
    assert_eq!(down["host"], serde_json::Value::Null, "{down}");
    assert_eq!(
        down["namespaces_removed"],
        serde_json::json!([lab.ns("a"), lab.ns("b"), lab.panel()]),
        "{down}"
    );
}

/// Review of issue 18 (b), 10: `watch -n LAB.panel` during a planned `down` reports the
/// namespace going away, not every wire as broken or every port as held down.
#[test]
fn watch_reports_a_lab_down_as_the_panel_going_not_as_failures() {
    // `down` deletes what it made in a `netns:` node and a VM's taps first, while the panel is
    // still there: the wires to them break under the watch's eyes.
    let mut lab = Lab::new("c", "");
    let ext = lab.own_netns("w");
    lab.write(&format!(
        "name: LAB\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n    vm1: {{kind: vm}}\n    \
         ext: {{netns: {ext}}}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n    \
         - endpoints: [\"r1:eth2\", \"vm1:tap1\"]\n    - endpoints: [\"r2:eth2\", \"ext:eth2\"]\n"
    ));
    lab.pw(&["up"]).ok();
    let mut watch = Command::new(common::bin())
        .args(["-n", &lab.panel(), "-j", "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = watch.id().to_string();
    // Watching once it holds its lock.
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 4 && f[1] == "FLOCK" && f[4] == pid
            })
    }));
    lab.pw(&["down"]).ok();
    let exited = eventually(Duration::from_secs(10), || {
        watch.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = watch.kill();
    }
    let out = watch.wait_with_output().unwrap();
    assert!(exited, "watch still running after down");
    let events: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).unwrap();
            event["event"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(events, ["namespace-gone"]);
}

#[test]
fn lab_commands_refuse_netns() {
    for args in [
        vec!["-n", "x1", "up", "f.yaml"],
        vec!["-n", "x1", "plan", "f.yaml"],
        vec!["-n", "x1", "down", "f.yaml"],
        vec!["-n", "x1", "graph", "f.yaml"],
        vec!["-n", "x1", "demo"],
        vec!["-n", "x1", "show", "--lab", "f.yaml"],
        vec!["-n", "x1", "capture", "--lab", "f.yaml", "-w", "x.pcapng"],
        vec!["-n", "x1", "man"],
        vec!["-n", "x1", "completions", "bash"],
    ] {
        let run = patchwire(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let command = match args[2] {
            "show" => "show --lab",
            "capture" => "capture --lab",
            other => other,
        };
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("error: -n x1: {command} does not take -n (")),
            "{args:?}: {}",
            run.stderr
        );
    }
    // graph draws a picture: -j is refused (it printed DOT where JSON was asked for).
    let json = patchwire(&["-j", "graph", "f.yaml"]);
    assert_eq!(json.code, 2, "{}", json.stderr);
    assert_eq!(
        json.json(),
        serde_json::json!({
            "error": "-j: graph draws a picture (DOT or Mermaid), which has no JSON form; the lab \
                      as JSON is `patchwire -j show --lab f.yaml` (links, health, counters) or \
                      `patchwire -j plan f.yaml`"
        })
    );
    let stats = patchwire(&["-s", "show", "--labs"]);
    assert_eq!(stats.code, 2);
    assert_eq!(
        stats.stderr.lines().next(),
        Some("error: -s/--stats: show --labs has no statistics to print (show --lab FILE -s has)")
    );
    // The advice is the command typed, without its -n, under nsenter (review of issue 18, 4).
    for (args, advice) in [
        (
            vec!["-n", "x1", "up", "f.yaml"],
            "up does not take -n (a lab's namespaces are named in its file; to run it where the \
             underlay is, use nsenter --net=/run/netns/x1 patchwire up f.yaml)",
        ),
        (
            vec!["-n", "/proc/1/ns/net", "plan", "l1.yaml"],
            "plan does not take -n (a lab's namespaces are named in its file; to run it where \
             the underlay is, use nsenter --net=/proc/1/ns/net patchwire plan l1.yaml)",
        ),
        (
            vec!["-n", "x1", "show", "--labs"],
            "show --labs does not take -n (a lab's namespaces are named in its file; to run it \
             where the underlay is, use nsenter --net=/run/netns/x1 patchwire show --labs)",
        ),
        (
            vec!["down", "--netns=x1", "--name", "L"],
            "down does not take -n (a lab's namespaces are named in its file; to run it where \
             the underlay is, use nsenter --net=/run/netns/x1 patchwire down --name L)",
        ),
        (
            vec!["-n", "x1", "capture", "--lab", "f.yaml", "-w", "f.pcapng"],
            "capture --lab does not take -n (a lab's namespaces are named in its file; to run \
             it where the underlay is, use nsenter --net=/run/netns/x1 patchwire capture --lab \
             f.yaml -w f.pcapng)",
        ),
        (
            vec!["-n", "x1", "man"],
            "man does not take -n (man writes text that is the same in every namespace)",
        ),
        (
            vec!["-n", "x1", "completions", "zsh"],
            "completions does not take -n (completions writes text that is the same in every \
             namespace)",
        ),
    ] {
        let run = patchwire(&args);
        assert_eq!(run.code, 2, "{args:?}");
        let netns = args
            .iter()
            .zip(args.iter().skip(1))
            .find(|(a, _)| **a == "-n")
            .map_or("x1", |(_, n)| n);
        assert_eq!(
            run.stderr.lines().next().unwrap_or_default(),
            format!("error: -n {netns}: {advice}"),
            "{args:?}"
        );
    }
    // With -j: the JSON error object of every other error, on stdout.
    let json = patchwire(&["-j", "-n", "x1", "down", "--name", "L"]);
    assert_eq!(json.code, 2);
    assert_eq!(
        json.json(),
        serde_json::json!({"error": "-n x1: down does not take -n (a lab's namespaces are \
            named in its file; to run it where the underlay is, use nsenter \
            --net=/run/netns/x1 patchwire -j down --name L)"})
    );
    for command in ["up", "plan", "down", "graph"] {
        let help = patchwire(&[command, "--help"]).stdout;
        assert!(
            help.contains(
                "Default: the current one. Refused by up, plan, down, graph, demo, show \
                 --lab/--labs and capture --lab (a lab names its namespaces in its file), and by \
                 doctor, man and completions"
            ),
            "{command}: {help}"
        );
    }
}

#[test]
fn as_non_root_lab_commands_say_what_they_need_and_leave_no_lock_files() {
    let lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    \
         - endpoints: [\"a:e1\", \"b:e1\"]\n",
    );
    std::fs::create_dir_all("/run/patchwire").unwrap();
    let lock = format!("/run/patchwire/lab-{}.lock", lab.name);
    for command in ["plan", "up", "down"] {
        let output = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::bin())
            .args([command, lab.path()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "patchwire: opening the lock file {lock}: Permission denied (os error 13) (lab \
                 commands need root: CAP_NET_ADMIN, CAP_SYS_ADMIN to create and enter \
                 namespaces, and write access to /run/patchwire and /run/netns)\n"
            )
        );
    }
    // Lock files earlier versions left are swept; one somebody holds is not.
    let stale = format!("/run/patchwire/lab-{}-stale.lock", lab.name);
    let held = format!("/run/patchwire/lab-{}-held.lock", lab.name);
    std::fs::write(&stale, "").unwrap();
    let holder = std::fs::File::create(&held).unwrap();
    holder.lock().unwrap();
    lab.pw(&["plan"]).ok();
    assert!(!std::path::Path::new(&stale).exists(), "{stale} swept");
    assert!(std::path::Path::new(&held).exists(), "{held} is held");
    drop(holder);
    let _ = std::fs::remove_file(&held);
    // As root, several at once: each waits for the other, all succeed, no lock file stays.
    let children: Vec<std::process::Child> = (0..4)
        .map(|i| {
            let command = if i % 2 == 0 { "up" } else { "plan" };
            Command::new(common::bin())
                .args([command, lab.path()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(!std::path::Path::new(&lock).exists(), "{lock} left behind");
    assert_eq!(lab.pw(&["-j", "plan"]).json(), serde_json::json!([]));
    lab.pw(&["down"]).ok();
    assert!(!std::path::Path::new(&lock).exists(), "{lock} left behind");
}

// ------------------------------------------------------------------------------------------
// 16. --help describes every argument; graph draws kinds, mirrors, hosts and a legend.

#[test]
fn lab_commands_describe_their_arguments() {
    for command in ["up", "plan", "down", "graph"] {
        let help = patchwire(&[command, "--help"]).stdout;
        let squeezed = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            squeezed.contains("The lab file (YAML)"),
            "{command}: FILE undescribed:\n{help}"
        );
        assert!(
            squeezed.contains("--host <NAME> Which of the file's hosts this is"),
            "{command}: --host undescribed:\n{help}"
        );
    }
    let graph = patchwire(&["graph", "--help"]).stdout;
    assert!(
        graph.contains("--format <FORMAT>  The picture's language"),
        "{graph}"
    );
}

#[test]
fn graph_tells_node_kinds_hosts_and_mirrors_apart() {
    let path = std::env::temp_dir().join(format!("pwt-{}-graph.yaml", std::process::id()));
    std::fs::write(
        &path,
        "name: pwt-graph\nhosts:\n  a: {address: 198.18.1.1}\n  b: {address: 198.18.1.2}\n\
         topology:\n  nodes:\n    r1: {}\n    r2: {host: b}\n    r3: {host: b}\n    \
         vm1: {kind: vm}\n    mon: {}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n    \
         - endpoints: [\"r2:eth2\", \"r3:eth2\"]\n    \
         - endpoints: [\"r1:eth2\", \"vm1:tap1\", \"mon:eth3\"]\n  mirrors:\n    \
         - name: m1\n      from: [\"r1:eth2\"]\n      to: \"mon:eth1\"\n",
    )
    .unwrap();
    let dot = patchwire(&["graph", path.to_str().unwrap(), "--host", "a"]);
    let dot = &dot.ok().stdout;
    for expected in [
        "  subgraph \"cluster_host_a\" {\n    label=\"host a (198.18.1.1)\";",
        "    \"vm1\" [label=\"vm1\\n(VM)\", shape=box3d];",
        // Not up here: grey; on host b only: grey and dashed.
        "  \"r1\" -- \"r2\" [label=\"r1:eth1\\nr2:eth1\", color=gray, fontcolor=gray];",
        "  \"r2\" -- \"r3\" [label=\"r2:eth2\\nr3:eth2\", color=gray, fontcolor=gray, style=dashed];",
        "  \"hub.3\" [label=\"hub\", shape=diamond,",
        "  \"r1\" -- \"mon\" [dir=forward, style=dotted, color=blue, fontcolor=blue, label=\"mirror m1\\nr1:eth2 -> mon:eth1 (both)\"];",
        "  subgraph cluster_legend {",
        "[label=\"on another host\", color=gray, style=dashed];",
    ] {
        assert!(dot.contains(expected), "missing {expected:?} in:\n{dot}");
    }
    let mermaid = patchwire(&[
        "graph",
        path.to_str().unwrap(),
        "--host",
        "a",
        "--format",
        "mermaid",
    ]);
    let mermaid = &mermaid.ok().stdout;
    for expected in [
        "  subgraph host_b[\"host b (198.18.1.2)\"]",
        "  n4[[\"vm1 (VM)\"]]",
        "  n2 -.-|\"r2:eth2 - r3:eth2\"| n3",
        "  hub3{\"hub\"}",
        "  n1 -. \"mirror m1: r1:eth2 -> mon:eth1 (both)\" .-> n0",
        "  subgraph legend[\"legend\"]",
    ] {
        assert!(
            mermaid.contains(expected),
            "missing {expected:?} in:\n{mermaid}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

// ------------------------------------------------------------------------------------------
// Review of issue 18, 5: a lab brought up from standard input.

#[test]
fn show_labs_says_a_lab_came_from_standard_input() {
    use std::io::Write;
    let lab = Lab::new(
        "c",
        "name: LAB\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    \
         - endpoints: [\"a:e1\", \"b:e1\"]\n",
    );
    let mut up = Command::new(common::bin())
        .args(["up", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    up.stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&lab.path).unwrap())
        .unwrap();
    assert!(up.wait().unwrap().success());
    let labs = patchwire(&["-j", "show", "--labs"]).json();
    let found = labs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == lab.name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {labs}"));
    assert_eq!(
        found,
        serde_json::json!({
            "lab": lab.name, "host": null, "panel": lab.panel(), "file": null,
            "nodes": ["a", "b"], "links": 1, "health": "ok", "orphaned": null,
            "from_stdin": true, "remove": format!("patchwire down --name {}", lab.name),
        })
    );
    let text = patchwire(&["show", "--labs"]).ok().stdout.clone();
    let at = text.find(&format!("{} ", lab.name)).unwrap();
    let mut lines = text[at..].lines();
    assert_eq!(
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        format!("{} 2 1 ok <stdin>", lab.name)
    );
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "    brought up from standard input: take it down with patchwire down --name {}",
            lab.name
        )
    );
    // Its own entry only: other labs on the machine (another test's) may be orphaned.
    let own: Vec<&str> = text[at..]
        .lines()
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with(' '))
        .map(|(_, l)| l)
        .collect();
    assert!(
        !own.iter().any(|l| l.contains("orphaned: no file recorded")),
        "{text}"
    );
    patchwire(&["down", "--name", &lab.name]).ok();
}

// ------------------------------------------------------------------------------------------
// Review of issue 18, 6: show --labs counts netns: nodes.

#[test]
fn show_labs_counts_netns_nodes_as_existing_namespaces() {
    let mut lab = Lab::new("c", "");
    let ext = lab.own_netns("n");
    lab.write(&format!(
        "name: LAB\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n    r3: {{}}\n    ext: \
         {{netns: {ext}}}\n    vm1: {{kind: vm}}\n  links:\n    - endpoints: [\"r1:eth1\", \
         \"r2:eth1\"]\n    - endpoints: [\"r1:eth2\", \"r2:eth2\", \"r3:eth2\"]\n    - endpoints: \
         [\"r3:eth1\", \"ext:eth9\"]\n    - endpoints: [\"vm1:tap1\", \"r2:eth3\"]\n"
    ));
    lab.pw(&["up"]).ok();
    let labs = patchwire(&["-j", "show", "--labs"]).json();
    let found = labs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == lab.name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {labs}"));
    assert_eq!(
        found["nodes"],
        serde_json::json!(["ext", "r1", "r2", "r3", "vm1"])
    );
    assert_eq!(found["existing"], serde_json::json!(["ext"]));
    let text = patchwire(&["show", "--labs"]).ok().stdout.clone();
    let at = text.find(&format!("{} ", lab.name)).unwrap();
    let mut lines = text[at..].lines();
    let first: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(first[..3], [lab.name.as_str(), "5", "4"], "{text}");
    assert_eq!(
        lines.next().unwrap(),
        "    existing namespaces (netns: nodes): ext"
    );
}
