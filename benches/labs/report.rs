//! The report: the environment line and the table.

use super::*;
use crate::support::report::{first_line, kernel_and_cores};

#[derive(Default)]
pub(crate) struct Results {
    pub(crate) bare: Vec<HandRun>,
    pub(crate) script: Vec<HandRun>,
    pub(crate) patchwire: Vec<PatchwireRun>,
}

pub(crate) fn environment() -> String {
    let (kernel, cores) = kernel_and_cores();
    format!(
        "patchwire lab benchmark: Linux {kernel}, {cores} cores, {}, {BIN}\n",
        first_line(Command::new("ip").arg("-V")),
    )
}

pub(crate) fn table(config: &Config, results: &Results) -> String {
    let mut out = String::new();
    let med = |runs: &[HandRun], f: fn(&HandRun) -> Duration| {
        median(runs.iter().map(f).collect::<Vec<_>>())
    };
    let pmed = |f: &dyn Fn(&PatchwireRun) -> Duration| {
        median(results.patchwire.iter().map(f).collect::<Vec<_>>())
    };
    let secs = |d: Duration| d.as_secs_f64();
    let rounds = config.rounds;
    let _ = writeln!(
        out,
        "C. labs: {NODES} nodes, {WIRES} wires and {HUBS} hubs of {HUB_MEMBERS} ({PORTS} veth pairs, \
         one end in a node, the other in the panel);\n   wall time of the commands, median of \
         {rounds} round(s), (a), (b) and (c) alternating{}.\n",
        if rounds < 3 {
            " (fewer than 3 rounds: medians of few)"
        } else {
            ""
        }
    );
    let (a_up, a_del) = (
        med(&results.bare, |r| r.up),
        med(&results.bare, |r| r.delete),
    );
    let b_up = med(&results.script, |r| r.up);
    let up = pmed(&|r| r.up.took);
    let up_own = median(results.patchwire.iter().map(|r| r.up.reported).collect());
    let unchanged = pmed(&|r| r.unchanged_up);
    let unchanged_plan = pmed(&|r| r.unchanged_plan);
    let plan_empty = pmed(&|r| r.plan_empty);
    let small = pmed(&|r| r.small.up.took);
    let small_plan = pmed(&|r| r.small.plan);
    let large = pmed(&|r| r.large.up.took);
    let large_plan = pmed(&|r| r.large.plan);
    let down = pmed(&|r| r.down);
    let changes =
        |f: fn(&PatchwireRun) -> usize| median(results.patchwire.iter().map(f).collect::<Vec<_>>());
    let (up_changes, small_changes, large_changes) = (
        changes(|r| r.up.changes),
        changes(|r| r.small.up.changes),
        changes(|r| r.large.up.changes),
    );

    let _ = writeln!(
        out,
        "{:<48} {:>9} {:>19} {:>6} | {:>9} {:>19} {:>6} | {:>9}",
        "", "build", "(min-max)", "÷ (a)", "deletion", "(min-max)", "÷ (a)", "+ cleanup"
    );
    let range = |values: Vec<Duration>| {
        let (min, max) = (
            values.iter().min().copied().unwrap_or_default(),
            values.iter().max().copied().unwrap_or_default(),
        );
        format!("({}-{})", fmt_duration(min), fmt_duration(max))
    };
    let row = |out: &mut String,
               what: &str,
               builds: Vec<Duration>,
               deletes: Vec<Duration>,
               cleanups: Vec<Duration>| {
        let (build, delete) = (median(builds.clone()), median(deletes.clone()));
        let whole: Vec<Duration> = deletes
            .iter()
            .zip(&cleanups)
            .map(|(d, c)| *d + *c)
            .collect();
        let _ = writeln!(
            out,
            "{:<48} {:>9} {:>19} {:>6.2} | {:>9} {:>19} {:>6.2} | {:>9}",
            what,
            fmt_duration(build),
            range(builds),
            secs(build) / secs(a_up),
            fmt_duration(delete),
            range(deletes),
            secs(delete) / secs(a_del),
            fmt_duration(median(whole))
        );
    };
    for (what, runs) in [
        ("(a) bare kernel work, ip -batch", &results.bare),
        (
            "(b) (a) + tc -batch wires, bridges for hubs *",
            &results.script,
        ),
    ] {
        row(
            &mut out,
            what,
            runs.iter().map(|r| r.up).collect(),
            runs.iter().map(|r| r.delete).collect(),
            runs.iter().map(|r| r.cleanup).collect(),
        );
    }
    row(
        &mut out,
        "(c) patchwire up / down",
        results.patchwire.iter().map(|r| r.up.took).collect(),
        results.patchwire.iter().map(|r| r.down).collect(),
        results.patchwire.iter().map(|r| r.cleanup).collect(),
    );
    let _ = writeln!(
        out,
        "    deletion = wall time of the commands (ip -batch of 201 netns del; patchwire down); \
         + cleanup = until the kernel\n    has finished cleaning up (a veth probe quick and the CPUs \
         idle three times in a row, 120 ms apart: >= 0.36 s by construction)"
    );
    let _ = writeln!(
        out,
        "\n    patchwire up from nothing: {} changes, {} wall ({:.2} s by its own clock); \
         up ÷ (a) = {:.2}, up ÷ (b) = {:.2} ((b) ÷ up = {:.2})",
        up_changes,
        fmt_duration(up),
        up_own,
        secs(up) / secs(a_up),
        secs(up) / secs(b_up),
        secs(b_up) / secs(up)
    );
    let _ = writeln!(
        out,
        "    patchwire up unchanged: {} (\"up to date\"); plan -j unchanged: {}; plan -j before the \
         lab exists: {}",
        fmt_duration(unchanged),
        fmt_duration(unchanged_plan),
        fmt_duration(plan_empty)
    );
    for (n, changes, took, planned) in [
        (EDIT_SMALL, small_changes, small, small_plan),
        (EDIT_LARGE, large_changes, large, large_plan),
    ] {
        let _ = writeln!(
            out,
            "    edit, {n} wires re-pointed: up {} for {changes} changes ({:.2} × full up, for {:.1} % \
             of its changes); plan -j first {}; above an unchanged up {} = {:.1} ms a wire",
            fmt_duration(took),
            secs(took) / secs(up),
            100.0 * changes as f64 / up_changes as f64,
            fmt_duration(planned),
            fmt_duration(took.saturating_sub(unchanged)),
            secs(took.saturating_sub(unchanged)) * 1e3 / n as f64
        );
    }
    let _ = writeln!(
        out,
        "    patchwire down ÷ bare deletion (a) = {:.2}; patchwire -n PANEL show -j (the panel's 1,000 \
         wires, read by every up, plan and down) {}",
        secs(down) / secs(a_del),
        fmt_duration(pmed(&|r| r.show_wires))
    );

    // Where the time of (a) and (b) goes.
    for (label, runs) in [("(a)", &results.bare), ("(b)", &results.script)] {
        let names: Vec<&str> = runs[0].phases.iter().map(|(n, _)| *n).collect();
        let parts: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "{n} {}",
                    fmt_duration(median(runs.iter().map(|r| r.phases[i].1).collect()))
                )
            })
            .collect();
        let _ = writeln!(out, "    {label} phases: {}", parts.join(", "));
    }
    // (a) and (b) without what their 200 processes cost by themselves: estimates of the
    // kernel's share.
    let processes = med(&results.bare, |r| r.processes);
    let kernel = a_up.saturating_sub(processes);
    let script_processes = med(&results.script, |r| r.processes);
    let script_kernel = b_up.saturating_sub(script_processes);
    let _ = writeln!(
        out,
        "    200 ip -n NODE processes that only read lo take {} ((b): {}): (a) less that is ~{} of \
         kernel work (and 4 ip processes),\n    (b) less that ~{} (and 5 processes); patchwire up ÷ \
         those = {:.2} and {:.2}",
        fmt_duration(processes),
        fmt_duration(script_processes),
        fmt_duration(kernel),
        fmt_duration(script_kernel),
        secs(up) / secs(kernel),
        secs(up) / secs(script_kernel)
    );
    let _ = writeln!(
        out,
        "    after building, every port reported operstate UP within (median) {} (a), {} (b), {} (c) \
         (waited for; in no figure)",
        fmt_duration(med(&results.bare, |r| r.settle)),
        fmt_duration(med(&results.script, |r| r.settle)),
        fmt_duration(pmed(&|r| r.settle)),
    );
    let _ = writeln!(
        out,
        "    * a plain tc script has no hub comparable to patchwire's; (b) makes each hub a Linux \
         bridge in the panel, as netlab and\n      containerlab do. (a) and (b) turn IPv6 off in \
         the panel as patchwire does, and add tc and bridges before the ports come up.\n"
    );

    let verdict = |met: bool| if met { "MET" } else { "NOT MET" };
    let _ = writeln!(out, "targets:");
    let _ = writeln!(
        out,
        "  up <= 1.3 × (a): {:.2} s ÷ {:.2} s = {:.2}: {}",
        secs(up),
        secs(a_up),
        secs(up) / secs(a_up),
        verdict(secs(up) <= 1.3 * secs(a_up))
    );
    let _ = writeln!(
        out,
        "  up >= 3 × faster than (b): {:.2} s ÷ {:.2} s = {:.2} × faster: {}",
        secs(b_up),
        secs(up),
        secs(b_up) / secs(up),
        verdict(secs(b_up) >= 3.0 * secs(up))
    );
    let _ = writeln!(
        out,
        "  unchanged up <= 0.5 s: {:.3} s: {}",
        secs(unchanged),
        verdict(secs(unchanged) <= 0.5)
    );
    // In proportion: 5 changes per re-pointed wire, and the time above an unchanged up (which
    // reads the lab) grows with the edit: a wire of the 10-wire edit costs at most 2 × a wire of
    // the 100-wire edit.
    let per_wire = |took: Duration, n: usize| secs(took.saturating_sub(unchanged)) / n as f64;
    let (small_wire, large_wire) = (per_wire(small, EDIT_SMALL), per_wire(large, EDIT_LARGE));
    let counts_ok = small_changes == CHANGES_PER_REPOINT * EDIT_SMALL
        && large_changes == CHANGES_PER_REPOINT * EDIT_LARGE;
    let _ = writeln!(
        out,
        "  edit costs in proportion to the change: {small_changes} changes for {EDIT_SMALL} wires, \
         {large_changes} for {EDIT_LARGE} (expected {} a wire);\n    \
         edit {:.3} s = {:.2} × full up; above an unchanged up {:.1} ms a wire at {EDIT_SMALL} wires, \
         {:.1} ms at {EDIT_LARGE} (rule: changes\n    as expected and a wire of the small edit \
         <= 2 × one of the large): {}",
        CHANGES_PER_REPOINT,
        secs(small),
        secs(small) / secs(up),
        small_wire * 1e3,
        large_wire * 1e3,
        verdict(counts_ok && small_wire <= 2.0 * large_wire)
    );
    let _ = writeln!(
        out,
        "  down <= 1.3 × bare deletion: {} ÷ {} = {:.2}: {}",
        fmt_duration(down),
        fmt_duration(a_del),
        secs(down) / secs(a_del),
        verdict(secs(down) <= 1.3 * secs(a_del))
    );
    // The same 201 `netns del` take ~15 ms or ~300 ms from run to run (each umount may wait for
    // an RCU grace period while the kernel is already cleaning up the namespaces released
    // before it), so the verdict is also given against the fastest of them.
    let fastest = results
        .bare
        .iter()
        .chain(&results.script)
        .map(|r| r.delete)
        .min()
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "    against the fastest bare deletion of any round of (a) or (b) (the same 201 netns del, \
         which vary\n    between ~15 ms and ~300 ms with the kernel's concurrent cleanup): {} ÷ {} = {:.2}: {}",
        fmt_duration(down),
        fmt_duration(fastest),
        secs(down) / secs(fastest),
        verdict(secs(down) <= 1.3 * secs(fastest))
    );
    out
}
