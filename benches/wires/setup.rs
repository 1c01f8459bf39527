//! A. Set-up: wires made and torn down by patchwire, `tc -batch`, one `tc` per command and the
//! kernel floor, on ends down and up.

use super::*;

/// One tool's median set-up and teardown of `wires` wires.
#[derive(Clone, Copy)]
pub(crate) struct Timed {
    pub(crate) wires: usize,
    pub(crate) setup: Duration,
    pub(crate) teardown: Duration,
}

impl Timed {
    pub(crate) fn rate(&self) -> f64 {
        self.wires as f64 / self.setup.as_secs_f64()
    }

    pub(crate) fn median(runs: &[Timed]) -> Timed {
        Timed {
            wires: runs[0].wires,
            setup: median(runs.iter().map(|t| t.setup).collect()),
            teardown: median(runs.iter().map(|t| t.teardown).collect()),
        }
    }
}

pub(crate) struct SetupRow {
    pub(crate) interfaces: usize,
    /// The ends were up (else down, as created).
    pub(crate) up: bool,
    pub(crate) wires: usize,
    pub(crate) patchwire: Timed,
    pub(crate) tc_batch: Timed,
    pub(crate) tc_each: Option<Timed>,
    /// The kernel's share: the same 2N clsact qdiscs alone (no filters), by `tc -batch`.
    pub(crate) floor: Timed,
    /// patchwire with the eBPF datapath (for some N only).
    pub(crate) ebpf: Option<Timed>,
    /// Per run, the set-up time with the eBPF datapath and with the tc datapath (measured one
    /// after the other).
    pub(crate) ebpf_runs: Vec<(Duration, Duration)>,
}

pub(crate) struct SetupResult {
    /// (interfaces present afterwards, pairs added, time `ip -batch` took)
    pub(crate) created: Vec<(usize, usize, Duration)>,
    pub(crate) raised: Option<Raised>,
    pub(crate) rows: Vec<SetupRow>,
    /// Kernel memory of the tc and the eBPF datapath's wires (measured once, ends up).
    pub(crate) memory: Option<MemoryResult>,
    /// Wall time of the whole set-up section (creating, bringing up, measuring).
    pub(crate) took: Duration,
}

/// Bringing every end in `lab` and every peer in `far` up (not part of any measured figure).
pub(crate) struct Raised {
    /// Ends in `lab` (as many peers in `far`).
    pub(crate) ends: usize,
    /// `ip -n lab -batch` of `link set dev l<i> up`.
    pub(crate) lab: Duration,
    /// `ip -n far -batch` of `link set dev x<i> up`.
    pub(crate) far: Duration,
    /// From the end of the last `ip -batch` until every end in `lab` and `far` reported
    /// operstate UP.
    pub(crate) settle: Duration,
}

/// The lab: `interfaces` veth ends in `lab`, peers in `far`.
pub(crate) struct Lab {
    pub(crate) lab: String,
    pub(crate) far: String,
    pub(crate) interfaces: usize,
    /// Every end in `lab` and its peer in `far` is up.
    pub(crate) up: bool,
}

pub(crate) fn ends(k: usize) -> (String, String) {
    (format!("l{}", 2 * k), format!("l{}", 2 * k + 1))
}

pub(crate) fn setup_bench(config: &Config, scratch: &mut Scratch) -> Result<SetupResult> {
    let mut lab = Lab {
        lab: scratch.netns("lab")?,
        far: scratch.netns("far")?,
        interfaces: 0,
        up: false,
    };
    let section = Instant::now();
    let mut result = SetupResult {
        created: Vec::new(),
        raised: None,
        rows: Vec::new(),
        memory: None,
        took: Duration::ZERO,
    };
    for stage in config.stages() {
        ensure!(
            stage.up || !lab.up,
            "a stage with ends down must come before the ends are brought up"
        );
        if stage.interfaces > lab.interfaces {
            ensure!(!lab.up, "the lab grows only while its ends are down");
            let before = lab.interfaces;
            let took = grow_lab(scratch, &mut lab, stage.interfaces)?;
            eprintln!(
                "set-up: created {} veth ends in {} ({} present)",
                stage.interfaces - before,
                fmt_duration(took),
                stage.interfaces
            );
            result
                .created
                .push((stage.interfaces, (stage.interfaces - before) / 2, took));
        }
        if stage.up && !lab.up {
            let raised = bring_up(scratch, &mut lab)?;
            eprintln!(
                "set-up: brought {} ends in {} and their peers in {} up in {} + {}; \
                 all reported operstate UP {} later ({:.0} s into the section)",
                raised.ends,
                lab.lab,
                lab.far,
                fmt_duration(raised.lab),
                fmt_duration(raised.far),
                fmt_duration(raised.settle),
                section.elapsed().as_secs_f64()
            );
            result.raised = Some(raised);
        }
        // (wires, set-up time) of the last tc -batch row, for projecting the next one.
        let mut tc_last: Option<(usize, Duration)> = None;
        for &n in &stage.wires {
            ensure!(
                2 * n <= lab.interfaces,
                "{n} wires need {} interfaces",
                2 * n
            );
            let projected =
                tc_last.map(|(m, took)| took.as_secs_f64() * (n as f64 / m as f64).powi(2));
            let tc_n = match projected {
                Some(secs) if secs > TC_BATCH_CAP.as_secs_f64() => n.min(1_000),
                _ => n,
            };
            let ebpf = stage.ebpf.contains(&n);
            let (mut pw, mut eb, mut tb, mut fl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..config.runs() {
                pw.push(patchwire_run(&lab, n, Datapath::Tc)?);
                if ebpf {
                    eb.push(patchwire_run(&lab, n, Datapath::Ebpf)?);
                }
                tb.push(tc_batch_run(scratch, &lab, tc_n)?);
                fl.push(qdisc_floor_run(scratch, &lab, n)?);
            }
            let tc_each = match stage.per_command == Some(n) {
                true => Some(tc_each_run(&lab, n)?),
                false => None,
            };
            let row = SetupRow {
                interfaces: lab.interfaces,
                up: lab.up,
                wires: n,
                patchwire: Timed::median(&pw),
                tc_batch: Timed::median(&tb),
                tc_each,
                floor: Timed::median(&fl),
                ebpf: (!eb.is_empty()).then(|| Timed::median(&eb)),
                ebpf_runs: eb
                    .iter()
                    .zip(&pw)
                    .map(|(e, t)| (e.setup, t.setup))
                    .collect(),
            };
            tc_last = Some((row.tc_batch.wires, row.tc_batch.setup));
            eprintln!(
                "set-up: {} interfaces {}, {n} wires: patchwire {}{}, tc -batch {} ({} wires), \
                 floor {} ({:.0} s into the section)",
                lab.interfaces,
                if lab.up { "up" } else { "down" },
                fmt_duration(row.patchwire.setup),
                row.ebpf.map_or_else(String::new, |e| format!(
                    " (eBPF datapath {})",
                    fmt_duration(e.setup)
                )),
                fmt_duration(row.tc_batch.setup),
                tc_n,
                fmt_duration(row.floor.setup),
                section.elapsed().as_secs_f64()
            );
            result.rows.push(row);
        }
    }
    if lab.up {
        let (wires, runs) = config.memory_wires();
        let memory = memory_bench(&lab, wires, runs)?;
        eprintln!(
            "set-up: kernel memory per wire ({wires} wires): tc {:.2} KiB, eBPF {:.2} KiB \
             ({:.0} s into the section)",
            memory.tc.median(Snapshot::sum_kib) / wires as f64,
            memory.ebpf.median(Snapshot::sum_kib) / wires as f64,
            section.elapsed().as_secs_f64()
        );
        result.memory = Some(memory);
    }
    result.took = section.elapsed();
    Ok(result)
}

/// Adds veth pairs `x<i>` (in far) / `l<i>` (in lab) until lab holds `interfaces` ends.
pub(crate) fn grow_lab(scratch: &Scratch, lab: &mut Lab, interfaces: usize) -> Result<Duration> {
    let mut took = Duration::ZERO;
    let mut from = lab.interfaces;
    while from < interfaces {
        let to = interfaces.min(from + CREATE_CHUNK);
        let mut script = String::new();
        for i in from..to {
            writeln!(
                script,
                "link add x{i} type veth peer name l{i} netns {}",
                lab.lab
            )?;
        }
        let file = scratch.file("create.batch", &script)?;
        let start = Instant::now();
        run(Command::new("ip")
            .args(["-n", &lab.far, "-batch"])
            .arg(&file))?;
        took += start.elapsed();
        from = to;
    }
    let present = ip(&["-n", &lab.lab, "-o", "link", "show"])?.lines().count() - 1; // less lo
    ensure!(
        present == interfaces,
        "{} holds {present} interfaces, expected {interfaces}",
        lab.lab
    );
    lab.interfaces = interfaces;
    Ok(took)
}

/// Sets every end in `lab` and every peer in `far` up with `ip -batch` (chunked like creation),
/// then waits until every end in both reports operstate UP, so that no link-state work is
/// pending when the measurements start.
pub(crate) fn bring_up(scratch: &Scratch, lab: &mut Lab) -> Result<Raised> {
    let set_up = |ns: &str, prefix: &str| -> Result<Duration> {
        let mut took = Duration::ZERO;
        let mut from = 0;
        while from < lab.interfaces {
            let to = lab.interfaces.min(from + CREATE_CHUNK);
            let mut script = String::new();
            for i in from..to {
                writeln!(script, "link set dev {prefix}{i} up")?;
            }
            let file = scratch.file("up.batch", &script)?;
            let start = Instant::now();
            run(Command::new("ip").args(["-n", ns, "-batch"]).arg(&file))?;
            took += start.elapsed();
            from = to;
        }
        Ok(took)
    };
    let took = [set_up(&lab.lab, "l")?, set_up(&lab.far, "x")?];
    let start = Instant::now();
    let deadline = start + Duration::from_secs(300);
    for ns in [&lab.lab, &lab.far] {
        loop {
            let links = ip(&["-n", ns, "-o", "link", "show"])?;
            let up = links
                .lines()
                .filter(|l| !l.contains(": lo:"))
                .filter(|l| l.contains(",UP,LOWER_UP>") && l.contains(" state UP "))
                .count();
            if up == lab.interfaces {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "only {up} of {} ends in {ns} are up with carrier 300 s after setting them up",
                lab.interfaces
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    lab.up = true;
    Ok(Raised {
        ends: lab.interfaces,
        lab: took[0],
        far: took[1],
        settle: start.elapsed(),
    })
}

pub(crate) fn patchwire_run(lab: &Lab, n: usize, datapath: Datapath) -> Result<Timed> {
    let start = Instant::now();
    patchwire_link(lab, n, datapath)?;
    let setup = start.elapsed();
    check_wired_with(lab, n, datapath)?;

    let start = Instant::now();
    patchwire_unlink(lab, n)?;
    let teardown = start.elapsed();
    check_clean(lab)?;
    Ok(Timed {
        wires: n,
        setup,
        teardown,
    })
}

/// The first n wires, made by one `wire::link` call with the given datapath.
pub(crate) fn patchwire_link(lab: &Lab, n: usize, datapath: Datapath) -> Result<()> {
    let requests: Vec<WireRequest> = (0..n)
        .map(|k| {
            let (a, b) = ends(k);
            WireRequest::new(&a, &b)
        })
        .collect();
    let options = LinkOptions {
        datapath,
        ..LinkOptions::default()
    };
    let made = wire::link(Netns::open(Some(&lab.lab))?, &requests, &options)?;
    ensure!(
        made.created.len() == n,
        "patchwire made {} of {n} wires ({datapath} datapath)",
        made.created.len()
    );
    Ok(())
}

/// Removes every wire in `lab` (n of them) with one `wire::unlink(all)` call.
pub(crate) fn patchwire_unlink(lab: &Lab, n: usize) -> Result<()> {
    let removed = wire::unlink(Netns::open(Some(&lab.lab))?, &[], true)?;
    ensure!(
        removed.removed.len() == n && removed.qdiscs_removed.len() == 2 * n,
        "patchwire unlink removed {} wires and {} qdiscs, expected {n} and {}",
        removed.removed.len(),
        removed.qdiscs_removed.len(),
        2 * n
    );
    Ok(())
}

/// The tc commands (without `tc -n lab`) that make the first `n` wires, and that remove them.
pub(crate) fn tc_commands(n: usize) -> (Vec<String>, Vec<String>) {
    let (mut add, mut del) = (Vec::new(), Vec::new());
    for k in 0..n {
        let (a, b) = ends(k);
        add.push(format!("qdisc add dev {a} clsact"));
        add.push(format!("qdisc add dev {b} clsact"));
        for (from, to) in [(&a, &b), (&b, &a)] {
            add.push(format!(
                "filter add dev {from} ingress pref {WIRE_PRIO} protocol all u32 match u32 0 0 \
                 action mirred egress redirect dev {to}"
            ));
        }
        del.push(format!("qdisc del dev {a} clsact"));
        del.push(format!("qdisc del dev {b} clsact"));
    }
    (add, del)
}

/// Only the 2N `qdisc add ... clsact` of the first n wires (and their removal), by `tc -batch`:
/// what the kernel alone needs. Each clsact binds two tc blocks, and every bind walks a global
/// list of all bound blocks (flow_indr_dev_setup_offload), so this grows with the square of
/// the number of qdiscs on the machine — for any tool.
pub(crate) fn qdisc_floor_run(scratch: &Scratch, lab: &Lab, n: usize) -> Result<Timed> {
    let (add, del) = tc_commands(n);
    let add: Vec<String> = add.into_iter().filter(|c| c.starts_with("qdisc")).collect();
    timed_tc_batches(scratch, lab, n, "tc-floor", &add, &del, |lab| {
        ensure!(
            clsact_count(lab)? == 2 * n,
            "kernel floor: expected {} clsact qdiscs",
            2 * n
        );
        Ok(())
    })
}

pub(crate) fn tc_batch_run(scratch: &Scratch, lab: &Lab, n: usize) -> Result<Timed> {
    let (add, del) = tc_commands(n);
    timed_tc_batches(scratch, lab, n, "tc", &add, &del, |lab| check_wired(lab, n))
}

/// Times `tc -batch` of the `add` commands, checks the result, then times `del` and checks
/// that nothing is left.
pub(crate) fn timed_tc_batches(
    scratch: &Scratch,
    lab: &Lab,
    n: usize,
    name: &str,
    add: &[String],
    del: &[String],
    check: impl Fn(&Lab) -> Result<()>,
) -> Result<Timed> {
    let add = scratch.file(&format!("{name}-add.batch"), &(add.join("\n") + "\n"))?;
    let del = scratch.file(&format!("{name}-del.batch"), &(del.join("\n") + "\n"))?;
    let start = Instant::now();
    run(Command::new("tc")
        .args(["-n", &lab.lab, "-batch"])
        .arg(&add))?;
    let setup = start.elapsed();
    check(lab)?;
    let start = Instant::now();
    run(Command::new("tc")
        .args(["-n", &lab.lab, "-batch"])
        .arg(&del))?;
    let teardown = start.elapsed();
    check_clean(lab)?;
    Ok(Timed {
        wires: n,
        setup,
        teardown,
    })
}

pub(crate) fn tc_each_run(lab: &Lab, n: usize) -> Result<Timed> {
    let (add, del) = tc_commands(n);
    let each = |commands: &[String]| -> Result<Duration> {
        let start = Instant::now();
        for command in commands {
            run(Command::new("tc")
                .args(["-n", &lab.lab])
                .args(command.split_whitespace()))?;
        }
        Ok(start.elapsed())
    };
    let setup = each(&add)?;
    check_wired(lab, n)?;
    let teardown = each(&del)?;
    check_clean(lab)?;
    Ok(Timed {
        wires: n,
        setup,
        teardown,
    })
}

pub(crate) fn clsact_count(lab: &Lab) -> Result<usize> {
    let qdiscs = run(Command::new("tc").args(["-n", &lab.lab, "qdisc", "show"]))?;
    Ok(qdiscs
        .lines()
        .filter(|l| l.starts_with("qdisc clsact"))
        .count())
}

/// 2n clsact qdiscs, and the first and last wire redirect each way to their other end (by
/// u32 + mirred).
pub(crate) fn check_wired(lab: &Lab, n: usize) -> Result<()> {
    check_wired_with(lab, n, Datapath::Tc)
}

/// 2n clsact qdiscs, and the first and last wire redirect each way to their other end: by
/// u32 + mirred, or by a direct-action cls_bpf program whose name is patchwire's record.
pub(crate) fn check_wired_with(lab: &Lab, n: usize, datapath: Datapath) -> Result<()> {
    let count = clsact_count(lab)?;
    ensure!(
        count == 2 * n,
        "{} holds {count} clsact qdiscs after set-up, expected {}",
        lab.lab,
        2 * n
    );
    for k in [0, n - 1] {
        let (a, b) = ends(k);
        for (from, to) in [(&a, &b), (&b, &a)] {
            let filters =
                run(Command::new("tc")
                    .args(["-n", &lab.lab, "filter", "show", "dev", from, "ingress"]))?;
            let redirects = match datapath {
                Datapath::Tc => filters.contains(&format!("Egress Redirect to device {to})")),
                Datapath::Ebpf => {
                    filters.contains(" direct-action ")
                        && ebpf_records(&filters)
                            .iter()
                            .any(|r| r.starts_with(&format!("pw-wire to={to} index=")))
                }
            };
            ensure!(
                redirects,
                "{from} does not redirect to {to} ({datapath} datapath) after set-up:\n{filters}"
            );
        }
    }
    Ok(())
}

/// The records (filter names `pw-wire to=NAME index=N [peer=1]`) of the eBPF wire filters in
/// the output of `tc filter show`.
pub(crate) fn ebpf_records(filters: &str) -> Vec<String> {
    filters
        .lines()
        .filter_map(|l| {
            let record = &l[l.find("pw-wire ")?..];
            Some(record[..record.find(" direct-action").unwrap_or(record.len())].to_string())
        })
        .collect()
}

/// Fails loudly when a teardown left a clsact qdisc behind.
pub(crate) fn check_clean(lab: &Lab) -> Result<()> {
    let count = clsact_count(lab)?;
    ensure!(
        count == 0,
        "{} still holds {count} clsact qdiscs after teardown",
        lab.lab
    );
    Ok(())
}
