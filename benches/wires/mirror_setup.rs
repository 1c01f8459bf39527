//! C. Mirror set-up: M one-source mirrors (`--direction both`: a clsact qdisc and two copy
//! filters per source) to one destination, made and removed by
//! 1. patchwire, all M in one `mirror::add` call (what `mirror add --batch` does);
//! 2. patchwire, one `mirror::add` call per mirror (what a script of M `mirror add` commands
//!    does, minus process start-up): each call re-reads the namespace, so this grows with M²;
//! 3. `tc -batch` with the equivalent u32 match-all + `mirred egress mirror` filters (no
//!    checks at all: no names, no cycle or duplicate detection);
//! 4. the same tc commands, one `tc` process each (a shell script of tc lines).
//!
//! Teardown: `mirror::del(all)` and `tc -batch` of `qdisc del`. After each set-up the namespace
//! must hold M clsact qdiscs and the first and last source must copy to the destination; after
//! each teardown nothing may be left.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use patchwire::mirror::{self, Direction, MirrorSpec, Sources};
use patchwire::netns::Netns;

use crate::support::{Scratch, run};

pub struct MirrorSetup {
    pub mirrors: usize,
    pub batch: (Duration, Duration),
    pub one_by_one: (Duration, Duration),
    pub tc_batch: (Duration, Duration),
    pub tc_each: (Duration, Duration),
}

pub fn bench(scratch: &mut Scratch, mirrors: usize) -> Result<MirrorSetup> {
    let lab = scratch.netns("mlab")?;
    let far = scratch.netns("mfar")?;
    let mut script = String::from("link add mon0p type veth peer name mon0 netns ");
    script.push_str(&lab);
    script.push('\n');
    for i in 0..mirrors {
        writeln!(script, "link add x{i} type veth peer name s{i} netns {lab}")?;
    }
    let file = scratch.file("mirror-create.batch", &script)?;
    run(Command::new("ip").args(["-n", &far, "-batch"]).arg(&file))?;

    let specs: Vec<MirrorSpec> = (0..mirrors)
        .map(|i| MirrorSpec {
            name: format!("m{i}"),
            sources: Sources::List(vec![format!("s{i}")]),
            to: "mon0".into(),
            direction: Direction::Both,
            vlans: None,
            output_vlan: None,
            onto_wire: false,
            filter: None,
        })
        .collect();
    let netns = || Netns::open(Some(&lab));

    let start = Instant::now();
    let added = mirror::add(netns()?, &specs, None)?;
    let batch_setup = start.elapsed();
    ensure!(
        added.mirrors.len() == mirrors,
        "batch made {} mirrors",
        added.mirrors.len()
    );
    check(&lab, mirrors)?;
    let batch_teardown = teardown(&lab, mirrors)?;

    let start = Instant::now();
    for spec in &specs {
        mirror::add(netns()?, std::slice::from_ref(spec), None)?;
    }
    let each_setup = start.elapsed();
    check(&lab, mirrors)?;
    let each_teardown = teardown(&lab, mirrors)?;

    let (mut add, mut del) = (String::new(), String::new());
    for i in 0..mirrors {
        writeln!(add, "qdisc add dev s{i} clsact")?;
        for hook in ["ingress", "egress"] {
            writeln!(
                add,
                "filter add dev s{i} {hook} pref 16384 protocol all u32 match u32 0 0 \
                 action mirred egress mirror dev mon0 continue"
            )?;
        }
        writeln!(del, "qdisc del dev s{i} clsact")?;
    }
    let add = scratch.file("mirror-tc-add.batch", &add)?;
    let del = scratch.file("mirror-tc-del.batch", &del)?;
    let start = Instant::now();
    run(Command::new("tc").args(["-n", &lab, "-batch"]).arg(&add))?;
    let tc_setup = start.elapsed();
    check(&lab, mirrors)?;
    let start = Instant::now();
    run(Command::new("tc").args(["-n", &lab, "-batch"]).arg(&del))?;
    let tc_teardown = start.elapsed();
    ensure!(clsacts(&lab)? == 0, "tc teardown left qdiscs");

    // One tc process per command, as a shell script of tc lines runs.
    let each = |path: &std::path::Path| -> Result<Duration> {
        let text = std::fs::read_to_string(path)?;
        let start = Instant::now();
        for line in text.lines() {
            run(Command::new("tc")
                .args(["-n", &lab])
                .args(line.split_whitespace()))?;
        }
        Ok(start.elapsed())
    };
    let tc_each_setup = each(&add)?;
    check(&lab, mirrors)?;
    let tc_each_teardown = each(&del)?;
    ensure!(clsacts(&lab)? == 0, "tc teardown left qdiscs");

    Ok(MirrorSetup {
        mirrors,
        batch: (batch_setup, batch_teardown),
        one_by_one: (each_setup, each_teardown),
        tc_batch: (tc_setup, tc_teardown),
        tc_each: (tc_each_setup, tc_each_teardown),
    })
}

fn teardown(lab: &str, mirrors: usize) -> Result<Duration> {
    let start = Instant::now();
    let removed = mirror::del(Netns::open(Some(lab))?, &[], true)?;
    let took = start.elapsed();
    ensure!(
        removed.removed.len() == mirrors && removed.qdiscs_removed.len() == mirrors,
        "mirror del removed {} mirrors and {} qdiscs",
        removed.removed.len(),
        removed.qdiscs_removed.len()
    );
    ensure!(clsacts(lab)? == 0, "mirror del left qdiscs");
    Ok(took)
}

fn clsacts(lab: &str) -> Result<usize> {
    let qdiscs = run(Command::new("tc").args(["-n", lab, "qdisc", "show"]))?;
    Ok(qdiscs
        .lines()
        .filter(|l| l.starts_with("qdisc clsact"))
        .count())
}

/// M clsact qdiscs; the first and last source copy to mon0 on both hooks.
fn check(lab: &str, mirrors: usize) -> Result<()> {
    ensure!(clsacts(lab)? == mirrors, "expected {mirrors} clsact qdiscs");
    for i in [0, mirrors - 1] {
        for hook in ["ingress", "egress"] {
            let shown = run(Command::new("tc").args([
                "-n",
                lab,
                "filter",
                "show",
                "dev",
                &format!("s{i}"),
                hook,
            ]))?;
            ensure!(
                shown.contains("Egress Mirror to device mon0"),
                "s{i} {hook} does not copy to mon0: {shown}"
            );
        }
    }
    Ok(())
}

pub fn table(result: &MirrorSetup) -> String {
    let mut out = String::new();
    let m = result.mirrors;
    let _ = writeln!(
        out,
        "C. mirror set-up: {m} one-source mirrors (--direction both: clsact + 2 copy filters each) to one \
         destination"
    );
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>12} {:>10}",
        "tool", "set-up", "mirrors/s", "teardown"
    );
    for (label, (setup, teardown)) in [
        ("patchwire, one call (--batch)", result.batch),
        ("patchwire, one call per mirror", result.one_by_one),
        ("tc -batch (no checks)", result.tc_batch),
        ("tc, one process per command", result.tc_each),
    ] {
        let _ = writeln!(
            out,
            "{label:<34} {:>9.3}s {:>12.0} {:>9.3}s",
            setup.as_secs_f64(),
            m as f64 / setup.as_secs_f64(),
            teardown.as_secs_f64()
        );
    }
    out
}
