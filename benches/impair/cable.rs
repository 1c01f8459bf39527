//! The cable: how soon both nodes of a lab link are told NO-CARRIER after a pull, and carrier
//! after it is put back — measured from the call to the kernel's notification in each node's
//! namespace (RTNLGRP_LINK, what a routing daemon such as FRR reacts to), the later of the two.
//!
//! A two-node lab made by `patchwire up` (so its panel ports are what users get, ifindexes
//! chosen apart from their peers': an equal pair would have the kernel's link watch delay the
//! node's event by up to a second). Four ways, alternating each round:
//! - **floor**: both panel ports set down (up) in one netlink batch by hand — what any tool pays;
//! - **library**: `impair::cable::cut` / `mend` in-process (what `up` and `watch --lab` call);
//! - **`patchwire cut --lab` / `mend --lab`**: the CLI as a user types it (a process start,
//!   the lab file read, the lock taken);
//! - **`patchwire up` with `state: down`** written into the file / taken out: the whole plan and
//!   apply of the lab (the "state: down → both nodes NO-CARRIER within 50 ms").

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use patchwire::impair::cable;
use patchwire::netns::Netns;
use patchwire::nl::link::{self, Link};
use patchwire::nl::{RTNLGRP_LINK, RouteSocket};

use super::support::Scratch;
use super::support::report::median;

const BIN: &str = env!("CARGO_BIN_EXE_patchwire");
/// How long one transition may take before the run is declared broken.
const LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Floor,
    Library,
    Cli,
    Up,
}

const WAYS: [Way; 4] = [Way::Floor, Way::Library, Way::Cli, Way::Up];

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Floor => "floor: one netlink batch",
            Way::Library => "impair::cable cut/mend",
            Way::Cli => "patchwire cut/mend --lab",
            Way::Up => "patchwire up, state: down",
        }
    }
}

fn lab_text(name: &str, down: bool) -> String {
    let state = if down { "      state: down\n" } else { "" };
    format!(
        "name: {name}\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n  links:\n    - endpoints: \
         [\"r1:eth1\", \"r2:eth1\"]\n{state}"
    )
}

fn patchwire(args: &[&str]) -> Result<()> {
    let output = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {BIN}"))?;
    if !output.status.success() {
        bail!(
            "patchwire {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The lab, taken down when dropped (also on error).
struct Lab<'a> {
    file: &'a Path,
}

impl Drop for Lab<'_> {
    fn drop(&mut self) {
        let _ = patchwire(&["down", &self.file.to_string_lossy()]);
    }
}

/// Tells, from a thread listening in a node's namespace, when its eth1 is told `carrier`.
struct Listener {
    node: Netns,
}

impl Listener {
    /// Starts listening (before the action, so no notification is missed) and returns a
    /// receiver of the moment the node's eth1 is seen with carrier `want` after a notification.
    fn arm(&self, want: bool) -> Result<mpsc::Receiver<Result<Instant>>> {
        let (events, mut state) = self.node.run(|| -> std::io::Result<_> {
            let events = RouteSocket::open()?;
            events.subscribe(RTNLGRP_LINK)?;
            Ok((events, RouteSocket::open()?))
        })??;
        let mut events = events;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let deadline = Instant::now() + LIMIT;
            let outcome = loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(anyhow::anyhow!("eth1 never showed carrier {want}"));
                }
                match events.wait_notifications(left.min(Duration::from_millis(100))) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => break Err(e.into()),
                }
                let at = Instant::now();
                match eth1(&mut state) {
                    Ok(link) if link.carrier == want => break Ok(at),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            };
            let _ = tx.send(outcome);
        });
        Ok(rx)
    }
}

fn eth1(socket: &mut RouteSocket) -> Result<Link> {
    link::list(socket)?
        .into_iter()
        .find(|l| l.name == "eth1")
        .context("a node has no eth1")
}

/// Time from `action` to both nodes told carrier `want`.
fn transition(
    nodes: &[Listener; 2],
    want: bool,
    action: impl FnOnce() -> Result<()>,
) -> Result<Duration> {
    let armed = [nodes[0].arm(want)?, nodes[1].arm(want)?];
    let start = Instant::now();
    action()?;
    let mut last = start;
    for rx in armed {
        let at = rx
            .recv_timeout(LIMIT + Duration::from_secs(1))
            .context("a listener hung")??;
        last = last.max(at);
    }
    Ok(last - start)
}

pub fn run(scratch: &Scratch, rounds: usize) -> Result<()> {
    let name = format!("pwb{}c", std::process::id());
    let file = scratch.file("cable.clab.yml", &lab_text(&name, false))?;
    let path = file.to_string_lossy().into_owned();
    patchwire(&["up", &path])?;
    let _lab = Lab { file: &file };
    let panel = Netns::open(Some(&format!("{name}.panel")))?;
    let nodes = [
        Listener {
            node: Netns::open(Some(&format!("{name}-r1")))?,
        },
        Listener {
            node: Netns::open(Some(&format!("{name}-r2")))?,
        },
    ];
    let mut socket = panel.route()?;
    let ports: Vec<Link> = link::list(&mut socket)?
        .into_iter()
        .filter(|l| l.name == "r1.eth1" || l.name == "r2.eth1")
        .collect();
    ensure!(
        ports.len() == 2,
        "the lab's panel has no r1.eth1 and r2.eth1"
    );
    let mut set_ports = |up: bool| -> Result<()> {
        let requests = ports
            .iter()
            .map(|p| (link::set_up(p.index, up), 0))
            .collect();
        for reply in socket.batch(requests) {
            reply?;
        }
        Ok(())
    };
    let mut pulls: Vec<Vec<Duration>> = vec![Vec::new(); WAYS.len()];
    let mut backs: Vec<Vec<Duration>> = vec![Vec::new(); WAYS.len()];
    for round in 0..rounds {
        for k in 0..WAYS.len() {
            let i = (k + round) % WAYS.len();
            let (pull, back) = match WAYS[i] {
                Way::Floor => (
                    transition(&nodes, false, || set_ports(false))?,
                    transition(&nodes, true, || set_ports(true))?,
                ),
                Way::Library => (
                    transition(&nodes, false, || {
                        Ok(cable::cut(&panel, "r1.eth1").map(|_| ())?)
                    })?,
                    transition(&nodes, true, || {
                        Ok(cable::mend(&panel, "r1.eth1").map(|_| ())?)
                    })?,
                ),
                Way::Cli => (
                    transition(&nodes, false, || {
                        patchwire(&["cut", "--lab", &path, "r1:eth1"])
                    })?,
                    transition(&nodes, true, || {
                        patchwire(&["mend", "--lab", &path, "r1:eth1"])
                    })?,
                ),
                Way::Up => {
                    let pull = transition(&nodes, false, || {
                        std::fs::write(&file, lab_text(&name, true))?;
                        patchwire(&["up", &path])
                    })?;
                    let back = transition(&nodes, true, || {
                        std::fs::write(&file, lab_text(&name, false))?;
                        patchwire(&["up", &path])
                    })?;
                    (pull, back)
                }
            };
            pulls[i].push(pull);
            backs[i].push(back);
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\ncable: from the call to both nodes told (RTNLGRP_LINK in each node), lab r1:eth1 <-> \
         r2:eth1, {rounds} rounds, median / max"
    );
    println!(
        "{:<28} {:>20} {:>20} {:>12}",
        "", "pull → NO-CARRIER", "put back → carrier", "pull ÷ floor"
    );
    let floor = median(pulls[0].iter().map(|d| ms(*d)).collect());
    for (i, way) in WAYS.iter().enumerate() {
        let pull: Vec<f64> = pulls[i].iter().map(|d| ms(*d)).collect();
        let back: Vec<f64> = backs[i].iter().map(|d| ms(*d)).collect();
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<28} {:>9.2} / {:>6.2} ms {:>9.2} / {:>6.2} ms {:>12.1}",
            way.label(),
            median(pull.clone()),
            max(&pull),
            median(back.clone()),
            max(&back),
            median(pull.clone()) / floor
        );
    }
    Ok(())
}
