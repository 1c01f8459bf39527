//! A. Kernel memory per wire, tc and eBPF datapaths: /proc/meminfo and the benchmark's memory
//! cgroup around made and removed wires, and the memlock of one eBPF program and map.

use super::*;

/// Kernel memory, KiB: system-wide from /proc/meminfo, and what is charged to this process's
/// memory cgroup (the bpf() objects are; tc's qdiscs, filters and actions are not).
#[derive(Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) sunreclaim: f64,
    pub(crate) percpu: f64,
    pub(crate) vmalloc: f64,
    pub(crate) page_tables: f64,
    pub(crate) memcg_kernel: Option<f64>,
}

impl Snapshot {
    pub(crate) fn read() -> Result<Snapshot> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
        let field = |name: &str| -> Result<f64> {
            meminfo
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {name} in /proc/meminfo"))
        };
        Ok(Snapshot {
            sunreclaim: field("SUnreclaim")?,
            percpu: field("Percpu")?,
            vmalloc: field("VmallocUsed")?,
            page_tables: field("PageTables")?,
            memcg_kernel: memcg_kernel_kib(),
        })
    }

    /// What the kernel can hold for a wire that is neither reclaimable nor page cache.
    pub(crate) fn sum_kib(&self) -> f64 {
        self.sunreclaim + self.percpu + self.vmalloc + self.page_tables
    }

    pub(crate) fn minus(&self, other: &Snapshot) -> Snapshot {
        Snapshot {
            sunreclaim: self.sunreclaim - other.sunreclaim,
            percpu: self.percpu - other.percpu,
            vmalloc: self.vmalloc - other.vmalloc,
            page_tables: self.page_tables - other.page_tables,
            memcg_kernel: self
                .memcg_kernel
                .zip(other.memcg_kernel)
                .map(|(a, b)| a - b),
        }
    }
}

/// Kernel memory charged to this process's memory cgroup, KiB: cgroup v1's
/// memory.kmem.usage_in_bytes, else cgroup v2's `kernel` in memory.stat.
pub(crate) fn memcg_kernel_kib() -> Option<f64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            let file = format!("/sys/fs/cgroup/memory{path}/memory.kmem.usage_in_bytes");
            if let Ok(bytes) = std::fs::read_to_string(file) {
                return Some(bytes.trim().parse::<f64>().ok()? / 1024.0);
            }
        }
        if controllers.is_empty() {
            let stat = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.stat"));
            if let Some(bytes) = stat.ok().as_deref().and_then(|stat| {
                stat.lines()
                    .find_map(|l| l.strip_prefix("kernel "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            }) {
                return Some(bytes / 1024.0);
            }
        }
    }
    None
}

/// A snapshot once the kernel has finished freeing (deferred work, RCU): the CPUs quiet and
/// the sum unchanged within 64 KiB over half a second (at most 10 s).
pub(crate) fn settled_snapshot() -> Result<Snapshot> {
    wait_for_quiet_cpu();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = Snapshot::read()?;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = Snapshot::read()?;
        if (now.sum_kib() - last.sum_kib()).abs() <= 64.0 || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// One datapath's runs: (with the wires − before, with the wires − after removing them), KiB.
#[derive(Default)]
pub(crate) struct MemoryRuns(Vec<(Snapshot, Snapshot)>);

impl MemoryRuns {
    /// Median over runs of `f` of the wires' cost (with − before).
    pub(crate) fn median(&self, f: impl Fn(&Snapshot) -> f64) -> f64 {
        median(self.0.iter().map(|(made, _)| f(made)).collect())
    }

    /// Median over runs of `f` of what removing the wires gave back (with − after).
    pub(crate) fn median_freed(&self, f: impl Fn(&Snapshot) -> f64) -> f64 {
        median(self.0.iter().map(|(_, freed)| f(freed)).collect())
    }

    /// Smallest and largest `f` of the wires' cost (with − before) over runs.
    pub(crate) fn range(&self, f: impl Fn(&Snapshot) -> f64) -> (f64, f64) {
        self.0
            .iter()
            .map(|(made, _)| f(made))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    }

    pub(crate) fn memcg(&self) -> Option<f64> {
        self.0
            .iter()
            .all(|(made, _)| made.memcg_kernel.is_some())
            .then(|| self.median(|s| s.memcg_kernel.unwrap_or(f64::NAN)))
    }
}

pub(crate) struct MemoryResult {
    pub(crate) wires: usize,
    pub(crate) interfaces: usize,
    pub(crate) runs: usize,
    pub(crate) tc: MemoryRuns,
    pub(crate) ebpf: MemoryRuns,
    /// memlock of one call's program and map (2,000 directions) as /proc/self/fdinfo reports
    /// them, KiB (or why they could not be read).
    pub(crate) memlock: Result<(f64, f64), String>,
    /// The record of the first eBPF wire's l0 -> l1 filter (`peer=1`: bpf_redirect_peer).
    pub(crate) ebpf_record: Option<String>,
}

/// Makes and removes `wires` wires of each datapath, alternating (tc first in even runs), and
/// reads the kernel's memory, settled, before, with the wires and after removing them.
pub(crate) fn memory_bench(lab: &Lab, wires: usize, runs: usize) -> Result<MemoryResult> {
    let mut result = MemoryResult {
        wires,
        interfaces: lab.interfaces,
        runs,
        tc: MemoryRuns::default(),
        ebpf: MemoryRuns::default(),
        memlock: bpf_memlock().map_err(|e| format!("{e:#}")),
        ebpf_record: None,
    };
    for round in 0..runs {
        let order = match round % 2 {
            0 => [Datapath::Tc, Datapath::Ebpf],
            _ => [Datapath::Ebpf, Datapath::Tc],
        };
        for datapath in order {
            let before = settled_snapshot()?;
            patchwire_link(lab, wires, datapath)?;
            let with = settled_snapshot()?;
            check_wired_with(lab, wires, datapath)?;
            if datapath == Datapath::Ebpf && result.ebpf_record.is_none() {
                let filters = run(Command::new("tc")
                    .args(["-n", &lab.lab, "filter", "show", "dev", "l0", "ingress"]))?;
                result.ebpf_record = ebpf_records(&filters).into_iter().next();
            }
            patchwire_unlink(lab, wires)?;
            check_clean(lab)?;
            let after = settled_snapshot()?;
            let runs = match datapath {
                Datapath::Tc => &mut result.tc,
                Datapath::Ebpf => &mut result.ebpf,
            };
            runs.0.push((with.minus(&before), with.minus(&after)));
        }
    }
    Ok(result)
}

/// The `memlock` (KiB) /proc/self/fdinfo reports for the program and the map of an operation's
/// eBPF wires (map sized for 2,000 directions), loaded here (never attached).
pub(crate) fn bpf_memlock() -> Result<(f64, f64)> {
    use std::os::fd::{AsFd, AsRawFd};
    let memlock = |fd: i32| -> Result<f64> {
        let path = format!("/proc/self/fdinfo/{fd}");
        let info = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        info.lines()
            .find_map(|l| l.strip_prefix("memlock:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|bytes| bytes / 1024.0)
            .with_context(|| format!("no memlock in {path}"))
    };
    let map =
        patchwire::bpf::map::Map::percpu_hash("pw_wires", patchwire::bpf::WIRE_VALUE_SIZE, 2_000)
            .context("creating the map of eBPF wires")?;
    let program = patchwire::bpf::Program::load_sched_cls(
        &patchwire::bpf::wire_by_ingress(map.as_fd()),
        "pw_wires",
    )?;
    Ok((
        memlock(program.as_fd().as_raw_fd())?,
        memlock(map.as_fd().as_raw_fd())?,
    ))
}
