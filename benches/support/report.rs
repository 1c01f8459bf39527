//! Medians, the figures' formatting and the environment line every benchmark's report starts
//! with.

use std::process::Command;
use std::time::Duration;

use super::run;

/// The median of `values` (the upper one of an even count); NaN is a bug here, and panics.
pub fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

/// [`median`] for figures that may be NaN (a ratio of two zeros): NaN sorts last.
pub fn median_total(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// "0.42 ms", "12.3 ms", "1.23 s".
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 1000.0 => format!("{ms:.1} ms"),
        ms => format!("{:.2} s", ms / 1e3),
    }
}

/// A rounded count with thousands separators: 12345.6 -> "12,346".
pub fn fmt_count(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first line a command prints (a tool's version), or why it could not run.
pub fn first_line(command: &mut Command) -> String {
    run(command)
        .map(|s| s.lines().next().unwrap_or_default().to_string())
        .unwrap_or_else(|e| e.to_string())
}

/// The kernel's release (`uname -r`) and the number of CPUs this process may use.
pub fn kernel_and_cores() -> (String, usize) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    (kernel.trim().to_string(), cores)
}
