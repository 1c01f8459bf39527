//! `doctor`: what this host has of what patchwire needs, found by trying each thing rather
//! than by reading kernel configs or version numbers.
//!
//! Kernel features are tried for real inside one private, unnamed network namespace that
//! disappears with the process (veth pairs, a clsact qdisc, a wire that must pass a frame, a
//! cls_bpf filter, a tap, a vxlan device); /run/netns is tried in a private mount namespace of
//! a helper thread, so the host's mounts are never changed; capabilities are read from
//! /proc/self/status. Every check yields an [`Item`]: what is there, what is missing, which
//! commands that affects and how to fix it. Nothing here fails: a check that cannot run (no
//! capability to create the namespace it needs) says so as "not checked".
//!
//! One file per kind of check: `capabilities.rs` (the effective set), `kernel.rs` (features
//! tried in the private namespace) and `host.rs` (/run/netns, libpcap). [`Check`] names every
//! check and fixes the report's order.

use std::io;

use serde::Serialize;

use crate::netns::Netns;
use crate::nl::errno_text;

mod capabilities;
mod host;
mod kernel;

/// The fix for anything refused for want of privilege.
const RUN_AS_ROOT: &str = "run as root (sudo patchwire ...)";

/// Commands that change the kernel, all of which need CAP_NET_ADMIN.
const CHANGES_THE_KERNEL: &[&str] = &[
    "link",
    "unlink",
    "mirror add/del",
    "tap",
    "qemu-ifup",
    "qemu-ifdown",
    "watch",
    "probe",
    "up",
    "down",
    "demo",
];
/// What a wire is made of (clsact, u32, mirred): wires, hubs, and what builds them.
const WIRES: &[&str] = &["link", "qemu-ifup", "watch", "up", "demo"];
/// What mirrors are made of (clsact, cls_bpf, bpf()).
const MIRRORS: &[&str] = &["mirror add", "up (lab mirrors)", "demo"];
/// Entering or creating a namespace, and mounting named ones, needs CAP_SYS_ADMIN.
const SYS_ADMIN_AFFECTS: &[&str] = &["-n NETNS", "up", "down", "plan", "watch", "demo"];

/// Every check, in the order of the report (capabilities, kernel features, /run/netns,
/// libpcap): a report lists each once, sorted by this order whichever path ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// CAP_NET_ADMIN in the effective set: every command that changes the kernel.
    CapNetAdmin,
    /// CAP_SYS_ADMIN in the effective set: entering, creating and mounting namespaces.
    CapSysAdmin,
    /// CAP_BPF (or CAP_SYS_ADMIN, which allows bpf() too): mirrors.
    CapBpf,
    /// A private network namespace can be created (every kernel check runs in one).
    NetworkNamespaces,
    /// Veth pairs can be created.
    Veth,
    /// A clsact qdisc can be added to a veth.
    Clsact,
    /// A u32 match-all filter is accepted.
    U32,
    /// A mirred redirect is accepted, and a wire made of it carries a test frame.
    Mirred,
    /// bpf() loads a tc program.
    BpfSyscall,
    /// That program attaches as a direct-action cls_bpf filter.
    ClsBpf,
    /// /dev/net/tun makes a tap.
    TunTap,
    /// A vxlan device can be created.
    Vxlan,
    /// A dummy device can be created (optional: lab links of `type: dummy`).
    Dummy,
    /// A tbf qdisc can be added (impair --rate; optional).
    Tbf,
    /// A netem qdisc can be added, its module loaded if need be (impair --delay; optional).
    Netem,
    /// /run/netns is a shared mount point, or patchwire can make it one.
    RunNetns,
    /// libpcap loads (optional: filters).
    Libpcap,
}

impl Check {
    /// The name the report shows ("clsact qdisc", "CAP_NET_ADMIN", ...), in text and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Check::CapNetAdmin => "CAP_NET_ADMIN",
            Check::CapSysAdmin => "CAP_SYS_ADMIN",
            Check::CapBpf => "CAP_BPF",
            Check::NetworkNamespaces => "network namespaces",
            Check::Veth => "veth",
            Check::Clsact => "clsact qdisc",
            Check::U32 => "u32 classifier",
            Check::Mirred => "mirred action",
            Check::BpfSyscall => "bpf() syscall",
            Check::ClsBpf => "cls_bpf classifier",
            Check::TunTap => "tun/tap",
            Check::Vxlan => "vxlan",
            Check::Dummy => "dummy",
            Check::Tbf => "tbf qdisc",
            Check::Netem => "netem qdisc (sch_netem)",
            Check::RunNetns => "/run/netns",
            Check::Libpcap => "libpcap",
        }
    }

    /// The commands (or options) that need what this check looks for.
    pub fn affects(self) -> &'static [&'static str] {
        match self {
            Check::CapNetAdmin => CHANGES_THE_KERNEL,
            Check::CapSysAdmin => SYS_ADMIN_AFFECTS,
            Check::CapBpf | Check::BpfSyscall | Check::ClsBpf => MIRRORS,
            Check::NetworkNamespaces => &["up", "down", "demo"],
            Check::Veth => &["up", "demo"],
            Check::Clsact => &["link", "mirror add", "qemu-ifup", "up", "demo"],
            Check::U32 | Check::Mirred => WIRES,
            Check::TunTap => &["tap add", "up (vm nodes)"],
            Check::Vxlan => &["up --host (links across hosts)"],
            Check::Dummy => &["up (links of type: dummy)"],
            Check::Tbf => &["impair --rate"],
            Check::Netem => &["impair --delay/--jitter/--reorder"],
            Check::RunNetns => &["up", "down", "-n NAME (named namespaces)"],
            Check::Libpcap => &["capture -f", "mirror add --filter", "lab mirror filter:"],
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// One thing checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What was checked; shown (and serialised as `name`) as "clsact qdisc", "CAP_NET_ADMIN", ...
    #[serde(rename = "name")]
    pub check: Check,
    /// It is there and works.
    pub ok: bool,
    /// Something patchwire needs today; `false` for what only optional features use, whose
    /// absence does not fail the report.
    pub required: bool,
    /// The check ran; `false` when something it depends on (a capability, a namespace to try
    /// it in) was missing, so the answer is unknown. `ok` is then `false` too.
    pub checked: bool,
    /// What was found, in a few words.
    pub detail: String,
    /// The commands (or options) that need it.
    pub affects: Vec<&'static str>,
    /// How to get it, when it is not ok.
    pub fix: Option<String>,
}

impl Item {
    fn ok(check: Check, detail: impl Into<String>) -> Item {
        Item {
            check,
            ok: true,
            required: true,
            checked: true,
            detail: detail.into(),
            affects: check.affects().to_vec(),
            fix: None,
        }
    }

    fn missing(check: Check, detail: impl Into<String>, fix: impl Into<String>) -> Item {
        Item {
            ok: false,
            fix: Some(fix.into()),
            ..Item::ok(check, detail)
        }
    }

    fn unchecked(check: Check, detail: impl Into<String>, fix: impl Into<String>) -> Item {
        Item {
            checked: false,
            ..Item::missing(check, detail, fix)
        }
    }

    /// A refusal: "not checked" when the kernel said EPERM/EACCES (the feature may well be
    /// there; the caller may not use it), "missing" with `fix` otherwise.
    fn refused(
        check: Check,
        what: &str,
        errno: Option<i32>,
        error: &dyn std::fmt::Display,
        fix: &str,
    ) -> Item {
        Item::refused_for_want_of("CAP_NET_ADMIN", check, what, errno, error, fix)
    }

    /// [`Item::refused`], for an operation that needs capability `needs`.
    fn refused_for_want_of(
        needs: &str,
        check: Check,
        what: &str,
        errno: Option<i32>,
        error: &dyn std::fmt::Display,
        fix: &str,
    ) -> Item {
        let error = plain(error);
        if matches!(errno, Some(libc::EPERM | libc::EACCES)) {
            Item::unchecked(
                check,
                format!("not checked: {what}: {error} (needs {needs})"),
                RUN_AS_ROOT,
            )
        } else {
            Item::missing(check, format!("{what}: {error}"), fix)
        }
    }

    fn optional(self) -> Item {
        Item {
            required: false,
            ..self
        }
    }
}

/// An error's text without io::Error's " (os error N)".
fn plain(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    match text.split_once(" (os error ") {
        Some((before, after)) => {
            let rest = after.split_once(')').map_or("", |(_, rest)| rest);
            format!("{before}{rest}")
        }
        None => text,
    }
}

/// The errno behind an io::Error, also when a context message has hidden it.
fn io_errno(error: &io::Error) -> Option<i32> {
    error.raw_os_error().or(match error.kind() {
        io::ErrorKind::PermissionDenied => Some(libc::EPERM),
        io::ErrorKind::NotFound => Some(libc::ENOENT),
        _ => None,
    })
}

/// Everything checked, in a fixed order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every required item is ok.
    pub ok: bool,
    /// Every check, in a fixed order: capabilities, kernel features, /run/netns, libpcap.
    pub items: Vec<Item>,
}

impl Report {
    fn new(items: Vec<Item>) -> Report {
        let ok = items.iter().all(|item| item.ok || !item.required);
        Report { ok, items }
    }

    /// Required items that are not ok (missing, or not checked).
    pub fn problems(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|item| item.required && !item.ok)
    }
}

/// Checks the host (in tens of milliseconds when everything works; at most about 2 s waiting
/// for the wire's test frame). Changes nothing outside the namespaces it creates for itself.
pub fn run() -> Report {
    let caps = capabilities::effective_capabilities();
    let mut items = capabilities::capability_items(&caps);
    let has = |cap| caps.as_ref().is_ok_and(|set| set & (1u64 << cap) != 0);

    match Netns::create_private("doctor") {
        Ok(netns) => {
            items.push(Item::ok(
                Check::NetworkNamespaces,
                "a private one was created for these checks",
            ));
            items.extend(kernel::in_namespace(&netns));
        }
        Err(error) => {
            let denied = matches!(error.raw_os_error(), Some(libc::EPERM | libc::EACCES));
            let item = if denied {
                Item::unchecked(
                    Check::NetworkNamespaces,
                    format!("not checked: {} (needs CAP_SYS_ADMIN)", plain(&error)),
                    RUN_AS_ROOT,
                )
            } else {
                Item::missing(
                    Check::NetworkNamespaces,
                    plain(&error),
                    "a kernel with network namespaces (CONFIG_NET_NS)",
                )
            };
            let fix = item.fix.clone().unwrap_or_default();
            items.push(item);
            let why = format!(
                "not checked: no namespace to try it in ({})",
                error
                    .raw_os_error()
                    .map(errno_text)
                    .unwrap_or_else(|| error.to_string())
            );
            items.extend(kernel::without_namespace(&why, &fix));
        }
    }
    // Keep the report's order fixed whichever path ran.
    items.sort_by_key(|item| item.check);
    items.push(host::run_netns_dir(has(capabilities::CAP_SYS_ADMIN)));
    items.push(host::libpcap());
    Report::new(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_without_os_error_numbers() {
        let error = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(plain(&error), "Operation not permitted");
        let wrapped = io::Error::new(error.kind(), format!("create tap t0: {error}"));
        assert_eq!(plain(&wrapped), "create tap t0: Operation not permitted");
        assert_eq!(io_errno(&wrapped), Some(libc::EPERM));
        assert_eq!(plain(&"no number (here)"), "no number (here)");
    }

    #[test]
    fn optional_items_do_not_fail_the_report() {
        let report = Report::new(vec![
            Item::ok(Check::Veth, "there"),
            Item::missing(Check::Libpcap, "absent", "install b").optional(),
        ]);
        assert!(report.ok);
        assert_eq!(report.problems().count(), 0);
        let report = Report::new(vec![Item::unchecked(Check::Vxlan, "unknown", RUN_AS_ROOT)]);
        assert!(!report.ok);
        assert_eq!(report.problems().count(), 1);
    }

    #[test]
    fn items_serialise_with_the_check_name_first() {
        let item = Item::missing(Check::Clsact, "absent", "modprobe sch_ingress");
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"name":"clsact qdisc","ok":false,"required":true,"checked":true,"detail":"absent","affects":["link","mirror add","qemu-ifup","up","demo"],"fix":"modprobe sch_ingress"}"#
        );
    }

    #[test]
    fn checks_sort_in_the_order_of_the_report() {
        let mut checks = vec![Check::Libpcap, Check::Veth, Check::CapBpf, Check::RunNetns];
        checks.sort();
        let names: Vec<&str> = checks.into_iter().map(Check::name).collect();
        assert_eq!(names, ["CAP_BPF", "veth", "/run/netns", "libpcap"]);
    }
}
