//! Waiting for the kernel: the probe namespace that tells when deleted namespaces are cleaned
//! up, CPU samples, and the panel's ports settling.

use super::*;

/// Tells when the kernel is done with earlier work: a veth pair made and deleted in a namespace
/// of its own takes its idle time again (cleanup_net holds the RTNL lock while it unregisters
/// the dead namespaces' interfaces).
pub(crate) struct Probe {
    pub(crate) netns: String,
    pub(crate) idle: Duration,
}

impl Probe {
    pub(crate) fn new(netns: String) -> Result<Self> {
        let mut probe = Probe {
            netns,
            idle: Duration::ZERO,
        };
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(probe.once()?);
        }
        probe.idle = median(times);
        Ok(probe)
    }

    pub(crate) fn once(&self) -> Result<Duration> {
        let start = Instant::now();
        ip(&[
            "-n",
            &self.netns,
            "link",
            "add",
            "p0",
            "type",
            "veth",
            "peer",
            "name",
            "p1",
        ])?;
        ip(&["-n", &self.netns, "link", "del", "p0"])?;
        Ok(start.elapsed())
    }

    /// Waits until the lab's namespaces are gone and, three times in a row, the probe takes at
    /// most 1.5 × its idle time + 5 ms and the CPUs are ≥ 80 % idle over the 100 ms before it.
    /// Gives up (with a warning) after CLEANUP_LIMIT; returns the time waited.
    pub(crate) fn await_cleanup(&self, lab: &Lab) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let left = lab.namespaces()?;
            if left.is_empty() {
                break;
            }
            ensure!(
                start.elapsed() < CLEANUP_LIMIT,
                "{} namespaces of the lab still listed {} s after deletion: {}",
                left.len(),
                CLEANUP_LIMIT.as_secs(),
                left.join(" ")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let limit = self.idle.mul_f64(1.5) + Duration::from_millis(5);
        let mut quiet = 0;
        while quiet < 3 {
            let before = cpu_sample();
            std::thread::sleep(Duration::from_millis(100));
            let idle = match (before, cpu_sample()) {
                (Some((i0, t0)), Some((i1, t1))) => (i1 - i0) as f64 / (t1 - t0).max(1) as f64,
                _ => 1.0,
            };
            let took = self.once()?;
            quiet = match took <= limit && idle >= 0.8 {
                true => quiet + 1,
                false => 0,
            };
            if start.elapsed() > CLEANUP_LIMIT {
                eprintln!(
                    "labs: the kernel still looks busy {} s after deleting the lab (probe {}, \
                     CPUs {:.0} % idle); going on",
                    CLEANUP_LIMIT.as_secs(),
                    fmt_duration(took),
                    idle * 100.0
                );
                break;
            }
        }
        Ok(start.elapsed())
    }
}

/// (idle, total) jiffies of all CPUs, from /proc/stat.
pub(crate) fn cpu_sample() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((fields.get(3)? + fields.get(4)?, fields.iter().sum()))
}

/// Waits until `expected` interfaces in the panel (every one but lo) report operstate UP;
/// returns the time waited.
pub(crate) fn settle(lab: &Lab, expected: usize) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let links = ip(&["-n", &lab.panel, "-o", "link", "show"])?;
        let up = links
            .lines()
            .filter(|l| !l.contains(": lo:"))
            .filter(|l| l.contains(" state UP "))
            .count();
        if up == expected {
            return Ok(start.elapsed());
        }
        ensure!(
            start.elapsed() < SETTLE_LIMIT,
            "only {up} of {expected} interfaces in {} report operstate UP {} s after the lab was built",
            lab.panel,
            SETTLE_LIMIT.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The panel's ports (veth ends named like patchwire's NODE.IF).
pub(crate) fn panel_ports(lab: &Lab) -> Result<usize> {
    let links = ip(&["-n", &lab.panel, "-o", "link", "show"])?;
    Ok(links
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|name| name.starts_with('n') && name.contains('.'))
        .count())
}
