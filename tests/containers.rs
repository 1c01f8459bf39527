//! Container nodes through real runtimes: the same topology tests run against podman and
//! docker, each driven by patchwire through the runtime's own CLI.
//!
//! Nothing is pulled: a busybox image is built once per test run (busybox-static in a root
//! filesystem, imported with the tag the labs use). Each test has a runtime of its own:
//! - podman: containers.conf and storage.conf of the test's (CONTAINERS_CONF,
//!   CONTAINERS_STORAGE_CONF: runc, ulimits this machine's hard limits allow, storage under
//!   the test's directory), run inside a test network namespace so the management network's
//!   bridge is made there;
//! - docker: a dockerd of the test's own in a test network namespace (data root, exec root,
//!   socket and pidfile under the test's directory; no iptables, no default bridge), stopped
//!   by the guard.
//!
//! The runtime's environment is set by a wrapper script handed to patchwire as the runtime's
//! program (`lab::Options::program`), as a user's own configuration would be.
//!
//! scripts/kernels does not run this binary in a guest: the kernel side (veths, namespaces,
//! wires) is what the lab tests cover; containers add only the runtime.

mod common;
use common::containers::*;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patchwire::lab::{self, Options, file};
use patchwire::runtime::{self, Choice, ContainerSpec, Kind, NetworkSpec};

// ---- The topology tests, each run against both runtimes.

/// Two containers with env, a bind, a command, a static management address and `exec:`
/// commands; wired; then a link added (nothing restarts), a node changed (only it is made
/// again, and rewired); then `down` leaves nothing.
fn containers_converge_in_place(rt: &Rt) {
    let lab = rt.lab_name("c");
    let host_dir = rt.work.join("bind");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("hello"), "hello from the host\n").unwrap();
    let n = rt.n;
    let mut a = spec(&lab, "a");
    a.env.insert("FOO".into(), "bar".into());
    a.binds = vec![format!("{}:/data:ro", host_dir.display())];
    a.mgmt_ipv4 = Some(format!("198.18.{n}.10").parse().unwrap());
    let a_exec = vec![
        format!("ip addr add 198.18.{}.1/24 dev eth1", n + 1),
        "sh -c \"echo FOO=$FOO; cat /data/hello; tr '\\0' ' ' < /proc/1/cmdline\"".to_string(),
    ];
    let b = spec(&lab, "b");
    let b_exec = vec![
        format!("ip addr add 198.18.{}.2/24 dev eth1", n + 1),
        "sh -c 'echo about to fail; exit 3'".to_string(),
    ];
    let links = [("a:eth1", "b:eth1")];
    let file = lab_file(
        rt,
        &lab,
        &links,
        vec![
            ("a", a.clone(), a_exec.clone()),
            ("b", b.clone(), b_exec.clone()),
        ],
    );
    let network = file.mgmt.as_ref().unwrap().name.clone();
    let (ca, cb) = (a.name.clone(), b.name.clone());

    let plan = lab::plan_with(&file, None, &rt.options()).unwrap();
    assert_eq!(
        change_names(&plan.changes)[..3],
        [
            "create-network".to_string(),
            "create-container a".into(),
            "create-container b".into()
        ]
    );
    let up = lab::up_with(&file, None, &rt.options()).unwrap();
    assert_eq!(change_names(&up.changes), change_names(&plan.changes));
    // exec: per node, in order, with output; the failing one named with its exit status.
    let shown: Vec<(String, String, i32, String)> = up
        .exec
        .iter()
        .map(|e| (e.node.clone(), e.command.clone(), e.exit, e.stdout.clone()))
        .collect();
    assert_eq!(
        shown,
        [
            ("a".into(), a_exec[0].clone(), 0, String::new()),
            (
                "a".into(),
                a_exec[1].clone(),
                0,
                "FOO=bar\nhello from the host\nsleep 100000 ".into()
            ),
            ("b".into(), b_exec[0].clone(), 0, String::new()),
            ("b".into(), b_exec[1].clone(), 3, "about to fail\n".into()),
        ]
    );
    let failures: Vec<String> = up.exec.iter().filter_map(|e| e.failure()).collect();
    assert_eq!(
        failures,
        ["node b: exec `sh -c 'echo about to fail; exit 3'` exited with status 3"]
    );
    // The management address, as the file set it, inside and as the runtime reports it.
    assert!(
        rt.sh(&ca, "ip -4 -o addr show eth0")
            .contains(&format!("inet 198.18.{n}.10/24")),
    );
    assert_eq!(
        rt.runtime().inspect(&ca).unwrap().unwrap().addresses[&network].0,
        Some(format!("198.18.{n}.10"))
    );
    // Labels: the record.
    let labels = rt.runtime().inspect(&ca).unwrap().unwrap().labels;
    assert_eq!(labels["patchwire.lab"], lab);
    assert_eq!(labels["patchwire.node"], "a");
    assert_eq!(labels["patchwire.spec"], runtime::spec_hash(&a));
    assert!(registered_as_running(rt, &ca) && registered_as_running(rt, &cb));
    assert!(ping(rt, &ca, &format!("198.18.{}.2", n + 1)));
    // Converged: nothing to do, and exec does not run again.
    let again = lab::up_with(&file, None, &rt.options()).unwrap();
    assert_eq!(change_names(&again.changes), Vec::<String>::new());
    assert!(again.exec.is_empty());

    // A link added: both containers keep running as they were.
    let before = (rt.started(&ca), rt.started(&cb));
    let wider = lab_file(
        rt,
        &lab,
        &[("a:eth1", "b:eth1"), ("a:eth2", "b:eth2")],
        vec![
            ("a", a.clone(), a_exec.clone()),
            ("b", b.clone(), b_exec.clone()),
        ],
    );
    let up = lab::up_with(&wider, None, &rt.options()).unwrap();
    assert!(
        change_names(&up.changes)
            .iter()
            .all(|c| !c.contains("container")),
        "{:?}",
        change_names(&up.changes)
    );
    assert_eq!((rt.started(&ca), rt.started(&cb)), before);
    assert!(rt.sh(&cb, "ip -o link show eth2").contains("eth2"));

    // b changed: b alone is made again, rewired, its exec run again.
    let mut b2 = b.clone();
    b2.env.insert("CHANGED".into(), "1".into());
    let changed = lab_file(
        rt,
        &lab,
        &[("a:eth1", "b:eth1"), ("a:eth2", "b:eth2")],
        vec![("a", a.clone(), a_exec.clone()), ("b", b2, b_exec.clone())],
    );
    let plan = lab::plan_with(&changed, None, &rt.options()).unwrap();
    let recreate = serde_json::to_value(&plan.changes[0]).unwrap();
    assert_eq!(
        recreate,
        serde_json::json!({"change": "recreate-container", "node": "b", "container": cb,
                           "why": "its definition in the file changed"})
    );
    let up = lab::up_with(&changed, None, &rt.options()).unwrap();
    assert_eq!(rt.started(&ca), before.0);
    assert_ne!(rt.started(&cb).0, before.1.0);
    assert_eq!(
        up.exec.iter().map(|e| e.node.as_str()).collect::<Vec<_>>(),
        ["b", "b"]
    );
    assert!(registered_as_running(rt, &cb));
    assert!(ping(rt, &ca, &format!("198.18.{}.2", n + 1)));
    assert_eq!(
        change_names(
            &lab::plan_with(&changed, None, &rt.options())
                .unwrap()
                .changes
        ),
        Vec::<String>::new()
    );

    // down: containers, network, registrations, panel; nothing else.
    let down = lab::down_with(&changed, None, &rt.options()).unwrap();
    assert_eq!(down.containers_removed, [ca.clone(), cb.clone()]);
    assert_eq!(down.networks_removed, vec![network.clone()]);
    assert_eq!(down.registrations_removed, [ca, cb]);
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    let twice = lab::down_with(&changed, None, &rt.options()).unwrap();
    assert!(twice.containers_removed.is_empty() && twice.namespaces_removed.is_empty());
}

/// An ext-container (started by the runtime alone) wired to a container node: frames pass;
/// stopped or restarted by its owner, show says so and `up` wires it again; `down` removes
/// its registration and leaves it running. A missing one is refused up front.
fn ext_container_is_wired_and_left_running(rt: &Rt) {
    let lab = rt.lab_name("e");
    let ext = format!("pwt-ext{}", rt.n);
    let n = rt.n;
    let c = spec(&lab, "c");
    let mut file = lab_file(
        rt,
        &lab,
        &[("c:eth1", "x:eth1")],
        vec![
            (
                "c",
                c.clone(),
                vec![format!("ip addr add 198.18.{}.1/24 dev eth1", n + 2)],
            ),
            ("x", spec(&lab, "x"), vec![]),
        ],
    );
    file.nodes.get_mut("x").unwrap().kind = file::NodeKind::ExtContainer(file::ExtContainerNode {
        container: ext.clone(),
        exec: vec![format!("ip addr add 198.18.{}.2/24 dev eth1", n + 2)],
    });
    let network = file.mgmt.as_ref().unwrap().name.clone();

    let missing = lab::up_with(&file, None, &rt.options()).unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            "test.clab.yml: node x: ext-container {ext}: {} has no container of that name (an \
             ext-container is started by something else, then wired by patchwire, which never \
             starts or stops it)",
            rt.kind
        )
    );
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());

    rt.ok(&[
        "run",
        "-d",
        "--name",
        &ext,
        "--network",
        "none",
        "--cap-add",
        "NET_ADMIN",
        IMAGE,
        "sleep",
        "100000",
    ]);
    let up = lab::up_with(&file, None, &rt.options()).unwrap();
    assert_eq!(
        change_names(&up.changes)[..3],
        [
            "create-network".to_string(),
            "create-container c".into(),
            "register-netns x".into()
        ]
    );
    assert!(ping(rt, &c.name, &format!("198.18.{}.2", n + 2)));
    let (views, stale) = lab::show_with(&file, None, &rt.options()).unwrap();
    assert_eq!((views[0].health.as_str(), stale), ("ok", vec![]));
    // Stopped by its owner: show says so, and that patchwire does not start it; started
    // again it runs in a new namespace, away from its links, until `up` wires them again.
    rt.ok(&["stop", "-t", "0", &ext]);
    let up_again = format!("patchwire up test.clab.yml -r {}", rt.kind);
    let (views, stale) = lab::show_with(&file, None, &rt.options()).unwrap();
    let stopped = format!(
        "node x: ext-container {ext} is stopped: start it ({} start {ext}), then {up_again}",
        rt.kind
    );
    assert_eq!(
        stale,
        vec![lab::StaleNode {
            node: "x".into(),
            container: ext.clone(),
            state: "stopped".into(),
            problem: stopped.clone(),
        }]
    );
    assert_eq!(
        (views[0].health.as_str(), views[0].problems.clone()),
        ("broken", vec![stopped])
    );
    rt.ok(&["start", &ext]);
    let (_, stale) = lab::show_with(&file, None, &rt.options()).unwrap();
    assert_eq!(
        stale.iter().map(|s| s.problem.as_str()).collect::<Vec<_>>(),
        [format!(
            "node x: ext-container {ext} was restarted, and its links are still in its old \
             namespace: {up_again} wires them again"
        )]
    );
    lab::up_with(&file, None, &rt.options()).unwrap();
    let (views, stale) = lab::show_with(&file, None, &rt.options()).unwrap();
    assert_eq!((views[0].health.as_str(), stale), ("ok", vec![]));
    assert!(ping(rt, &c.name, &format!("198.18.{}.2", n + 2)));
    let ext_started = rt.started(&ext);
    let down = lab::down_with(&file, None, &rt.options()).unwrap();
    assert_eq!(down.containers_removed, vec![c.name.clone()]);
    assert!(down.registrations_removed.contains(&ext));
    assert_eq!(rt.started(&ext), ext_started, "the ext-container runs on");
    assert!(!Path::new(&format!("/run/netns/{ext}")).exists());
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    // Its interface went with the lab's port.
    assert!(!rt.sh(&ext, "ip -o link").contains("eth1"));
}

/// An `up` killed once a first container was made, and one killed in the plumbing, converge
/// on the next `up`: the containers it made keep running, the rest is made, links pass frames,
/// and every node's `exec:` has run once.
fn killed_up_converges(rt: &Rt) {
    let lab = rt.lab_name("k");
    let n = rt.n;
    let specs: Vec<(&str, ContainerSpec, Vec<String>)> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, node)| (*node, spec(&lab, node), killed_lab_exec(n, i)))
        .collect();
    let links = [("a:eth1", "b:eth1")];
    let file = lab_file(rt, &lab, &links, specs.clone());
    let network = file.mgmt.as_ref().unwrap().name.clone();
    for point in ["20", "1"] {
        // The up to kill runs in a child: this test binary, running only `killed_up_child`.
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "killed_up_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                "PWT_CHILD_LAB",
                serde_json::to_string(&ChildJob::of(rt, &lab)).unwrap(),
            )
            .env("PATCHWIRE_LAB_KILL_AT", point)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let group = child.id() as i32;
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the child's up was to be killed at {point}"
        );
        // The runtime calls the killed `up` had under way finish on their own (they are in
        // its process group): wait for them, bounded.
        let deadline = Instant::now() + patience(Duration::from_secs(60));
        // SAFETY: kill(2) with signal 0 only asks whether the group still has processes.
        while unsafe { libc::kill(-group, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let made: Vec<(String, (u32, String))> = specs
            .iter()
            .filter(|(_, s, _)| {
                rt.runtime()
                    .inspect(&s.name)
                    .unwrap()
                    .is_some_and(|c| c.running)
            })
            .map(|(_, s, _)| (s.name.clone(), rt.started(&s.name)))
            .collect();
        assert!(!made.is_empty(), "killed at {point}: nothing made");
        let up = lab::up_with(&file, None, &rt.options()).unwrap();
        for (name, started) in &made {
            assert_eq!(&rt.started(name), started, "{name} kept running");
        }
        assert!(ping(rt, &specs[0].1.name, &format!("198.18.{}.2", n + 3)));
        assert_eq!(
            change_names(&lab::plan_with(&file, None, &rt.options()).unwrap().changes),
            Vec::<String>::new()
        );
        // Every node's exec has run exactly once over the two runs: its address is there once.
        for (i, (_, s, _)) in specs.iter().enumerate() {
            let addresses = rt.sh(&s.name, "ip -4 -o addr show dev eth1 2>/dev/null; true");
            let mine = format!("198.18.{}.{}/24", n + 3, i + 1);
            if i < 2 {
                assert_eq!(
                    addresses.matches(&mine).count(),
                    1,
                    "{}: {addresses}",
                    s.name
                );
            }
        }
        assert!(up.exec.iter().all(|e| e.exit == 0), "{:?}", up.exec);
        lab::down_with(&file, None, &rt.options()).unwrap();
        assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    }
}

/// The `exec:` of node `i` of the killed lab: a and b (linked) get an address, c (no link)
/// nothing to run.
fn killed_lab_exec(n: u32, i: usize) -> Vec<String> {
    match i {
        0 | 1 => vec![format!(
            "ip addr add 198.18.{}.{}/24 dev eth1",
            n + 3,
            i + 1
        )],
        _ => vec![],
    }
}

/// What the child of `killed_up_converges` needs to run its `up`.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildJob {
    kind: String,
    wrapper: PathBuf,
    lab: String,
    n: u32,
}

impl ChildJob {
    fn of(rt: &Rt, lab: &str) -> ChildJob {
        ChildJob {
            kind: rt.kind.name().into(),
            wrapper: rt.wrapper.clone(),
            lab: lab.into(),
            n: rt.n,
        }
    }
}

/// Not a test on its own: the `up` that `killed_up_converges` kills, run in a child process
/// when PWT_CHILD_LAB says what to bring up (does nothing otherwise).
#[test]
fn killed_up_child() {
    let Ok(job) = std::env::var("PWT_CHILD_LAB") else {
        return;
    };
    let job: ChildJob = serde_json::from_str(&job).unwrap();
    let kind = match job.kind.as_str() {
        "podman" => Kind::Podman,
        _ => Kind::Docker,
    };
    let n = job.n;
    let mut file = file::parse(
        "test.clab.yml",
        &format!(
            "name: {}\ntopology:\n  nodes:\n    a: {{}}\n    b: {{}}\n    c: {{}}\n  links:\n    \
             - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
            job.lab
        ),
    )
    .unwrap();
    for (i, node) in ["a", "b", "c"].iter().enumerate() {
        file.nodes.get_mut(*node).unwrap().kind =
            file::NodeKind::Container(Box::new(file::ContainerNode {
                spec: spec(&job.lab, node),
                exec: killed_lab_exec(n, i),
            }));
    }
    file.mgmt = Some(NetworkSpec {
        name: format!("pwt-net{n}-1"),
        ipv4_subnet: Some(format!("198.18.{n}.0/24")),
        ipv6_subnet: None,
        bridge: None,
        mtu: None,
    });
    let options = Options {
        runtime: Choice::Only(kind),
        program: Some(job.wrapper),
    };
    lab::up_with(&file, None, &options).unwrap();
}

#[test]
fn podman_containers_converge_in_place() {
    containers_converge_in_place(&Rt::new(Kind::Podman));
}

#[test]
fn docker_containers_converge_in_place() {
    containers_converge_in_place(&Rt::new(Kind::Docker));
}

#[test]
fn podman_ext_container_is_wired_and_left_running() {
    ext_container_is_wired_and_left_running(&Rt::new(Kind::Podman));
}

#[test]
fn docker_ext_container_is_wired_and_left_running() {
    ext_container_is_wired_and_left_running(&Rt::new(Kind::Docker));
}

#[test]
fn podman_killed_up_converges() {
    killed_up_converges(&Rt::new(Kind::Podman));
}

#[test]
fn docker_killed_up_converges() {
    killed_up_converges(&Rt::new(Kind::Docker));
}

/// No runtime at all: the error names what was tried.
#[test]
fn no_runtime_is_a_clear_error() {
    let lab = format!("cnone{}", std::process::id() % 10000);
    let mut file = file::parse(
        "test.clab.yml",
        &format!("name: {lab}\ntopology:\n  nodes:\n    a: {{}}\n"),
    )
    .unwrap();
    file.nodes.get_mut("a").unwrap().kind =
        file::NodeKind::Container(Box::new(file::ContainerNode {
            spec: spec(&lab, "a"),
            exec: vec![],
        }));
    let options = Options {
        runtime: Choice::Only(Kind::Podman),
        program: Some(PathBuf::from("/nonexistent/podman")),
    };
    let e = lab::plan_with(&file, None, &options).unwrap_err();
    assert_eq!(
        e.to_string(),
        "podman: asking whether it answers: running /nonexistent/podman: No such file or \
         directory (os error 2)"
    );
}

/// `netns::register`: a name for a process's namespace; the same namespace again changes
/// nothing; another process's (a container restarted) replaces it; `delete_named` removes it.
#[test]
fn a_stale_registration_is_replaced() {
    require_root();
    let spawn = || {
        Command::new("unshare")
            .args(["--net", "sleep", "30"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut first, mut second) = (spawn(), spawn());
    let name = format!("pwt-reg-{}", std::process::id());
    let key = |path: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map(|m| (m.dev(), m.ino())).ok()
    };
    // unshare has entered its namespace once /proc/PID/ns/net differs from ours.
    let deadline = Instant::now() + patience(Duration::from_secs(10));
    for child in [&first, &second] {
        while key(&format!("/proc/{}/ns/net", child.id())) == key("/proc/self/ns/net") {
            assert!(Instant::now() < deadline, "unshare did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let registered = format!("/run/netns/{name}");
    struct Unregister(String);
    impl Drop for Unregister {
        fn drop(&mut self) {
            let _ = patchwire::netns::delete_named(&self.0);
        }
    }
    let _guard = Unregister(name.clone());
    assert!(patchwire::netns::register(&name, first.id()).unwrap());
    assert_eq!(
        key(&registered),
        key(&format!("/proc/{}/ns/net", first.id()))
    );
    assert!(!patchwire::netns::register(&name, first.id()).unwrap());
    assert!(patchwire::netns::register(&name, second.id()).unwrap());
    assert_eq!(
        key(&registered),
        key(&format!("/proc/{}/ns/net", second.id()))
    );
    assert_ne!(
        key(&registered),
        key(&format!("/proc/{}/ns/net", first.id()))
    );
    patchwire::netns::delete_named(&name).unwrap();
    assert!(!Path::new(&registered).exists());
    let e = patchwire::netns::register("a/b", first.id()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "creating netns a/b (/run/netns/a/b): a namespace name is a file name under /run/netns \
         (no '/', not . or ..)"
    );
    for child in [&mut first, &mut second] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The CLI on a containerlab file as written: `up -r RUNTIME` runs the containers, wires them,
/// shows each `exec:` with its output and fails (status 3) naming the command that failed,
/// after everything else is done; `plan` then finds nothing to do; `down` leaves nothing.
fn cli_runs_a_containerlab_file(rt: &Rt) {
    let lab = rt.lab_name("f");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n  \
         ipv6-subnet: fd00:0:{n}::/64\ntopology:\n  defaults:\n    kind: linux\n    image: \
         {IMAGE}\n    cmd: sleep 100000\n  nodes:\n    a:\n      exec:\n        - ip addr add \
         198.18.{}.1/24 dev eth1\n    b:\n      exec:\n        - ip addr add 198.18.{}.2/24 \
         dev eth1\n        - sh -c 'echo about to fail; exit 3'\n  links:\n    - endpoints: [\"a:eth1\", \
         \"b:eth1\"]\n",
        n + 1,
        n + 1
    );
    let path = rt.work.join("lab.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let program = match rt.kind {
        Kind::Podman => "PATCHWIRE_PODMAN",
        Kind::Docker => "PATCHWIRE_DOCKER",
    };
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_patchwire"))
            .args(args)
            .args(["-r", rt.kind.name(), path])
            .env(program, &rt.wrapper)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let up = cli(&["up"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr),
    );
    assert_eq!(up.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "+ network {network} ({})\n+ container clab-{lab}-a (node a, image {IMAGE})\n\
             + container clab-{lab}-b (node b, image {IMAGE})\n",
            rt.kind
        )),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!(
            "exec a: ip addr add 198.18.{0}.1/24 dev eth1\nexec b: ip addr add 198.18.{0}.2/24 \
             dev eth1\nexec b: sh -c 'echo about to fail; exit 3' (exit status 3)\n  b| about to fail\n",
            n + 1
        )),
        "{stdout}"
    );
    assert!(
        stderr.ends_with(
            "patchwire: node b: exec `sh -c 'echo about to fail; exit 3'` exited with status 3\n"
        ),
        "{stderr}"
    );
    assert!(ping(
        rt,
        &format!("clab-{lab}-a"),
        &format!("198.18.{}.2", n + 1)
    ));
    let plan = cli(&["plan"]);
    assert_eq!(
        String::from_utf8_lossy(&plan.stdout),
        format!("lab {lab}: the kernel matches the file\n")
    );
    let down = cli(&["down"]);
    let stdout = String::from_utf8_lossy(&down.stdout);
    assert!(down.status.success(), "{stdout}");
    for line in [
        format!("removed container clab-{lab}-a\n"),
        format!("removed container clab-{lab}-b\n"),
        format!("removed netns clab-{lab}-a (a container's namespace, registered by up)\n"),
        format!("removed network {network} (the lab had made it)\n"),
    ] {
        assert!(stdout.contains(&line), "{line} in {stdout}");
    }
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_cli_runs_a_containerlab_file() {
    cli_runs_a_containerlab_file(&Rt::new(Kind::Podman));
}

#[test]
fn docker_cli_runs_a_containerlab_file() {
    cli_runs_a_containerlab_file(&Rt::new(Kind::Docker));
}

/// `show --lab` and `show --labs` name a container node whose container was stopped, removed
/// or restarted (the kernel still holds its links: the registration keeps the old namespace),
/// show its links broken, and give the command that brings it back; `up` does, and show is
/// clean again. A lab taken down has nothing stale.
fn show_names_stale_containers(rt: &Rt) {
    let lab = rt.lab_name("s");
    let n = rt.n;
    let network = format!("pwt-net{n}-3");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{}.0/24\ntopology:\n  \
         defaults:\n    kind: linux\n    image: {IMAGE}\n    cmd: sleep 100000\n  nodes:\n    \
         a: {{}}\n    b: {{}}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
        n + 2
    );
    let path = rt.work.join("stale.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let program = match rt.kind {
        Kind::Podman => "PATCHWIRE_PODMAN",
        Kind::Docker => "PATCHWIRE_DOCKER",
    };
    // `-r RUNTIME` when `named`, else the runtime is found (show --labs: the one holding the
    // lab's containers; PATCHWIRE_DOCKER/PODMAN point at the test's).
    let cli = |args: &[&str], named: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchwire"));
        cmd.args(args);
        if named {
            cmd.args(["-r", rt.kind.name()]);
        }
        let out = cmd
            .env(program, &rt.wrapper)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}{stderr}");
        stdout
    };
    // Our lab's lines of `show --labs` (other labs may be up on the host).
    let ours = |labs: String| -> String {
        let mut lines = labs
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{lab} ")));
        let mut block = format!("{}\n", lines.next().unwrap_or_else(|| panic!("{labs}")));
        for line in lines.take_while(|l| l.starts_with("    ")) {
            block.push_str(line);
            block.push('\n');
        }
        block
    };
    let kind = rt.kind.name();
    let row = |health: &str| format!("{:<44}  {:<16}  {health}\n", "a:eth1 b:eth1", "wire");
    let clean = |why: &str| {
        let shown = cli(&["show", "--lab", path], true);
        assert_eq!(
            shown,
            format!("{:<44}  {:<16}  HEALTH\n{}", "LINK", "KIND", row("ok")),
            "{why}"
        );
        let labs = ours(cli(&["show", "--labs"], true));
        assert!(
            !labs.contains('!') && labs.contains(" ok "),
            "{why}: {labs}"
        );
    };
    cli(&["up", path], true);
    clean("after up");

    let a = format!("clab-{lab}-a");
    let b = format!("clab-{lab}-b");
    let up = format!("patchwire up {path} -r {kind}");
    // Stopped: the link ends are still in the kernel, in the namespace the registration holds.
    rt.ok(&["stop", "-t", "0", &a]);
    let stopped = format!("node a: container {a} is stopped: {up} starts it again");
    let shown = cli(&["show", "--lab", path], true);
    assert_eq!(
        shown,
        format!(
            "{:<44}  {:<16}  HEALTH\n{}    ! {stopped}\n! {stopped}\n",
            "LINK",
            "KIND",
            row("broken")
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli(&["-j", "show", "--lab", path], true)).unwrap();
    assert_eq!(json[0]["health"], "broken", "{json}");
    assert_eq!(json[0]["problems"], serde_json::json!([stopped]), "{json}");
    assert_eq!(
        json[0]["stale"],
        serde_json::json!([{"node": "a", "container": a, "state": "stopped", "problem": stopped}]),
        "{json}"
    );
    let labs = ours(cli(&["show", "--labs"], true));
    assert!(labs.ends_with(&format!("    ! {stopped}\n")), "{labs}");
    assert!(labs.lines().next().unwrap().contains(" broken "), "{labs}");
    // Without -r, show --labs finds the runtime holding the lab's containers (docker first:
    // when a docker answers that does not hold them, the command names podman).
    let labs = ours(cli(&["show", "--labs"], false));
    let found = [
        format!("    ! node a: container {a} is stopped: patchwire up {path} starts it again\n"),
        format!("    ! {stopped}\n"),
    ];
    assert!(
        labs.contains(&found[0]) || (rt.kind == Kind::Podman && labs.contains(&found[1])),
        "{labs}"
    );
    // graph colours it as show does (the runtime holding the lab's containers is asked).
    let graph = cli(&["graph", path], false);
    assert!(graph.contains("color=red, fontcolor=red"), "{graph}");
    let json: serde_json::Value =
        serde_json::from_str(&cli(&["-j", "show", "--labs"], true)).unwrap();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == lab.as_str())
        .unwrap();
    assert_eq!(entry["stale"][0]["state"], "stopped", "{json}");
    assert_eq!(entry["health"], "broken", "{json}");
    cli(&["up", path], true);
    assert!(registered_as_running(rt, &a));
    clean("after up started a again");
    let graph = cli(&["graph", path], false);
    assert!(!graph.contains("color=red, fontcolor=red"), "{graph}");

    // Removed: up makes it again.
    rt.ok(&["rm", "-f", &b]);
    let gone = format!("node b: container {b} is gone: {up} makes it again");
    let shown = cli(&["show", "--lab", path], true);
    assert_eq!(
        shown,
        format!(
            "{:<44}  {:<16}  HEALTH\n{}    ! {gone}\n! {gone}\n",
            "LINK",
            "KIND",
            row("broken")
        )
    );
    let labs = ours(cli(&["show", "--labs"], true));
    assert!(labs.ends_with(&format!("    ! {gone}\n")), "{labs}");
    cli(&["up", path], true);
    assert!(registered_as_running(rt, &b));
    clean("after up made b again");

    // Restarted: a new namespace, the registration (and the links) in the old one.
    rt.ok(&["restart", "-t", "0", &a]);
    let restarted = format!(
        "node a: container {a} was restarted, and its links are still in its old namespace: \
         {up} wires them again"
    );
    let shown = cli(&["show", "--lab", path], true);
    assert!(shown.contains(&format!("\n! {restarted}\n")), "{shown}");
    assert!(shown.contains(&row("broken")), "{shown}");
    cli(&["up", path], true);
    assert!(registered_as_running(rt, &a));
    clean("after up wired a again");

    // A lab that is down has nothing stale, and its nodes are not taken for `netns:` nodes
    // whose namespace was deleted: its links are missing, up makes them.
    cli(&["down", path], true);
    let shown = cli(&["show", "--lab", path], true);
    assert_eq!(
        shown,
        format!(
            "{:<44}  {:<16}  HEALTH\n{}    ! not wired (run patchwire up {path})\n",
            "LINK",
            "KIND",
            row("missing")
        )
    );
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_show_names_stale_containers() {
    show_names_stale_containers(&Rt::new(Kind::Podman));
}

#[test]
fn docker_show_names_stale_containers() {
    show_names_stale_containers(&Rt::new(Kind::Docker));
}

/// A lab of containers and no links: `show --labs` counts its nodes by their registrations
/// (there are no ports to find them by), and a stopped one makes the lab degraded (no link
/// shows it broken).
fn show_labs_counts_container_nodes_without_links(rt: &Rt) {
    let lab = rt.lab_name("n");
    let n = rt.n;
    let network = format!("pwt-net{n}-1");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{}.0/24\ntopology:\n  \
         defaults:\n    kind: linux\n    image: {IMAGE}\n    cmd: sleep 100000\n  nodes:\n    \
         a: {{}}\n    b: {{}}\n",
        n + 1
    );
    let path = rt.work.join("nolinks.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let ours = || -> serde_json::Value {
        let (code, stdout, stderr) = rt.patchwire(&["-j", "show", "--labs"]);
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        let labs: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        labs.as_array()
            .unwrap()
            .iter()
            .find(|l| l["lab"] == lab.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{lab} not in {labs}"))
    };
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let entry = ours();
    assert_eq!(
        (&entry["nodes"], &entry["links"], &entry["health"]),
        (
            &serde_json::json!(["a", "b"]),
            &serde_json::json!(0),
            &serde_json::json!("empty")
        ),
        "{entry}"
    );
    let a = format!("clab-{lab}-a");
    rt.ok(&["stop", "-t", "0", &a]);
    let entry = ours();
    assert_eq!(entry["health"], "degraded", "{entry}");
    assert_eq!(entry["stale"][0]["node"], "a", "{entry}");
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_show_labs_counts_container_nodes_without_links() {
    show_labs_counts_container_nodes_without_links(&Rt::new(Kind::Podman));
}

#[test]
fn docker_show_labs_counts_container_nodes_without_links() {
    show_labs_counts_container_nodes_without_links(&Rt::new(Kind::Docker));
}

/// A container node removed with its links, another made again with one of its links gone:
/// `plan -j` lists what `up -j` then reports, change for change, every wire named by its
/// endpoints (`NODE:IF`), none by a panel port's name. A kept node with `exec:` that gains
/// an interface is noted: its commands ran when it started and do not run again for it.
fn plan_is_what_up_does_when_nodes_go(rt: &Rt) {
    let lab = rt.lab_name("p");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = |nodes: &str, links: &[(&str, &str)]| {
        let mut text = format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n\
             topology:\n  defaults:\n    kind: linux\n    image: {IMAGE}\n    cmd: sleep \
             100000\n  nodes:\n    r1:\n      exec:\n        - ip link set lo up\n{nodes}  \
             links:\n"
        );
        for (a, b) in links {
            text.push_str(&format!("    - endpoints: [\"{a}\", \"{b}\"]\n"));
        }
        text
    };
    let path = rt.work.join("gone.clab.yml");
    let path_text = path.to_str().unwrap().to_string();
    std::fs::write(
        &path,
        text(
            "    r2: {}\n    r3: {}\n",
            &[
                ("r1:eth1", "r2:eth1"),
                ("r1:eth2", "r3:eth1"),
                ("r2:eth2", "r3:eth2"),
            ],
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["up", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // r3 goes with its links; r2 is made again (its env changed) and loses its link to r1;
    // r1 keeps running and gains eth3.
    std::fs::write(
        &path,
        text(
            "    r2: {env: {X: \"1\"}}\n",
            &[("r1:eth3", "r2:eth3"), ("r2:eth4", "r1:eth4")],
        ),
    )
    .unwrap();
    let (code, plan, plan_notes) = rt.patchwire(&["-j", "plan", &path_text]);
    assert_eq!(code, Some(0), "{plan}{plan_notes}");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let (code, up, up_notes) = rt.patchwire(&["-j", "up", &path_text]);
    assert_eq!(code, Some(0), "{up}{up_notes}");
    let up: serde_json::Value = serde_json::from_str(&up).unwrap();
    assert_eq!(plan, up["changes"], "plan -j, then up -j");
    let unwires: Vec<&serde_json::Value> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "unwire")
        .collect();
    let mut ends: Vec<String> = unwires
        .iter()
        .map(|c| format!("{} {}", c["endpoints"][0], c["endpoints"][1]))
        .collect();
    ends.sort();
    assert_eq!(
        ends,
        [
            "\"r1:eth1\" \"r2:eth1\"",
            "\"r1:eth2\" \"r3:eth1\"",
            "\"r2:eth2\" \"r3:eth2\""
        ],
        "{plan}"
    );
    let note = format!(
        "node r1 keeps running: its exec: commands ran when its container started and are not \
         run again for eth3, eth4 (to run them with every interface there: {} stop \
         clab-{lab}-r1, then patchwire up {path_text} starts it again and runs them)",
        rt.kind
    );
    assert!(
        up["notes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::Value::String(note.clone())),
        "{up}"
    );
    assert!(
        plan_notes.contains(&format!("note: {note}\n")),
        "{plan_notes}"
    );
    let (code, again, stderr) = rt.patchwire(&["plan", &path_text]);
    assert_eq!(code, Some(0), "{again}{stderr}");
    assert_eq!(again, format!("lab {lab}: the kernel matches the file\n"));
    assert!(!stderr.contains("keeps running"), "{stderr}");
    let (code, stdout, stderr) = rt.patchwire(&["down", &path_text]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

#[test]
fn podman_plan_is_what_up_does_when_nodes_go() {
    plan_is_what_up_does_when_nodes_go(&Rt::new(Kind::Podman));
}
