//! Benchmark of container labs: `up` of a lab of 50 container nodes and 100 links beside the
//! same 50 containers started by the runtime alone (the floor any tool pays), in the same run,
//! alternating; the ratio is patchwire's share over that floor (target: at most 1.15).
//!
//! Run as root: `cargo bench --bench containers -- [--runtime docker|podman] [--rounds N]`
//! (default docker, 2 rounds). No image is pulled: a busybox image is imported from
//! busybox-static. The runtime is the benchmark's own: docker a dockerd in a namespace of its
//! own with data root and socket in a temporary directory; podman with containers.conf and
//! storage.conf of its own (runc, ulimits this machine allows, vfs storage), run in that
//! namespace. Both are stopped and removed at the end, also on error.
//!
//! - **floor**: the management network made, then 50 × `run --detach` (same image, command, network and privileges as
//!   patchwire's), four at a time as patchwire does, until all run.
//! - **patchwire**: `lab::up_with` from nothing: the management network, the 50 containers
//!   (run and inspected, four at a time), their namespaces registered, the panel, 200 ports and
//!   100 wires. Checked: 50 containers made, and `plan` empty after.
//!
//! The lab: nodes n0 … n49; link i joins n(i):eth1 and n(i+1):eth2 (a ring, 50 links), and
//! n(i):eth3 with n(i+25):eth3, n(i):eth4 with n(i+25):eth4 for i < 25 (50 more).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use patchwire::lab::{self, Options, file};
use patchwire::runtime::{self, Choice, ContainerSpec, Kind, NetworkSpec};
use patchwire_testkit::containers;

#[path = "support/mod.rs"]
mod support;
use support::{Scratch, run};

const NODES: usize = 50;
const IMAGE: &str = "localhost/pw-busybox:bench";
const PARALLEL: usize = 4;

struct Runtime {
    kind: Kind,
    wrapper: PathBuf,
    dockerd: Option<Child>,
    dir: PathBuf,
}

impl Runtime {
    fn start(kind: Kind, scratch: &mut Scratch) -> Result<Runtime> {
        let ns = scratch.netns("rt")?;
        let dir = scratch.dir.clone();
        let wrapper = dir.join(kind.name());
        let mut dockerd = None;
        match kind {
            Kind::Docker => {
                dockerd =
                    Some(containers::dockerd(&dir, &ns, &wrapper).context("starting dockerd")?)
            }
            Kind::Podman => containers::podman(&dir, &ns, &wrapper)?,
        }
        let runtime = Runtime {
            kind,
            wrapper,
            dockerd,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while runtime.cli(&["version"]).is_err() {
            ensure!(Instant::now() < deadline, "{kind} did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        runtime.import()?;
        Ok(runtime)
    }

    fn cli(&self, args: &[&str]) -> Result<String> {
        run(Command::new(&self.wrapper).args(args))
    }

    fn import(&self) -> Result<()> {
        let rootfs = self.dir.join("rootfs");
        for sub in ["bin", "etc", "proc", "sys", "dev", "tmp", "run"] {
            std::fs::create_dir_all(rootfs.join(sub))?;
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .context("/bin/busybox: install busybox-static")?;
        for applet in run(Command::new("/bin/busybox").arg("--list"))?.lines() {
            if applet != "busybox" && !applet.is_empty() {
                std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))?;
            }
        }
        let tar = self.dir.join("rootfs.tar");
        run(Command::new("tar").args([
            "-C",
            rootfs.to_str().context("path")?,
            "-cf",
            tar.to_str().context("path")?,
            ".",
        ]))?;
        self.cli(&["import", tar.to_str().context("path")?, IMAGE])?;
        Ok(())
    }

    /// The library's handle on this runtime (through the wrapper).
    fn library(&self) -> Result<runtime::Runtime> {
        Ok(runtime::at(self.kind, &self.wrapper)?)
    }

    fn remove_all(&self) -> Result<()> {
        let runtime = self.library()?;
        let names = runtime.names()?;
        runtime.remove_many(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.remove_all();
        match self.dockerd.take() {
            Some(dockerd) => containers::stop_dockerd(dockerd, &self.dir),
            None => containers::unmount_under(&self.dir),
        }
    }
}

/// A busybox container `name` with hostname `hostname`, privileged as containerlab's are.
fn spec(name: String, hostname: &str) -> ContainerSpec {
    ContainerSpec {
        cmd: Some(vec!["sleep".into(), "100000".into()]),
        ..ContainerSpec::new(&name, hostname, IMAGE)
    }
}

fn lab_file(lab: &str, network: &str) -> Result<file::LabFile> {
    let mut text = format!("name: {lab}\ntopology:\n  nodes:\n");
    for i in 0..NODES {
        text.push_str(&format!("    n{i}: {{}}\n"));
    }
    text.push_str("  links:\n");
    for i in 0..NODES {
        let j = (i + 1) % NODES;
        text.push_str(&format!(
            "    - endpoints: [\"n{i}:eth1\", \"n{j}:eth2\"]\n"
        ));
    }
    for i in 0..NODES / 2 {
        let j = i + NODES / 2;
        for eth in ["eth3", "eth4"] {
            text.push_str(&format!(
                "    - endpoints: [\"n{i}:{eth}\", \"n{j}:{eth}\"]\n"
            ));
        }
    }
    let mut file = file::parse("bench.clab.yml", &text)?;
    for i in 0..NODES {
        let node = format!("n{i}");
        file.nodes.get_mut(&node).context("node")?.kind =
            file::NodeKind::Container(Box::new(file::ContainerNode {
                spec: spec(format!("clab-{lab}-{node}"), &node),
                exec: vec![],
            }));
    }
    ensure!(file.links.len() == 100, "100 links");
    file.mgmt = Some(NetworkSpec {
        name: network.into(),
        ipv4_subnet: Some("198.18.240.0/22".into()),
        ipv6_subnet: None,
        bridge: None,
        mtu: None,
    });
    Ok(file)
}

/// The floor: the runtime alone runs the 50 containers, four at a time.
fn floor(rt: &Runtime, network: &str) -> Result<Duration> {
    let started = Instant::now();
    rt.cli(&["network", "create", "--subnet", "198.18.236.0/22", network])?;
    let queue = Mutex::new((0..NODES).collect::<Vec<_>>());
    let failures = Mutex::new(Vec::new());
    // The library's own `run --detach` (the same arguments and privileges patchwire passes).
    let runtime = rt.library()?;
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let Some(i) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let name = format!("pwb-floor-{i}");
                    let spec = spec(name.clone(), &name);
                    if let Err(e) = runtime.run_detached(&spec, Some(network)) {
                        failures.lock().unwrap().push(e.to_string());
                    }
                }
            });
        }
    });
    let took = started.elapsed();
    let failures = failures.into_inner().unwrap();
    if let Some(first) = failures.first() {
        bail!("floor: {first}");
    }
    rt.remove_all()?;
    rt.cli(&["network", "rm", network])?;
    Ok(took)
}

/// patchwire: `up` from nothing; checked, then taken down (not timed).
fn patchwire_up(rt: &Runtime, lab: &str, network: &str) -> Result<(Duration, Duration)> {
    let file = lab_file(lab, network)?;
    let options = Options {
        runtime: Choice::Only(rt.kind),
        program: Some(rt.wrapper.clone()),
    };
    let started = Instant::now();
    let up = lab::up_with(&file, None, &options)?;
    let took = started.elapsed();
    let made = up
        .changes
        .iter()
        .filter(|c| {
            matches!(
                c,
                lab::Change::Container(lab::ContainerChange::CreateContainer { .. })
            )
        })
        .count();
    ensure!(made == NODES, "{made} containers made, not {NODES}");
    let wires = up
        .changes
        .iter()
        .filter(|c| matches!(c, lab::Change::Wire { .. }))
        .count();
    ensure!(wires == 100, "{wires} wires made, not 100");
    let plan = lab::plan_with(&file, None, &options)?;
    ensure!(plan.changes.is_empty(), "plan after up: {:?}", plan.changes);
    let started = Instant::now();
    let down = lab::down_with(&file, None, &options)?;
    let down_took = started.elapsed();
    ensure!(
        down.containers_removed.len() == NODES,
        "down removed {:?}",
        down.containers_removed
    );
    Ok((took, down_took))
}

fn main() -> Result<()> {
    let mut kind = Kind::Docker;
    let mut rounds = 2;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runtime" => {
                kind = match args.next().as_deref() {
                    Some("podman") => Kind::Podman,
                    Some("docker") => Kind::Docker,
                    other => bail!("--runtime podman|docker, not {other:?}"),
                }
            }
            "--rounds" => rounds = args.next().context("--rounds N")?.parse()?,
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    let mut scratch = Scratch::new("containers")?;
    let rt = Runtime::start(kind, &mut scratch)?;
    let lab = format!("pwbc{}", std::process::id() % 100_000);
    let network = format!("pwbc{}", std::process::id() % 100_000);
    let mut floors = Vec::new();
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for round in 0..rounds {
        // Alternating which goes first, so neither always runs on a warmer runtime.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            match which {
                0 => floors.push(floor(&rt, &format!("{network}f"))?),
                _ => {
                    let (up, down) = patchwire_up(&rt, &lab, &network)?;
                    ups.push(up);
                    downs.push(down);
                }
            }
        }
        println!(
            "round {}: floor {:.2} s, patchwire up {:.2} s (down {:.2} s)",
            round + 1,
            floors[round].as_secs_f64(),
            ups[round].as_secs_f64(),
            downs[round].as_secs_f64()
        );
    }
    let median = |v: &[Duration]| support::report::median(v.to_vec());
    let (floor, up) = (median(&floors), median(&ups));
    println!(
        "{} containers, 100 links, {}: floor (the runtime alone, {PARALLEL} at a time) {:.2} s; \
         patchwire up {:.2} s; patchwire's share {:.1} % over the floor (target <= 15 %)",
        NODES,
        kind,
        floor.as_secs_f64(),
        up.as_secs_f64(),
        (up.as_secs_f64() / floor.as_secs_f64() - 1.0) * 100.0
    );
    drop(rt);
    drop(scratch);
    Ok(())
}
