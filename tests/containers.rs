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
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use patchwire::lab::{self, Options, file};
use patchwire::runtime::{self, Choice, ContainerSpec, Kind, NetworkSpec};
use patchwire_testkit::containers;

const IMAGE: &str = "localhost/pw-busybox:test";

/// The image's root filesystem as a tar file, made once per test run.
fn image_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("containers-image");
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = dir.join("rootfs");
        for sub in ["bin", "etc", "proc", "sys", "dev", "tmp", "run", "data"] {
            std::fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .expect("/bin/busybox: install busybox-static");
        let list = run("/bin/busybox", &["--list"]);
        for applet in list.lines().filter(|a| *a != "busybox" && !a.is_empty()) {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let tar = dir.join("rootfs.tar");
        run(
            "tar",
            &[
                "-C",
                rootfs.to_str().unwrap(),
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ],
        );
        tar
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A runtime of the test's own, and the wrapper patchwire calls it through.
struct Rt {
    kind: Kind,
    /// The runtime's network namespace (its bridges live there); dropped after the runtime.
    ns: TestNs,
    work: PathBuf,
    wrapper: PathBuf,
    dockerd: Option<Child>,
    /// A number unique to this test, for names and subnets.
    n: u32,
    /// The labs this test named: taken down by the guard, whatever the test got to.
    labs: std::cell::RefCell<Vec<String>>,
}

impl Rt {
    fn new(kind: Kind) -> Rt {
        require_root();
        // IPv6 on: a management network with an IPv6 subnet puts an address on its bridge.
        let ns = TestNs::with_ipv6();
        // Subnets 198.18.n.0/24 to 198.18.(n+3).0/24 are the test's: n stays below 240 for
        // the six runtimes a run makes, and differs between runs of different pids.
        let n = 4 * ((std::process::id() % 10) * 6 + COUNTER.fetch_add(1, Ordering::SeqCst) % 6);
        let work = std::env::temp_dir().join(format!("{}-{}", ns.name, kind.name()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        let wrapper = work.join(kind.name());
        let mut dockerd = None;
        match kind {
            Kind::Podman => containers::podman(&work, &ns.name, &wrapper).unwrap(),
            Kind::Docker => {
                dockerd = Some(
                    containers::dockerd(&work, &ns.name, &wrapper)
                        .expect("start dockerd (docker.io)"),
                )
            }
        }
        let rt = Rt {
            kind,
            ns,
            work,
            wrapper,
            dockerd,
            n,
            labs: Default::default(),
        };
        if kind == Kind::Docker {
            let deadline = Instant::now() + patience(Duration::from_secs(30));
            while !rt.cli(&["version"]).status.success() {
                assert!(
                    Instant::now() < deadline,
                    "dockerd did not answer: {}",
                    std::fs::read_to_string(rt.work.join("dockerd.err")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        rt.ok(&["import", image_tar().to_str().unwrap(), IMAGE]);
        rt
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.wrapper)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{} {}: {}{}",
            self.kind,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn options(&self) -> Options {
        Options {
            runtime: Choice::Only(self.kind),
            program: Some(self.wrapper.clone()),
        }
    }

    fn runtime(&self) -> runtime::Runtime {
        runtime::at(self.kind, &self.wrapper).unwrap()
    }

    /// (pid, start time) of a running container.
    fn started(&self, name: &str) -> (u32, String) {
        let c = self.runtime().inspect(name).unwrap().expect(name);
        (c.pid.expect("running"), c.started_at)
    }

    /// `sh -c COMMAND` in a container, its stdout (must succeed).
    fn sh(&self, container: &str, command: &str) -> String {
        self.ok(&["exec", container, "sh", "-c", command])
    }

    /// Tags the test image, with a default command (`sleep 100000`), as the names a
    /// containerlab file uses (`alpine:3`), as each runtime resolves them from local storage.
    fn tag_as(&self, names: &[&str]) {
        let tagged = "localhost/pw-busybox:cmd";
        self.ok(&[
            "import",
            "--change",
            r#"CMD ["sleep", "100000"]"#,
            image_tar().to_str().unwrap(),
            tagged,
        ]);
        for name in names {
            match self.kind {
                Kind::Podman => {
                    self.ok(&["tag", tagged, &format!("localhost/{name}")]);
                    self.ok(&["tag", tagged, &format!("docker.io/library/{name}")]);
                }
                Kind::Docker => {
                    self.ok(&["tag", tagged, name]);
                }
            }
        }
    }

    /// The CLI, in the runtime's namespace (which stands in for the host's: the management
    /// network's bridge is there), with `-r RUNTIME` and this runtime's wrapper.
    fn patchwire(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let program = match self.kind {
            Kind::Podman => "PATCHWIRE_PODMAN",
            Kind::Docker => "PATCHWIRE_DOCKER",
        };
        let out = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns.name))
            .arg(env!("CARGO_BIN_EXE_patchwire"))
            .args(args)
            .args(["-r", self.kind.name()])
            .env(program, &self.wrapper)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A lab named by a file the test did not name: taken down by the guard too.
    fn adopt_lab(&self, lab: &str) {
        self.labs.borrow_mut().push(lab.to_string());
    }

    fn lab_name(&self, what: &str) -> String {
        let lab = format!("c{}{what}{}", &self.kind.name()[..1], self.n);
        self.labs.borrow_mut().push(lab.clone());
        lab
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        // A test that failed half-way: its labs' panels and registrations go too.
        for lab in self.labs.borrow().iter() {
            let _ = lab::down_by_name_with(lab, None, &self.options());
            for name in patchwire::netns::named() {
                if name.starts_with(&format!("clab-{lab}-")) {
                    let _ = patchwire::netns::delete_named(&name);
                }
            }
        }
        let _ = patchwire::netns::delete_named(&format!("pwt-ext{}", self.n));
        let ids = String::from_utf8_lossy(&self.cli(&["ps", "-a", "-q"]).stdout).to_string();
        for id in ids.split_whitespace() {
            let _ = match self.kind {
                Kind::Podman => self.cli(&["rm", "-f", "--time", "0", id]),
                Kind::Docker => self.cli(&["rm", "-f", id]),
            };
        }
        if let Some(mut dockerd) = self.dockerd.take() {
            // SAFETY: kill(2) on the dockerd this test started (its nsenter exec'd into it).
            unsafe { libc::kill(dockerd.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && matches!(dockerd.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = dockerd.kill();
            let _ = dockerd.wait();
            // Whatever dockerd left mounted under its data root.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "grep -o ' {}/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
                    self.work.display()
                ))
                .status();
        }
        // conmon and podman's cleanup may linger a moment after the containers are gone (their
        // command lines name the test's directory).
        let marker = self.work.to_string_lossy().into_owned();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && mentioning(&marker) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // podman's CNI host-local leases for the test's networks.
        for network in [1, 2, 3].map(|i| format!("pwt-net{}-{i}", self.n)) {
            let _ = std::fs::remove_dir_all(format!("/var/lib/cni/networks/{network}"));
        }
        for _ in 0..3 {
            if std::fs::remove_dir_all(&self.work).is_ok() || !self.work.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Whether a process's command line mentions `marker`.
fn mentioning(marker: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
    })
}

/// A container spec as the file reader makes it for `kind: linux` with an image.
fn spec(lab: &str, node: &str) -> ContainerSpec {
    ContainerSpec {
        name: format!("clab-{lab}-{node}"),
        hostname: node.into(),
        image: IMAGE.into(),
        cmd: Some(vec!["sleep".into(), "100000".into()]),
        entrypoint: None,
        env: Default::default(),
        binds: vec![],
        ports: vec![],
        user: None,
        labels: Default::default(),
        network_mode: None,
        mgmt_ipv4: None,
        mgmt_ipv6: None,
        cpu: None,
        memory: None,
        sysctls: Default::default(),
        devices: vec![],
        cap_add: vec![],
        privileged: true,
    }
}

/// A lab file: the nodes and links in patchwire's format, the named nodes then made container
/// nodes (what the containerlab reader will make of `kind: linux` + `image:`).
fn lab_file(
    rt: &Rt,
    lab: &str,
    links: &[(&str, &str)],
    containers: Vec<(&str, ContainerSpec, Vec<String>)>,
) -> file::LabFile {
    let mut text = format!("name: {lab}\ntopology:\n  nodes:\n");
    for (node, _, _) in &containers {
        text.push_str(&format!("    {node}: {{}}\n"));
    }
    text.push_str("  links:\n");
    for (a, b) in links {
        text.push_str(&format!("    - endpoints: [\"{a}\", \"{b}\"]\n"));
    }
    let mut file = file::parse("test.clab.yml", &text).unwrap();
    for (node, spec, exec) in containers {
        file.nodes.get_mut(node).unwrap().kind =
            file::NodeKind::Container(Box::new(file::ContainerNode { spec, exec }));
    }
    file.mgmt = Some(NetworkSpec {
        name: format!("pwt-net{}-1", rt.n),
        ipv4_subnet: Some(format!("198.18.{}.0/24", rt.n)),
        ipv6_subnet: None,
        bridge: None,
        mtu: None,
    });
    file
}

fn change_names(changes: &[lab::Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).unwrap();
            let mut words = vec![v["change"].as_str().unwrap().to_string()];
            if let Some(node) = v.get("node").and_then(|n| n.as_str()) {
                words.push(node.to_string());
            }
            words.join(" ")
        })
        .collect()
}

/// Pings `to` from `container`: 3 echo requests, 2 s each at most. The sender's neighbour
/// cache is flushed first: a node made again has new MACs, which a cache learnt before
/// would keep for up to 45 s.
fn ping(rt: &Rt, container: &str, to: &str) -> bool {
    let _ = rt.cli(&["exec", container, "ip", "neigh", "flush", "all"]);
    let out = rt.cli(&["exec", container, "ping", "-c", "3", "-W", "2", to]);
    if !out.status.success() {
        eprintln!(
            "ping {to} from {container}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            rt.cli(&["exec", container, "sh", "-c", "ip addr; ip neigh"])
                .stdout
                .iter()
                .map(|b| *b as char)
                .collect::<String>()
        );
    }
    out.status.success()
}

fn registered_as_running(rt: &Rt, name: &str) -> bool {
    let (pid, _) = rt.started(name);
    let registered = std::fs::metadata(format!("/run/netns/{name}"));
    let actual = std::fs::metadata(format!("/proc/{pid}/ns/net"));
    use std::os::unix::fs::MetadataExt;
    match (registered, actual) {
        (Ok(r), Ok(a)) => (r.dev(), r.ino()) == (a.dev(), a.ino()),
        _ => false,
    }
}

/// What of a lab is left on the host: its containers, networks, registrations, panel.
fn leftovers(rt: &Rt, lab: &str, network: &str) -> Vec<String> {
    let mut left = Vec::new();
    let filter = format!("label=patchwire.lab={lab}");
    for id in rt
        .ok(&["ps", "-a", "-q", "--filter", &filter])
        .split_whitespace()
    {
        left.push(format!("container {id}"));
    }
    if rt.cli(&["network", "inspect", network]).status.success() {
        left.push(format!("network {network}"));
    }
    for name in patchwire::netns::named() {
        if name.starts_with(&format!("clab-{lab}-")) || name.starts_with(&format!("{lab}.")) {
            left.push(format!("netns {name}"));
        }
    }
    left
}

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
                "patchwire: {path}: mgmt.bridge {bridge}: podman {version} cannot name the \
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

/// The network namespace of a running container (its first process's), as (dev, inode).
fn netns_of(rt: &Rt, name: &str) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (pid, _) = rt.started(name);
    let m = std::fs::metadata(format!("/proc/{pid}/ns/net")).unwrap();
    (m.dev(), m.ino())
}

/// `network-mode: container:NODE` naming a node of the lab is that node's container (started
/// first); `container:OTHER` that is no node of the lab is passed on as written. The node that
/// shares a namespace is wired there; when the node it shares with is made again, so is it.
fn network_mode_container_names_a_node(rt: &Rt) {
    let lab = rt.lab_name("n");
    let n = rt.n;
    let other = format!("pwt-other{n}");
    rt.ok(&[
        "run",
        "-d",
        "--name",
        &other,
        "--network",
        "none",
        IMAGE,
        "sleep",
        "100000",
    ]);
    let a = spec(&lab, "a");
    let mut b = spec(&lab, "b");
    b.network_mode = Some("container:a".into());
    let mut c = spec(&lab, "c");
    c.network_mode = Some(format!("container:{other}"));
    let d = spec(&lab, "d");
    let nodes = |a: &ContainerSpec| {
        vec![
            ("a", a.clone(), vec!["echo a ran".to_string()]),
            (
                "b",
                b.clone(),
                vec![format!("ip addr add 198.18.{}.1/24 dev eth1", n + 1)],
            ),
            ("c", c.clone(), vec![]),
            (
                "d",
                d.clone(),
                vec![format!("ip addr add 198.18.{}.2/24 dev eth1", n + 1)],
            ),
        ]
    };
    let file = lab_file(rt, &lab, &[("b:eth1", "d:eth1")], nodes(&a));
    let up = lab::up_with(&file, None, &rt.options()).unwrap();
    assert!(up.exec.iter().all(|e| e.exit == 0), "{:?}", up.exec);
    // a and b share a namespace: each node's commands ran, each once.
    assert_eq!(
        up.exec.iter().map(|e| e.node.as_str()).collect::<Vec<_>>(),
        ["a", "b", "d"]
    );
    assert!(
        lab::up_with(&file, None, &rt.options())
            .unwrap()
            .exec
            .is_empty()
    );
    assert_eq!(netns_of(rt, &b.name), netns_of(rt, &a.name));
    assert_eq!(netns_of(rt, &c.name), netns_of(rt, &other));
    assert!(registered_as_running(rt, &b.name));
    // b's eth1 is in a's namespace: a reaches d through it.
    assert!(ping(rt, &a.name, &format!("198.18.{}.2", n + 1)));

    // a changed: a and b are made again, b after a and in its new namespace.
    let mut a2 = a.clone();
    a2.env.insert("CHANGED".into(), "1".into());
    let changed = lab_file(rt, &lab, &[("b:eth1", "d:eth1")], nodes(&a2));
    let plan = lab::plan_with(&changed, None, &rt.options()).unwrap();
    let shown: Vec<serde_json::Value> = plan.changes[..2]
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(
        shown,
        [
            serde_json::json!({"change": "recreate-container", "node": "a", "container": a.name,
                               "why": "its definition in the file changed"}),
            serde_json::json!({"change": "recreate-container", "node": "b", "container": b.name,
                               "why": format!("it shares the network namespace of {}, which is \
                                               made again", a.name)}),
        ]
    );
    lab::up_with(&changed, None, &rt.options()).unwrap();
    assert_eq!(netns_of(rt, &b.name), netns_of(rt, &a.name));
    assert!(ping(rt, &a.name, &format!("198.18.{}.2", n + 1)));
    assert_eq!(
        change_names(
            &lab::plan_with(&changed, None, &rt.options())
                .unwrap()
                .changes
        ),
        Vec::<String>::new()
    );
    lab::down_with(&changed, None, &rt.options()).unwrap();
    let network = changed.mgmt.as_ref().unwrap().name.clone();
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    assert!(rt.started(&other).0 > 0, "the other container runs on");
}

#[test]
fn podman_network_mode_container_names_a_node() {
    network_mode_container_names_a_node(&Rt::new(Kind::Podman));
}

#[test]
fn docker_network_mode_container_names_a_node() {
    network_mode_container_names_a_node(&Rt::new(Kind::Docker));
}

/// A runtime wrapper that, on `run`, first makes the container itself: as the `run` of an `up`
/// killed a moment before would, finishing on its own after the next `up` listed the
/// containers. With `racy-foreign` in the work folder, it makes a container of that name
/// without the lab's labels instead (someone else's). The id it made goes to `racy.id`.
fn racy_wrapper(rt: &Rt) -> PathBuf {
    let w = rt.work.display();
    let real = rt.wrapper.display();
    let path = rt.work.join("racy");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = run ]; then\n  if [ -f {w}/racy-foreign ]; then\n    \
             name=; prev=\n    for a in \"$@\"; do [ \"$prev\" = --name ] && name=\"$a\"; \
             prev=\"$a\"; done\n    {real} create --name \"$name\" {IMAGE} sleep 100000 > \
             {w}/racy.id\n  else\n    shift 2\n    {real} create \"$@\" > {w}/racy.id\n    set \
             -- run --detach \"$@\"\n  fi\nfi\nexec {real} \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The container of a node, as the runtime reports it (must exist).
fn container(rt: &Rt, name: &str) -> runtime::Container {
    rt.runtime().inspect(name).unwrap().expect(name)
}

/// A container under a node's name: someone else's (no lab labels) is refused, naming it and
/// how to remove it, before anything changes — whether it was there when `up` began or
/// appeared while it ran; the lab's own, as the file says, is adopted: a stopped one is
/// started again (same container), one made by another `up`'s `run` meanwhile is kept.
fn existing_containers_are_adopted_or_refused(rt: &Rt) {
    let lab = rt.lab_name("o");
    let n = rt.n;
    let (a, b, c) = (spec(&lab, "a"), spec(&lab, "b"), spec(&lab, "c"));
    let exec = |i: u32| vec![format!("ip addr add 198.18.{}.{i}/24 dev eth1", n + 1)];
    let two = vec![("a", a.clone(), exec(1)), ("b", b.clone(), exec(2))];
    let file = lab_file(rt, &lab, &[("a:eth1", "b:eth1")], two.clone());
    let network = file.mgmt.as_ref().unwrap().name.clone();
    let rm = format!("{} rm -f {}", rt.kind, a.name);
    let refusal = |node: &str, name: &str, rm: &str| {
        format!(
            "node {node}: container {name} exists and is not this lab's (it has no \
             patchwire.lab={lab} and patchwire.node={node} labels): remove it ({rm}) if it is not \
             needed, or make node {node} a kind: ext-container to wire it as it is"
        )
    };

    // Someone else's container under a's name, there before `up`.
    rt.ok(&["create", "--name", &a.name, IMAGE, "sleep", "100000"]);
    let e = lab::up_with(&file, None, &rt.options()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("test.clab.yml: {}", refusal("a", &a.name, &rm))
    );
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    assert!(!Path::new(&format!("/run/netns/{lab}.panel")).exists());
    rt.ok(&["rm", "-f", &a.name]);

    // The lab's own, stopped: started again, the same container, its links made anew.
    lab::up_with(&file, None, &rt.options()).unwrap();
    let id = container(rt, &a.name).id;
    rt.ok(&["stop", "-t", "0", &a.name]);
    let plan = lab::plan_with(&file, None, &rt.options()).unwrap();
    assert_eq!(
        serde_json::to_value(&plan.changes[0]).unwrap(),
        serde_json::json!({"change": "start-container", "node": "a", "container": a.name})
    );
    assert_eq!(
        lab::ContainerChange::StartContainer {
            node: "a".into(),
            container: a.name.clone()
        }
        .to_string(),
        format!(
            "~ container {} (node a): started again, it was not running",
            a.name
        )
    );
    let up = lab::up_with(&file, None, &rt.options()).unwrap();
    assert_eq!(container(rt, &a.name).id, id, "the same container");
    assert!(registered_as_running(rt, &a.name));
    assert_eq!(up.exec.len(), 1, "a's exec ran again in its new namespace");
    assert!(ping(rt, &a.name, &format!("198.18.{}.2", n + 1)));

    // c made by another `run` between the listing and ours (as the file says): adopted.
    let racy = Options {
        runtime: Choice::Only(rt.kind),
        program: Some(racy_wrapper(rt)),
    };
    let mut three = two.clone();
    three.push(("c", c.clone(), vec![]));
    let with_c = lab_file(rt, &lab, &[("a:eth1", "b:eth1")], three.clone());
    lab::up_with(&with_c, None, &racy).unwrap();
    let made = std::fs::read_to_string(rt.work.join("racy.id")).unwrap();
    let found = container(rt, &c.name);
    assert_eq!(found.id, made.trim(), "the container the other run made");
    assert!(found.running && registered_as_running(rt, &c.name));
    assert_eq!(
        change_names(
            &lab::plan_with(&with_c, None, &rt.options())
                .unwrap()
                .changes
        ),
        Vec::<String>::new()
    );

    // d: someone else's container appears under its name meanwhile: refused, naming it.
    std::fs::write(rt.work.join("racy-foreign"), "").unwrap();
    let d = spec(&lab, "d");
    let mut four = three.clone();
    four.push(("d", d.clone(), vec![]));
    let with_d = lab_file(rt, &lab, &[("a:eth1", "b:eth1")], four);
    let e = lab::up_with(&with_d, None, &racy).unwrap_err();
    let rm_d = format!("{} rm -f {}", rt.kind, d.name);
    assert_eq!(
        e.to_string(),
        format!(
            "test.clab.yml: {} (the lab is partly changed: run patchwire up again once that is \
             fixed, or patchwire down)",
            refusal("d", &d.name, &rm_d)
        )
    );
    assert!(
        container(rt, &d.name).labels.is_empty(),
        "left to its owner"
    );
    rt.ok(&["rm", "-f", &d.name]);
    lab::down_with(&with_d, None, &rt.options()).unwrap();
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_existing_containers_are_adopted_or_refused() {
    existing_containers_are_adopted_or_refused(&Rt::new(Kind::Podman));
}

#[test]
fn docker_existing_containers_are_adopted_or_refused() {
    existing_containers_are_adopted_or_refused(&Rt::new(Kind::Docker));
}

/// Images and the runtime's failures: `plan` says which image is not here (`up` has the
/// runtime pull it, as containerlab's default policy); `up` names each node the runtime failed
/// on a line of its own, where the node is written, with the runtime's words after.
fn runtime_failures_are_named_per_node(rt: &Rt) {
    let lab = rt.lab_name("i");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\ntopology:\n  \
         nodes:\n    e: {{kind: linux, image: localhost/pwt-missing-e:none, cmd: sleep 1}}\n    \
         f: {{kind: linux, image: localhost/pwt-missing-f:none, cmd: sleep 1}}\n    g: {{kind: \
         linux, image: {IMAGE}, cmd: sleep 100000}}\n"
    );
    let path = rt.work.join("images.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for node in ["e", "f"] {
        let line = format!(
            "+ container clab-{lab}-{node} (node {node}, image localhost/pwt-missing-{node}:none: \
             not here, up has the runtime pull it)\n"
        );
        assert!(stdout.contains(&line), "{line} in {stdout}");
    }
    let line = format!("+ container clab-{lab}-g (node g, image {IMAGE})\n");
    assert!(stdout.contains(&line), "{line} in {stdout}");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("patchwire: "))
        .expect("an error");
    let failed: Vec<&str> = lines[first..]
        .iter()
        .map(|l| l.trim_start_matches("patchwire: "))
        .filter(|l| l.starts_with(path))
        .collect();
    assert_eq!(failed.len(), 2, "{stderr}");
    for (line, (node, at)) in failed.iter().zip([("e", "7:5"), ("f", "8:5")]) {
        let start = format!(
            "{path}:{at}: node {node}: {}: starting container clab-{lab}-{node}: ",
            rt.kind
        );
        assert!(line.starts_with(&start), "{start} in {stderr}");
        assert!(
            line.len() > start.len(),
            "the runtime's words follow: {line}"
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some(
            "(the lab is partly changed: run patchwire up again once that is fixed, or patchwire \
             down)"
        )
    );
    assert!(container(rt, &format!("clab-{lab}-g")).running);
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_runtime_failures_are_named_per_node() {
    runtime_failures_are_named_per_node(&Rt::new(Kind::Podman));
}

#[test]
fn docker_runtime_failures_are_named_per_node() {
    runtime_failures_are_named_per_node(&Rt::new(Kind::Docker));
}

/// An image whose default command is a shell (alpine, debian without `cmd:`) keeps running:
/// containers get a terminal and open stdin, as containerlab makes them. Its `exec:` commands
/// are split into words and run without a shell, as containerlab runs them; one that does not
/// split is refused by `plan`, where the file writes the node.
fn shell_images_stay_up_and_exec_runs_without_a_shell(rt: &Rt) {
    let lab = rt.lab_name("s");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let image = "localhost/pw-busybox:sh";
    rt.ok(&[
        "import",
        "--change",
        r#"CMD ["/bin/sh"]"#,
        image_tar().to_str().unwrap(),
        image,
    ]);
    let text = |exec: &str| {
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n\
             topology:\n  nodes:\n    s:\n      kind: linux\n      image: {image}\n      \
             exec:\n        - {exec}\n"
        )
    };
    let path = rt.work.join("shell.clab.yml");
    std::fs::write(&path, text(r#""echo 'a""#)).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "patchwire: {path}:7:5: node s: exec `echo 'a`: cannot split it into words (an \
             unbalanced quote, a trailing backslash, or nothing at all); exec commands are split \
             as a shell would and run without one, as containerlab runs them\n"
        )
    );
    std::fs::write(path, text(r#""echo a; echo \"$ZZZ\" > /tmp/z""#)).unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.ends_with("exec s: echo a; echo \"$ZZZ\" > /tmp/z\n  s| a; echo $ZZZ > /tmp/z\n"),
        "{stdout}"
    );
    let name = format!("clab-{lab}-s");
    assert!(container(rt, &name).running);
    assert!(registered_as_running(rt, &name));
    // No shell ran the words: nothing was written.
    assert!(
        !rt.cli(&["exec", &name, "test", "-e", "/tmp/z"])
            .status
            .success()
    );
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_shell_images_stay_up_and_exec_runs_without_a_shell() {
    shell_images_stay_up_and_exec_runs_without_a_shell(&Rt::new(Kind::Podman));
}

#[test]
fn docker_shell_images_stay_up_and_exec_runs_without_a_shell() {
    shell_images_stay_up_and_exec_runs_without_a_shell(&Rt::new(Kind::Docker));
}

/// The CLI in `rt`'s namespace with both runtimes answering (podman's and docker's wrappers)
/// and no `-r`.
fn patchwire_both(
    rt: &Rt,
    podman: &Rt,
    docker: &Rt,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", rt.ns.name))
        .arg(env!("CARGO_BIN_EXE_patchwire"))
        .args(args)
        .env("PATCHWIRE_PODMAN", &podman.wrapper)
        .env("PATCHWIRE_DOCKER", &docker.wrapper)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Without `-r`, with docker and podman both answering, `plan`, `up` and `down` use the
/// runtime that holds the lab's containers (podman here, although docker answers first); a lab
/// with containers in both is refused, naming both and `-r`.
#[test]
fn commands_follow_the_runtime_that_holds_the_lab() {
    let podman = Rt::new(Kind::Podman);
    let docker = Rt::new(Kind::Docker);
    let lab = podman.lab_name("h");
    docker.adopt_lab(&lab);
    let n = podman.n;
    let network = format!("pwt-net{n}-2");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\ntopology:\n  \
         nodes:\n    a: {{kind: linux, image: {IMAGE}, cmd: sleep 100000}}\n"
    );
    let path = podman.work.join("held.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = podman.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let both = |args: &[&str]| patchwire_both(&podman, &podman, &docker, args);
    let (code, stdout, stderr) = both(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: the kernel matches the file\n"));
    let (code, stdout, stderr) = both(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: up to date, nothing changed\n"));
    let filter = format!("label=patchwire.lab={lab}");
    assert_eq!(docker.ok(&["ps", "-a", "-q", "--filter", &filter]), "");
    // A container of the lab's in docker too: which runtime is the lab's is the user's to say.
    docker.ok(&[
        "run",
        "--detach",
        "--name",
        "pwt-other",
        "--label",
        &format!("patchwire.lab={lab}"),
        "--label",
        "patchwire.node=z",
        IMAGE,
        "sleep",
        "100000",
    ]);
    let refusal = format!(
        "patchwire: lab {lab} has containers in both docker (pwt-other) and podman \
         (clab-{lab}-a): say which runtime is the lab's with -r docker or -r podman (patchwire \
         down -r RUNTIME FILE removes the other's)\n"
    );
    for command in [
        &["plan", path][..],
        &["up", path],
        &["down", path],
        &["down", "--name", &lab],
    ] {
        let (code, stdout, stderr) = both(command);
        assert_eq!(code, Some(1), "{command:?}: {stdout}{stderr}");
        assert_eq!(stderr, refusal, "{command:?}");
    }
    let (code, stdout, stderr) = docker.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(docker.ok(&["ps", "-a", "-q", "--filter", &filter]), "");
    // Only podman holds it again: a `down` without -r removes podman's (by name: no file).
    let (code, stdout, stderr) = both(&["down", "--name", &lab]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("removed container clab-{lab}-a\n")),
        "{stdout}"
    );
    assert_eq!(leftovers(&podman, &lab, &network), Vec::<String>::new());
}

/// A network namespace that is not the lab's under a container's name (`ip netns add`, with
/// a veth in it): `plan` and `up` refuse before anything changes, naming it and what to do;
/// `down` never deletes one (the registration swapped for someone else's after `up`).
fn foreign_namespaces_are_never_taken(rt: &Rt) {
    let lab = rt.lab_name("d");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    // Named like a test namespace, so a failed test's leftovers are found; the file's
    // `prefix: ""` makes it the container's name.
    let decoy = TestNs::new();
    let name = decoy.name.clone();
    run(
        "ip",
        &[
            "-n", &name, "link", "add", "pwtd0", "type", "veth", "peer", "name", "pwtd1",
        ],
    );
    let text = format!(
        "name: {lab}\nprefix: \"\"\nmgmt:\n  network: {network}\n  ipv4-subnet: \
         198.18.{n}.0/24\ntopology:\n  nodes:\n    {name}: {{kind: linux, image: {IMAGE}, cmd: \
         sleep 100000}}\n"
    );
    let path = rt.work.join("decoy.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let refusal = format!(
        "patchwire: {path}:8:5: node {name}: netns {name} exists (/run/netns/{name}) and is not \
         lab {lab}'s registration of container {name} (not its namespace, no \
         patchwire.ctr.{lab} mark on its loopback): up would put the container's namespace in \
         its place; delete it (ip netns delete {name}) if it is not needed, or give the node \
         another name (or the file a prefix:)\n"
    );
    let veths = |ns: &str| run("ip", &["-n", ns, "-o", "link", "show", "type", "veth"]);
    for command in ["plan", "up"] {
        let (code, stdout, stderr) = rt.patchwire(&[command, path]);
        assert_eq!(code, Some(1), "{command}: {stdout}{stderr}");
        assert_eq!(stderr, refusal, "{command}");
        assert!(veths(&name).contains("pwtd0"), "{command}");
        assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    }
    // The namespace gone, up makes the container and registers its namespace.
    run("ip", &["netns", "delete", &name]);
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(registered_as_running(rt, &name));
    assert_eq!(
        rt.patchwire(&["plan", path]).1,
        format!("lab {lab}: the kernel matches the file\n")
    );
    // Someone else's namespace in its place: refused again; down leaves it.
    run("ip", &["netns", "delete", &name]);
    run("ip", &["netns", "add", &name]);
    run(
        "ip",
        &[
            "-n", &name, "link", "add", "pwtd0", "type", "veth", "peer", "name", "pwtd1",
        ],
    );
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(stderr, refusal);
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "removed netns {lab}.panel\nremoved container {name}\nremoved network {network} \
             (the lab had made it)\n"
        )
    );
    assert_eq!(
        stderr,
        format!(
            "note: netns {name} is not lab {lab}'s registration of container {name} (not its \
             namespace, no patchwire.ctr.{lab} mark): left as it is\n"
        )
    );
    assert!(veths(&name).contains("pwtd0"));
}

#[test]
fn podman_foreign_namespaces_are_never_taken() {
    foreign_namespaces_are_never_taken(&Rt::new(Kind::Podman));
}

#[test]
fn docker_foreign_namespaces_are_never_taken() {
    foreign_namespaces_are_never_taken(&Rt::new(Kind::Docker));
}

/// `exec:` is part of a node's definition: commands changed, the node is made again and runs
/// the new ones. Commands a killed `up` did not get to run are listed by `plan` and run by
/// `up` as a change (not "nothing changed").
fn exec_changes_and_pending_exec_are_changes(rt: &Rt) {
    let lab = rt.lab_name("x");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = |word: &str| {
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n\
             topology:\n  nodes:\n    a:\n      kind: linux\n      image: {IMAGE}\n      cmd: \
             sleep 100000\n      exec:\n        - echo {word}\n"
        )
    };
    let path = rt.work.join("exec.clab.yml");
    std::fs::write(&path, text("one")).unwrap();
    let path = path.to_str().unwrap();
    let name = format!("clab-{lab}-a");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("exec a: echo one\n  a| one\n"), "{stdout}");
    // As an `up` killed after the wiring leaves it: the commands' mark not on the loopback.
    run(
        "ip",
        &[
            "-n",
            &name,
            "link",
            "property",
            "del",
            "dev",
            "lo",
            "altname",
            "patchwire.exec-done",
        ],
    );
    let pending =
        format!("~ exec: node a: commands not run yet in container {name} (up runs them)\n");
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&pending), "{stdout}");
    let before = rt.started(&name);
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&pending), "{stdout}");
    assert!(stdout.ends_with("exec a: echo one\n  a| one\n"), "{stdout}");
    assert_eq!(rt.started(&name), before);
    assert_eq!(
        rt.patchwire(&["plan", path]).1,
        format!("lab {lab}: the kernel matches the file\n")
    );
    // The commands changed: the node is made again, and runs them.
    std::fs::write(path, text("two")).unwrap();
    let recreated = format!("~ container {name} (node a): recreated, its exec: commands changed\n");
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&recreated), "{stdout}");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&recreated), "{stdout}");
    assert!(stdout.ends_with("exec a: echo two\n  a| two\n"), "{stdout}");
    assert_ne!(rt.started(&name).0, before.0);
    assert!(registered_as_running(rt, &name));
    assert_eq!(
        rt.patchwire(&["plan", path]).1,
        format!("lab {lab}: the kernel matches the file\n")
    );
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_exec_changes_and_pending_exec_are_changes() {
    exec_changes_and_pending_exec_are_changes(&Rt::new(Kind::Podman));
}

#[test]
fn docker_exec_changes_and_pending_exec_are_changes() {
    exec_changes_and_pending_exec_are_changes(&Rt::new(Kind::Docker));
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
                    "patchwire: {path_text}:{at}: node a: mgmt-ipv4 198.18.{}.5 is not in a \
                     subnet of management network {network}: give the node an address in one, \
                     or remove mgmt-ipv4 (the runtime then picks one)\n",
                    n + 2
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

/// `show --lab` asking a runtime that holds none of the lab's containers (only podman
/// answers; the lab is docker's, at a socket of its own) while a process runs in each node's
/// registered namespace: it says it cannot tell, and names `-r docker`, instead of calling
/// the containers gone and advising an `up` that would make them twice.
#[test]
fn show_cannot_tell_a_container_of_another_runtime_from_a_gone_one() {
    let podman = Rt::new(Kind::Podman);
    let docker = Rt::new(Kind::Docker);
    let lab = docker.lab_name("o");
    let n = docker.n;
    let text = format!(
        "name: {lab}\nmgmt:\n  network: pwt-net{n}-2\n  ipv4-subnet: 198.18.{n}.0/24\n\
         topology:\n  nodes:\n    a: {{kind: linux, image: {IMAGE}, cmd: sleep 100000}}\n"
    );
    let path = docker.work.join("other.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = docker.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", docker.ns.name))
        .arg(env!("CARGO_BIN_EXE_patchwire"))
        .args(["show", "--lab", path])
        .env("PATCHWIRE_PODMAN", &podman.wrapper)
        .env("PATCHWIRE_DOCKER", "/nonexistent/docker")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let unknown = format!(
        "! node a: container clab-{lab}-a: not found in podman; its namespace is registered and a \
         process runs in it — is it in another runtime? patchwire show --lab {path} -r docker\n"
    );
    assert!(stdout.ends_with(&unknown), "{stdout}");
    assert!(!stdout.contains("is gone"), "{stdout}");
    let (code, stdout, stderr) = docker.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

/// A `network-mode: host` container is registered as the host's namespace: `up` never marks
/// the host's loopback as the lab's registration, and `down` leaves the host's namespace.
fn host_network_containers_leave_the_hosts_loopback_alone(rt: &Rt) {
    let lab = rt.lab_name("k");
    let n = rt.n;
    let text = format!(
        "name: {lab}\nmgmt:\n  network: pwt-net{n}-2\n  ipv4-subnet: 198.18.{n}.0/24\n\
         topology:\n  nodes:\n    h: {{kind: linux, image: {IMAGE}, cmd: sleep 100000, \
         network-mode: host}}\n"
    );
    let path = rt.work.join("hostnet.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lo = run("ip", &["-n", &rt.ns.name, "-d", "link", "show", "lo"]);
    assert!(!lo.contains("patchwire.ctr"), "{lo}");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: up to date, nothing changed\n"));
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(Path::new(&format!("/run/netns/{}", rt.ns.name)).exists());
}

#[test]
fn podman_host_network_containers_leave_the_hosts_loopback_alone() {
    host_network_containers_leave_the_hosts_loopback_alone(&Rt::new(Kind::Podman));
}

#[test]
fn docker_host_network_containers_leave_the_hosts_loopback_alone() {
    host_network_containers_leave_the_hosts_loopback_alone(&Rt::new(Kind::Docker));
}
