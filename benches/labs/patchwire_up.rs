//! (c): the lab built by `patchwire up`, edited, brought up unchanged, and taken down.

use super::*;

pub(crate) struct Ran {
    pub(crate) stdout: String,
    pub(crate) took: Duration,
}

/// Runs patchwire with `args`, killed after PROCESS_LIMIT; fails with its stderr unless it
/// succeeds. `took` is the wall time of the process.
pub(crate) fn patchwire(args: &[&str]) -> Result<Ran> {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = command.spawn().with_context(|| format!("starting {BIN}"))?;
    let pid = child.id() as libc::pid_t;
    let (done, watch) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let expired = matches!(
            watch.recv_timeout(PROCESS_LIMIT),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        if expired {
            // SAFETY: kill has no memory effects; `pid` is our child, not yet waited for
            // (the main thread signals before it could be reaped and reused).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        expired
    });
    let output = child.wait_with_output();
    let took = start.elapsed();
    let _ = done.send(());
    let killed = watchdog.join().unwrap_or(false);
    let output = output.with_context(|| format!("waiting for patchwire {}", args.join(" ")))?;
    ensure!(
        !killed,
        "patchwire {} did not finish within {} s and was killed",
        args.join(" "),
        PROCESS_LIMIT.as_secs()
    );
    if !output.status.success() {
        bail!(
            "patchwire {} failed ({}) after {}: {}{}",
            args.join(" "),
            output.status,
            fmt_duration(took),
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .map(|l| format!(" (last line of its output: {l})"))
                .unwrap_or_default()
        );
    }
    Ok(Ran {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        took,
    })
}

/// One `up` that changed something: its wall time, the change count it printed and the time
/// by its own clock ("lab NAME: N change(s) in S s", which leaves out reading the file and
/// starting the process).
pub(crate) struct Up {
    pub(crate) took: Duration,
    pub(crate) changes: usize,
    pub(crate) reported: f64,
}

pub(crate) fn up(file: &Path) -> Result<Up> {
    let ran = patchwire(&["up", path(file)?])?;
    let last = ran.stdout.lines().last().unwrap_or_default();
    let parse = || -> Option<(usize, f64)> {
        let (_, tail) = last.split_once(": ")?;
        let (count, tail) = tail.split_once(" change(s) in ")?;
        Some((count.parse().ok()?, tail.strip_suffix(" s")?.parse().ok()?))
    };
    let (changes, reported) =
        parse().with_context(|| format!("patchwire up printed {last:?} as its last line"))?;
    let listed = ran.stdout.lines().count() - 1;
    ensure!(
        listed == changes,
        "patchwire up listed {listed} changes but counted {changes}"
    );
    Ok(Up {
        took: ran.took,
        changes,
        reported,
    })
}

/// `plan -j FILE`: its wall time and the number of changes it lists.
pub(crate) fn plan(file: &Path) -> Result<(Duration, usize)> {
    let ran = patchwire(&["-j", "plan", path(file)?])?;
    let changes: Value = serde_json::from_str(&ran.stdout)
        .with_context(|| format!("patchwire plan -j printed {:?}", ran.stdout))?;
    let changes = changes
        .as_array()
        .context("patchwire plan -j printed no JSON array")?;
    Ok((ran.took, changes.len()))
}

pub(crate) fn path(file: &Path) -> Result<&str> {
    file.to_str().context("a lab file path that is not UTF-8")
}

/// An edit: `plan -j` (how long reading the lab and finding the difference takes), `up`, then
/// `plan -j` must be `[]`.
pub(crate) struct Edit {
    pub(crate) plan: Duration,
    pub(crate) up: Up,
}

pub(crate) fn edit(lab: &Lab, file: &Path, repointed: usize) -> Result<Edit> {
    let (plan_took, planned) = plan(file)?;
    let up = up(file)?;
    ensure!(
        planned == up.changes,
        "plan -j listed {planned} changes for the edit of {repointed} wires, up made {}",
        up.changes
    );
    let (_, left) = plan(file)?;
    ensure!(
        left == 0,
        "after editing {repointed} wires and running up, plan -j lists {left} changes, not []"
    );
    check_patchwire(lab, file)?;
    settle(lab, PORTS)?;
    Ok(Edit {
        plan: plan_took,
        up,
    })
}

pub(crate) struct PatchwireRun {
    pub(crate) up: Up,
    /// `plan -j` before anything exists (reading the file, finding no lab).
    pub(crate) plan_empty: Duration,
    /// `patchwire -n PANEL show -j` right after the first `up`.
    pub(crate) show_wires: Duration,
    pub(crate) settle: Duration,
    pub(crate) unchanged_up: Duration,
    pub(crate) unchanged_plan: Duration,
    pub(crate) small: Edit,
    pub(crate) large: Edit,
    pub(crate) down: Duration,
    pub(crate) cleanup: Duration,
}

pub(crate) fn with_patchwire(lab: &Lab, probe: &Probe) -> Result<PatchwireRun> {
    let (plan_empty, planned) = plan(&lab.files.base)?;
    let expected = 1 + NODES + PORTS + WIRES + HUBS;
    ensure!(
        planned == expected,
        "plan -j of the lab before up lists {planned} changes, expected {expected} \
         (namespaces, ports, wires, hubs)"
    );
    let up = up(&lab.files.base)?;
    ensure!(
        up.changes == expected,
        "patchwire up made {} changes, expected {expected}",
        up.changes
    );
    let show_wires = check_patchwire(lab, &lab.files.base)?;
    let settle = settle(lab, PORTS)?;

    let unchanged = patchwire(&["up", path(&lab.files.base)?])?;
    ensure!(
        unchanged.stdout.contains("up to date"),
        "patchwire up of an unchanged lab printed {:?}",
        unchanged.stdout.lines().last().unwrap_or_default()
    );
    let (unchanged_plan, left) = plan(&lab.files.base)?;
    ensure!(
        left == 0,
        "plan -j of an unchanged lab lists {left} changes, not []"
    );

    let small = edit(lab, &lab.files.small, EDIT_SMALL)?;
    let large = edit(lab, &lab.files.large, EDIT_LARGE)?;

    let down = patchwire(&["down", path(&lab.files.large)?])?;
    let removed = down
        .stdout
        .lines()
        .filter(|l| l.starts_with("removed netns "))
        .count();
    ensure!(
        removed == NODES + 1,
        "patchwire down removed {removed} namespaces, expected {}",
        NODES + 1
    );
    let cleanup = probe.await_cleanup(lab)?;
    Ok(PatchwireRun {
        up,
        plan_empty,
        show_wires,
        settle,
        unchanged_up: unchanged.took,
        unchanged_plan,
        small,
        large,
        down: down.took,
        cleanup,
    })
}

/// After `up` of `file`: the panel holds every port, `show -j` reports every wire ok and
/// `show --lab FILE -j` every link ok.
/// Returns the time `show -j` took (reading the panel's wires: part of what every `up`, `plan`
/// and `down` reads).
pub(crate) fn check_patchwire(lab: &Lab, file: &Path) -> Result<Duration> {
    let ports = panel_ports(lab)?;
    ensure!(
        ports == PORTS,
        "after patchwire up the panel holds {ports} ports, expected {PORTS}"
    );
    let show = patchwire(&["-n", &lab.panel, "-j", "show"])?;
    let wires: Value = serde_json::from_str(&show.stdout)?;
    let wires = wires.as_array().context("show -j printed no JSON array")?;
    let not_ok: Vec<String> = wires
        .iter()
        .filter(|w| w["health"] != "ok")
        .map(|w| w.to_string())
        .collect();
    ensure!(
        wires.len() == WIRES && not_ok.is_empty(),
        "patchwire -n {} show -j reports {} wires, {} not ok; the first: {}",
        lab.panel,
        wires.len(),
        not_ok.len(),
        not_ok.first().map_or("-", String::as_str)
    );
    let links: Value =
        serde_json::from_str(&patchwire(&["-j", "show", "--lab", path(file)?])?.stdout)?;
    let links = links
        .as_array()
        .context("show --lab -j printed no JSON array")?;
    let not_ok: Vec<String> = links
        .iter()
        .filter(|l| l["health"] != "ok")
        .map(|l| l.to_string())
        .collect();
    let hubs = links.iter().filter(|l| l["kind"] == "hub").count();
    ensure!(
        links.len() == WIRES + HUBS && hubs == HUBS && not_ok.is_empty(),
        "patchwire show --lab -j reports {} links ({hubs} hubs), {} not ok; the first: {}",
        links.len(),
        not_ok.len(),
        not_ok.first().map_or("-", String::as_str)
    );
    Ok(show.took)
}
