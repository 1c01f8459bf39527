//! The container tests' runtimes (tests/containers.rs, tests/containers_clab.rs,
//! tests/containers_mgmt.rs): a podman or a dockerd of the test's own, each in a test namespace, the busybox image imported once
//! per run, and observers of what a lab left. See tests/containers.rs for the whole picture.

use super::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use patchwire::lab::{self, Options, file};
use patchwire::runtime::{self, Choice, ContainerSpec, Kind, NetworkSpec};
use patchwire_testkit::containers;

pub const IMAGE: &str = "localhost/pw-busybox:test";

/// The image's root filesystem as a tar file, made once per test run.
pub fn image_tar() -> &'static Path {
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

pub static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A runtime of the test's own, and the wrapper patchwire calls it through.
pub struct Rt {
    pub kind: Kind,
    /// The runtime's network namespace (its bridges live there); dropped after the runtime.
    pub ns: TestNs,
    pub work: PathBuf,
    pub wrapper: PathBuf,
    pub dockerd: Option<Child>,
    /// A number unique to this test, for names and subnets.
    pub n: u32,
    /// The labs this test named: taken down by the guard, whatever the test got to.
    pub labs: std::cell::RefCell<Vec<String>>,
}

impl Rt {
    pub fn new(kind: Kind) -> Rt {
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

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.wrapper)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime")
    }

    pub fn ok(&self, args: &[&str]) -> String {
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

    pub fn options(&self) -> Options {
        Options {
            runtime: Choice::Only(self.kind),
            program: Some(self.wrapper.clone()),
        }
    }

    pub fn runtime(&self) -> runtime::Runtime {
        runtime::at(self.kind, &self.wrapper).unwrap()
    }

    /// (pid, start time) of a running container.
    pub fn started(&self, name: &str) -> (u32, String) {
        let c = self.runtime().inspect(name).unwrap().expect(name);
        (c.pid.expect("running"), c.started_at)
    }

    /// `sh -c COMMAND` in a container, its stdout (must succeed).
    pub fn sh(&self, container: &str, command: &str) -> String {
        self.ok(&["exec", container, "sh", "-c", command])
    }

    /// Tags the test image, with a default command (`sleep 100000`), as the names a
    /// containerlab file uses (`alpine:3`), as each runtime resolves them from local storage.
    pub fn tag_as(&self, names: &[&str]) {
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
    pub fn patchwire(&self, args: &[&str]) -> (Option<i32>, String, String) {
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
    pub fn adopt_lab(&self, lab: &str) {
        self.labs.borrow_mut().push(lab.to_string());
    }

    pub fn lab_name(&self, what: &str) -> String {
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
        if let Some(dockerd) = self.dockerd.take() {
            containers::stop_dockerd(dockerd, &self.work);
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
pub fn mentioning(marker: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
    })
}

/// A container spec as the file reader makes it for `kind: linux` with an image.
pub fn spec(lab: &str, node: &str) -> ContainerSpec {
    ContainerSpec {
        cmd: Some(vec!["sleep".into(), "100000".into()]),
        ..ContainerSpec::new(&format!("clab-{lab}-{node}"), node, IMAGE)
    }
}

/// A lab file: the nodes and links in patchwire's format, the named nodes then made container
/// nodes (what the containerlab reader will make of `kind: linux` + `image:`).
pub fn lab_file(
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

pub fn change_names(changes: &[lab::Change]) -> Vec<String> {
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
pub fn ping(rt: &Rt, container: &str, to: &str) -> bool {
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

pub fn registered_as_running(rt: &Rt, name: &str) -> bool {
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
pub fn leftovers(rt: &Rt, lab: &str, network: &str) -> Vec<String> {
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
