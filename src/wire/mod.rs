//! Wires: transparent point-to-point links between two interfaces of one namespace.
//!
//! A wire is two tc filters, one per direction: on each end's ingress hook, a u32 match-all
//! with `mirred egress redirect` to the other end. The kernel is the record: [`show`]
//! rebuilds wires from the filters it finds, so there is no state file to lose.
//!
//! * [`link`] plans (validate, loop guard, idempotence) then applies all changes in one
//!   pipelined batch, rolling back on failure — see `plan.rs` and `apply.rs`.
//! * [`unlink`] removes only patchwire's filters, and a clsact qdisc only when it is left empty.
//! * [`show`] reports each wire's health and counters — see `show.rs`.

pub(crate) mod apply;
pub(crate) mod ebpf;
pub(crate) mod inventory;
pub(crate) mod loop_guard;
mod offload;
mod plan;
mod problems;
pub(crate) mod show;
pub mod silence;
pub(crate) mod unlink;

pub use apply::Fault;
pub use ebpf::{Path, PathChange, settle_paths, shaping_root};
pub use inventory::{MirrorInto, NsView, TcState, Wiring, World};
pub use plan::{
    ALLOW_LOOP_ADVICE, Datapath, LinkOptions, LinkOutcome, WireRequest, link, missing_interface,
    parse_batch,
};
pub use problems::{
    FixCommands, Segment, addresses_problem, end_condition, hub_mtu_problem, mtu_problem,
};
pub use show::{Counters, EndStatus, Health, PortStatus, WireStatus, show};
pub use unlink::{UnlinkOutcome, unlink};

use crate::netns::NetnsError;
use crate::nl::NlError;
use crate::nl::link::Link;

use crate::marks::{ALIAS_WAS, HOLD_MARK};

/// The far end an end is held down for, read from its alias.
pub fn held_because(link: &Link) -> Option<String> {
    let rest = link.alias.as_deref()?.strip_prefix(HOLD_MARK)?;
    let reason = rest.split(ALIAS_WAS).next().unwrap_or(rest);
    Some(
        reason
            .trim_start_matches("far end ")
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Why a wire, hub or mirror operation failed. [`WireError::is_permission`] tells a missing
/// privilege apart.
///
/// One error for wires, hubs, mirrors and VM taps, on purpose: they plan ops for the same
/// `apply` (one batch, retries, rollback) and tear down through the same helpers, so they fail
/// in the same kinds — a kernel refusal (with its `NlError`), a system call (with its
/// `io::Error`), a rollback, a teardown list, a refusal in words. A `HubError` or `MirrorError`
/// would repeat these variants under another name; what tells the rooms apart is each
/// message's context. Kinds are variants, causes stay reachable through `source()`.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Opening or entering a namespace failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// Bad input or a configuration patchwire refuses; the message says what and why.
    #[error("{0}")]
    Invalid(String),
    /// The kernel refused a request; `context` says what was being done and to what.
    #[error("{context}: {source}{}", permission_hint(source))]
    Kernel {
        /// What was being done (`adding ingress qdisc on eth1 in netns lab1`).
        context: String,
        /// The kernel's refusal, with its errno.
        source: NlError,
    },
    /// The kernel lacks a module patchwire needs (the message names it and its config option).
    #[error("this kernel lacks {feature}: {context}: {source}")]
    MissingFeature {
        /// The missing part, with its module and config option (`the u32 classifier (cls_u32,
        /// CONFIG_NET_CLS_U32)`).
        feature: &'static str,
        /// What was being done.
        context: String,
        /// The kernel's refusal.
        source: NlError,
    },
    /// A change failed half-way; everything this call had done was undone.
    #[error("{failure}; rolled back the {undone} change(s) already made, nothing is left behind{}", undo_failures(.undo_errors))]
    RolledBack {
        /// The change that failed.
        failure: Box<WireError>,
        /// How many changes were undone.
        undone: usize,
        /// Undo steps that failed too (then something may be left behind).
        undo_errors: Vec<String>,
    },
    /// Teardown keeps going after a failure and reports them all.
    #[error("{}", several(.0))]
    Several(Vec<WireError>),
    /// Reading or writing a file or a descriptor (a sysctl, a tap, a lock file…) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done and to what (`turning IPv6 off on eth1 (net.ipv6.conf…)`).
        context: String,
        /// The system's refusal, with its errno.
        source: std::io::Error,
    },
    /// The bpf() syscall refused: loading a program, or making or filling a map.
    #[error("{context}{source}{hint}")]
    Bpf {
        /// What was being done, ending in ": " (`creating the map of eBPF wires (64 entries): `);
        /// empty when the cause says it (a program load names its program).
        context: String,
        /// The refusal: a [`crate::bpf::BpfError`] or the syscall's `io::Error`.
        source: Box<dyn std::error::Error + Send + Sync>,
        /// What the feature needs, after the cause (` (mirrors load eBPF programs: run
        /// patchwire as root)`), or empty.
        hint: &'static str,
    },
    /// The kernel's answers did not add up (a reply missing, a device gone right after it was
    /// made); the message says what.
    #[error("{0}")]
    Unexpected(String),
}

impl WireError {
    /// A [`WireError::Kernel`]: the kernel refused what `context` describes.
    pub fn kernel(context: impl Into<String>, source: NlError) -> Self {
        WireError::Kernel {
            context: context.into(),
            source,
        }
    }

    /// A [`WireError::Io`]: `context` failed with `source`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        WireError::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the cause is missing privileges (EPERM/EACCES).
    pub fn is_permission(&self) -> bool {
        match self {
            WireError::Kernel { source, .. } => {
                matches!(source.errno(), Some(libc::EPERM | libc::EACCES))
            }
            WireError::Netns(e) => matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)),
            WireError::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES))
            }
            WireError::Bpf { source, .. } => {
                let errno = match source.downcast_ref::<crate::bpf::BpfError>() {
                    Some(crate::bpf::BpfError::Load { errno, .. }) => Some(*errno),
                    _ => source
                        .downcast_ref::<std::io::Error>()
                        .and_then(std::io::Error::raw_os_error),
                };
                matches!(errno, Some(libc::EPERM | libc::EACCES))
            }
            WireError::RolledBack { failure, .. } => failure.is_permission(),
            WireError::Several(failures) => failures.iter().any(WireError::is_permission),
            _ => false,
        }
    }
}

/// True when `error` is a missing privilege (EPERM/EACCES): a [`WireError`] that says so, or
/// the netlink, namespace or system error underneath one (for an error whose `source()` chain
/// leads here, ask each link of the chain — `main` does, for its "needs root" hint).
pub fn is_permission_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let denied = |errno: Option<i32>| matches!(errno, Some(libc::EPERM | libc::EACCES));
    if let Some(e) = error.downcast_ref::<WireError>() {
        e.is_permission()
    } else if let Some(e) = error.downcast_ref::<NlError>() {
        denied(e.errno())
    } else if let Some(e) = error.downcast_ref::<NetnsError>() {
        denied(e.raw_os_error())
    } else if let Some(e) = error.downcast_ref::<std::io::Error>() {
        denied(e.raw_os_error())
    } else {
        false
    }
}

fn permission_hint(source: &NlError) -> &'static str {
    match source.errno() {
        Some(libc::EPERM | libc::EACCES) => " (patchwire needs CAP_NET_ADMIN: run it as root)",
        _ => "",
    }
}

fn several(failures: &[WireError]) -> String {
    let words: Vec<String> = failures.iter().map(ToString::to_string).collect();
    words.join("; ")
}

fn undo_failures(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" except: {}", errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_privilege_is_read_from_the_error_kind_not_its_words() {
        let denied = WireError::io(
            "opening /run/patchwire/watch.lock",
            std::io::Error::from_raw_os_error(libc::EPERM),
        );
        assert_eq!(
            denied.to_string(),
            "opening /run/patchwire/watch.lock: Operation not permitted (os error 1)"
        );
        assert!(denied.is_permission());
        let rolled_back = WireError::RolledBack {
            failure: Box::new(denied),
            undone: 1,
            undo_errors: Vec::new(),
        };
        assert!(is_permission_error(&rolled_back));
        let io = std::io::Error::from_raw_os_error(libc::EACCES);
        assert!(is_permission_error(&io));
        let missing = WireError::io("reading x", std::io::Error::from_raw_os_error(libc::ENOENT));
        assert!(!is_permission_error(&missing));
        let words = WireError::Invalid("Operation not permitted".into());
        assert!(!is_permission_error(&words), "words are not a kind");
        let bpf = WireError::Bpf {
            context: "creating the map of eBPF wires (64 entries): ".into(),
            source: Box::new(std::io::Error::from_raw_os_error(libc::EPERM)),
            hint: " (the eBPF datapath needs CAP_BPF)",
        };
        assert_eq!(
            bpf.to_string(),
            "creating the map of eBPF wires (64 entries): Operation not permitted (os error 1) \
             (the eBPF datapath needs CAP_BPF)"
        );
        assert!(is_permission_error(&bpf));
        let load = WireError::Bpf {
            context: String::new(),
            source: Box::new(crate::bpf::BpfError::Load {
                name: "pw_mirror".into(),
                errno: libc::EACCES,
                log: String::new(),
            }),
            hint: "",
        };
        assert!(load.is_permission(), "{load}");
        let source = std::error::Error::source(&missing).expect("the io::Error is kept");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
    }
}
