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
mod offload;
mod plan;
mod show;
pub mod silence;
pub(crate) mod unlink;

pub use apply::Fault;
pub use ebpf::{Path, PathChange, settle_paths, shaping_root};
pub use inventory::{MirrorInto, NsView, TcState, Wiring, World};
pub use plan::{
    Datapath, LinkOptions, LinkOutcome, WireRequest, end_condition, link, missing_interface,
    parse_batch,
};
pub use show::{Counters, EndStatus, Health, WireStatus, show};
pub use unlink::{UnlinkOutcome, unlink};

use crate::netns::NetnsError;
use crate::nl::NlError;
use crate::nl::link::Link;

// moved to crate::marks; old path kept until the merge
use crate::marks::ALIAS_WAS;
pub use crate::marks::HOLD_MARK;

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
    #[error("{}", .0.join("; "))]
    Several(Vec<String>),
    /// Reading or writing a file or a descriptor (a sysctl, a tap, a batch file…) failed; the
    /// message says which.
    #[error("{0}")]
    Io(String),
}

impl WireError {
    /// A [`WireError::Kernel`]: the kernel refused what `context` describes.
    pub fn kernel(context: impl Into<String>, source: NlError) -> Self {
        WireError::Kernel {
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
            WireError::RolledBack { failure, .. } => failure.is_permission(),
            _ => false,
        }
    }
}

fn permission_hint(source: &NlError) -> &'static str {
    match source.errno() {
        Some(libc::EPERM | libc::EACCES) => " (patchwire needs CAP_NET_ADMIN: run it as root)",
        _ => "",
    }
}

fn undo_failures(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" except: {}", errors.join("; "))
    }
}
