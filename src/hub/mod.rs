//! Hubs: transparent multi-access segments — every frame that enters one member leaves every
//! other member exactly once, unchanged (LACP, LLDP, STP, tags, jumbo frames included), and
//! never goes back out of the member it came from. No MAC learning: a hub, not a switch.
//!
//! A hub is built from the same parts as a wire. On each member's ingress hook (clsact), at the
//! wire priority [`tc::WIRE_PRIO`] (an interface is a wire end or a hub port, never both), a u32
//! match-all filter whose actions are `mirred egress mirror` (control `pipe`) to each other
//! member but the last and `mirred egress redirect` (control `stolen`) to the last. The kernel
//! takes at most 32 actions per filter, so a bigger hub chains filters at the next priorities:
//! each but the last ends with a copy whose control is `continue`, which runs the next one
//! ([`tc::hub_chain`]). Every action's cookie is the tag `ba` + the name of the member it sends
//! to, so a member that vanished is still named.
//!
//! The kernel is the record, as for wires: each member carries an altname
//! `patchwire.hub.NAME.IFINDEX` (`HUB_RECORD` in `crate::marks`), so [`show`] rebuilds
//! hubs without a state file. Members are made silent like wire ends ([`crate::wire::silence`]).
//!
//! * [`set`] makes each hub have exactly the members asked (creates it, adds and drops members
//!   in place — member filters are rewritten with NLM_F_REPLACE at their priority and handle,
//!   so an unchanged member never has a gap), all changes in one batch with rollback
//!   (`wire::apply`) — see `set.rs`.
//! * [`remove`] takes hubs apart and gives members back what silencing turned off — `remove.rs`.
//! * [`show`] reports members, health and per-member counters — `show.rs`.
//! * `found.rs` reads what the kernel holds about hubs.

mod found;
mod remove;
mod set;
mod show;

pub use remove::{HubRemoved, RemovedHub, remove};
pub use set::{HubOptions, HubOutcome, HubRequest, HubResult, SetState, set};
pub use show::{HubStatus, MemberCounters, MemberStatus, show, show_in};

use crate::netns::Netns;
use crate::nl::tc;
use crate::wire::WireError;
use crate::wire::inventory::{NsView, hub_record};

/// The most members a hub may have. Every frame entering a member is copied to all the others,
/// so a hub of N members holds N x (N - 1) mirred actions and turns one frame into N - 1:
/// 256 members are 65,280 actions and 255 copies per frame. Beyond that a switch (a bridge
/// with learning) is the better tool.
pub const MAX_MEMBERS: usize = 256;

/// The longest hub name (it must fit an altname record with room to spare, and reads like an
/// interface name).
pub const NAME_MAX: usize = 15;

/// Checks a hub name: 1–15 characters out of `A-Z a-z 0-9 _ . -`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(format!(
            "hub name {name:?} must be 1 to {NAME_MAX} characters long"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "hub name {name:?} contains {c:?}; use only letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(())
}

/// The hub `member` is a port of in `netns`, from its record (`None` if it is not a hub port).
/// Errors when the interface does not exist.
pub fn port_of(netns: Netns, member: &str) -> Result<Option<String>, WireError> {
    crate::nl::link::validate_name(member).map_err(WireError::Invalid)?;
    let mut view = NsView::open(netns)?;
    let Some(link) = view.links_by_name(&[member])?.pop().flatten() else {
        return Err(WireError::Invalid(crate::wire::missing_interface(
            &view.netns,
            member,
        )));
    };
    Ok(hub_record(&link).map(|(hub, _, _)| hub))
}

/// The priorities a hub of `members` members uses on each member, from [`tc::WIRE_PRIO`] up.
pub fn priorities(members: usize) -> std::ops::RangeInclusive<u16> {
    let filters = members.saturating_sub(1).div_ceil(tc::MAX_ACTIONS).max(1);
    tc::WIRE_PRIO..=tc::WIRE_PRIO + (filters as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_are_short_and_plain() {
        assert!(validate_name("seg-1.a_b").is_ok());
        assert_eq!(
            validate_name("").unwrap_err(),
            "hub name \"\" must be 1 to 15 characters long"
        );
        assert!(validate_name("a234567890123456").is_err());
        assert_eq!(
            validate_name("a:b").unwrap_err(),
            "hub name \"a:b\" contains ':'; use only letters, digits, '_', '.' and '-'"
        );
        assert!(validate_name("a/b").is_err());
    }

    #[test]
    fn big_hubs_use_one_priority_per_32_targets() {
        assert_eq!(priorities(2), tc::WIRE_PRIO..=tc::WIRE_PRIO);
        assert_eq!(priorities(33), tc::WIRE_PRIO..=tc::WIRE_PRIO);
        assert_eq!(priorities(34), tc::WIRE_PRIO..=tc::WIRE_PRIO + 1);
        assert_eq!(priorities(MAX_MEMBERS), tc::WIRE_PRIO..=tc::WIRE_PRIO + 7);
    }
}
