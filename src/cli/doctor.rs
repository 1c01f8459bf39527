//! `patchwire doctor`.

use clap::CommandFactory;
use patchwire::doctor::{self, Item, Report};

use super::{Cli, Exit, print_json};

/// Check this host: what patchwire needs, what is missing, what that affects and how to fix it.
///
/// Each kernel feature is tried for real in a private network namespace that vanishes with the
/// process: veth pairs, a clsact qdisc, a u32 + mirred wire that must carry a test frame, a
/// tiny eBPF program loaded with bpf() and attached as a cls_bpf filter, a tap through
/// /dev/net/tun, a vxlan device. Also: CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_BPF in the
/// effective set, /run/netns (a shared mount point, or one patchwire can make: tried in a
/// private mount namespace, the host's mounts are left alone) and libpcap (optional). Changes
/// nothing on the host. Exit status 1 when something needed is missing or could not be checked.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(cli: &Cli, _args: &Args) -> anyhow::Result<Exit> {
    if cli.netns.is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "-n/--netns does not apply to `doctor`: it checks the host in namespaces of its own",
            )
            .exit();
    }
    let report = doctor::run();
    if cli.json {
        print_json(&report)?;
    } else {
        print!("{}", table(&report));
    }
    Ok(if report.ok { Exit::Ok } else { Exit::Error })
}

/// One line per item; under each one that is not ok, what it affects and the fix.
fn table(report: &Report) -> String {
    let width = report
        .items
        .iter()
        .map(|item| item.check.name().len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!("{:<width$}  {:<11}  DETAIL\n", "CHECK", "STATUS");
    for item in &report.items {
        out.push_str(&format!(
            "{:<width$}  {:<11}  {}\n",
            item.check.name(),
            status(item),
            item.detail
        ));
        if !item.ok && item.required {
            out.push_str(&format!("    affects: {}\n", item.affects.join(", ")));
            if let Some(fix) = &item.fix {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
    }
    let missing: Vec<&str> = report
        .problems()
        .filter(|item| item.checked)
        .map(|item| item.check.name())
        .collect();
    let unchecked = report.problems().filter(|item| !item.checked).count();
    out.push('\n');
    out.push_str(&match (missing.len(), unchecked) {
        (0, 0) => "ready: everything patchwire needs is here\n".to_string(),
        (0, _) => format!("not ready: {unchecked} not checked; fix that and run doctor again\n"),
        (_, 0) => format!("not ready: missing {}\n", missing.join(", ")),
        (_, _) => format!(
            "not ready: missing {}; {unchecked} more not checked (they need what is missing)\n",
            missing.join(", ")
        ),
    });
    out
}

fn status(item: &Item) -> &'static str {
    match (item.ok, item.required, item.checked) {
        (true, _, _) => "ok",
        (false, false, _) => "optional",
        (false, true, true) => "MISSING",
        (false, true, false) => "NOT CHECKED",
    }
}
