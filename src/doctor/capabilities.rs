//! Capabilities: CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_BPF in the effective set, read from
//! /proc/self/status.

use std::io;

use super::{Check, Item, RUN_AS_ROOT};

/// Capability numbers (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
pub(super) const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// The effective capability set (CapEff in /proc/self/status).
pub(super) fn effective_capabilities() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_cap_eff(&status).ok_or_else(|| io::Error::other("no CapEff line in /proc/self/status"))
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

pub(super) fn capability_items(caps: &io::Result<u64>) -> Vec<Item> {
    let set = match caps {
        Ok(set) => *set,
        Err(error) => {
            let detail = format!("not checked: reading /proc/self/status: {error}");
            return [Check::CapNetAdmin, Check::CapSysAdmin, Check::CapBpf]
                .into_iter()
                .map(|check| Item::unchecked(check, detail.clone(), RUN_AS_ROOT))
                .collect();
        }
    };
    let has = |cap: u32| set & (1u64 << cap) != 0;
    let capability = |check, cap| {
        if has(cap) {
            Item::ok(check, "in the effective capability set")
        } else {
            Item::missing(
                check,
                format!("not in the effective capability set (CapEff {set:016x})"),
                RUN_AS_ROOT,
            )
        }
    };
    let bpf = if has(CAP_BPF) {
        Item::ok(Check::CapBpf, "in the effective capability set")
    } else if has(CAP_SYS_ADMIN) {
        Item::ok(
            Check::CapBpf,
            "not in the effective set, but CAP_SYS_ADMIN allows bpf() too",
        )
    } else {
        Item::missing(
            Check::CapBpf,
            format!("neither it nor CAP_SYS_ADMIN in the effective set (CapEff {set:016x})"),
            RUN_AS_ROOT,
        )
    };
    vec![
        capability(Check::CapNetAdmin, CAP_NET_ADMIN),
        capability(Check::CapSysAdmin, CAP_SYS_ADMIN),
        bpf,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_is_read_as_hex() {
        let status = "Name:\tpatchwire\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn capabilities_name_root_as_the_fix() {
        let none = capability_items(&Ok(0));
        assert!(none.iter().all(|item| !item.ok && item.checked));
        assert_eq!(none[0].check, Check::CapNetAdmin);
        assert_eq!(none[0].fix.as_deref(), Some(RUN_AS_ROOT));
        assert!(none[0].detail.contains("CapEff 0000000000000000"));
        // CAP_SYS_ADMIN stands in for CAP_BPF.
        let sys_admin = capability_items(&Ok(1 << CAP_SYS_ADMIN));
        assert!(sys_admin[2].ok, "{:?}", sys_admin[2]);
        assert!(!sys_admin[0].ok);
        let all = capability_items(&Ok(u64::MAX));
        assert!(all.iter().all(|item| item.ok && item.fix.is_none()));
    }
}
