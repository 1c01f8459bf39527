//! Pulling a cable and putting it back (`cut` / `mend`): both ports of the wire are set down,
//! so the veth peers behind them — the nodes' interfaces — lose carrier, as they would if the
//! cable were pulled. A hub member's port alone goes down (the rest of the segment stays).
//!
//! The state lives in the kernel: each cut port carries a hold alias ([`HOLD_MARK`], naming
//! the other port as its far end) that ends in [`CUT_MARK`]. The hold form is what `watch` and
//! a lab's `up` already respect — `watch` never releases an end whose far end is itself held
//! (both ends of a cut wire are) — so a cut stays cut until [`mend`], which only releases ports
//! carrying the cut mark (a lab's `up` mends a cut its file does not make: `lab::impairs`). A
//! user's own alias is kept after [`ALIAS_WAS`] and put back by `mend`. A lab file's pull
//! says so ([`CUT_BY_FILE`] before the cut mark), so its `plan` can tell a command's pulls.

use serde::Serialize;

use super::{ImpairError, SetBy};
use crate::marks::{ALIAS_WAS, CUT_BY_FILE, CUT_MARK, HOLD_MARK};
use crate::netns::Netns;
use crate::nl::link::{self, Link};
use crate::nl::tc::Filter;
use crate::wire::{NsView, WireError};

/// What `cut` or `mend` did.
#[derive(Debug, Clone, Serialize)]
pub struct CableChange {
    /// The ports of the cable (one for a hub member, two for a wire).
    pub ports: Vec<String>,
    /// The ports whose state changed (empty: it was cut, or whole, already).
    pub changed: Vec<String>,
}

/// Whether a port is down because of `cut`.
pub fn is_cut(link: &Link) -> bool {
    link.alias.as_deref().is_some_and(|a| {
        a.starts_with(HOLD_MARK) && a.split(ALIAS_WAS).next().unwrap_or(a).ends_with(CUT_MARK)
    })
}

/// Who pulled a cut port's cable (`None`: it is not cut).
pub fn cut_by(link: &Link) -> Option<SetBy> {
    if !is_cut(link) {
        return None;
    }
    let alias = link.alias.as_deref().unwrap_or_default();
    let words = alias.split(ALIAS_WAS).next().unwrap_or(alias);
    match words.strip_suffix(CUT_MARK)?.ends_with(CUT_BY_FILE) {
        true => Some(SetBy::File),
        false => Some(SetBy::Command),
    }
}

/// The ports of `netns` that `cut` took down, sorted.
pub fn cut_ports(netns: &Netns) -> Result<Vec<String>, ImpairError> {
    Ok(cuts(netns)?.into_keys().collect())
}

/// The ports of `netns` that are cut, with who pulled each.
pub fn cuts(netns: &Netns) -> Result<std::collections::BTreeMap<String, SetBy>, ImpairError> {
    let mut socket = netns.route()?;
    let links = link::list(&mut socket)
        .map_err(|e| WireError::kernel(format!("listing the links of {}", netns.describe()), e))?;
    Ok(links
        .iter()
        .filter_map(|l| Some((l.name.clone(), cut_by(l)?)))
        .collect())
}

/// The ports of the cable `port` is on: it and its wire partner, or it alone (hub member);
/// `verb` (cut, mend) says what there was nothing to do to.
fn cable(view: &mut NsView, port: &str, verb: &str) -> Result<Vec<Link>, ImpairError> {
    link::validate_name(port).map_err(ImpairError::Invalid)?;
    let Some(found) = view.links_by_name(&[port])?.pop().flatten() else {
        return Err(ImpairError::Invalid(format!(
            "no interface named {port} in {}",
            view.netns.describe()
        )));
    };
    view.load_tc(&[found.index])?;
    let state = view.tc(found.index)?.clone();
    if let Some(target) = state.wire_filter().and_then(Filter::wire_target) {
        let partner = view.link(target)?;
        return Ok(std::iter::once(found).chain(partner).collect());
    }
    if state.hub_filters().next().is_some() {
        return Ok(vec![found]);
    }
    Err(ImpairError::Invalid(format!(
        "{port} is on no wire or hub in {}: there is no cable to {verb}",
        view.netns.describe()
    )))
}

/// The alias of a cut port: a hold naming `far`, who pulled it if a file did, the cut mark,
/// the user's alias kept.
fn cut_alias(end: &Link, far: &str, by: SetBy) -> String {
    let previous = match end.alias.as_deref() {
        Some(a) if a.starts_with(HOLD_MARK) => crate::wire::unlink::alias_before_hold(end),
        Some(a) => a.to_string(),
        None => String::new(),
    };
    let by = match by {
        SetBy::File => CUT_BY_FILE,
        SetBy::Command => "",
    };
    let mut alias = format!("{HOLD_MARK}far end {far} is down or gone{by}{CUT_MARK}");
    if !previous.is_empty() {
        alias.push_str(ALIAS_WAS);
        alias.push_str(&previous);
    }
    let mut cut = alias.len().min(255);
    while !alias.is_char_boundary(cut) {
        cut -= 1;
    }
    alias.truncate(cut);
    alias
}

/// Pulls the cable `port` is on: its ports down, marked as cut (idempotent).
pub fn cut(netns: &Netns, port: &str) -> Result<CableChange, ImpairError> {
    cut_as(netns, port, SetBy::Command)
}

/// [`cut`], recording who pulls it (a lab file's `state: down` or flap: [`SetBy::File`]).
pub fn cut_as(netns: &Netns, port: &str, by: SetBy) -> Result<CableChange, ImpairError> {
    change_cable(netns, port, "cut", |ends, names| {
        let mut requests = Vec::new();
        let mut changed = Vec::new();
        for (i, end) in ends.iter().enumerate() {
            if is_cut(end) && !end.up {
                continue;
            }
            // The far end: the wire's other port; a hub member names itself (it is the cable).
            let far = &names[if ends.len() == 2 { 1 - i } else { i }];
            requests.push((
                link::set_alias_and_up(end.index, &cut_alias(end, far, by), false),
                0,
            ));
            changed.push(end.name.clone());
        }
        (requests, changed)
    })
}

/// Puts the cable `port` is on back: every port of it marked as cut comes up with the
/// user's alias back (idempotent; a port down for another reason stays as it is).
pub fn mend(netns: &Netns, port: &str) -> Result<CableChange, ImpairError> {
    change_cable(netns, port, "mend", |ends, _| {
        let mut requests = Vec::new();
        let mut changed = Vec::new();
        for end in ends.iter().filter(|l| is_cut(l)) {
            let previous = crate::wire::unlink::alias_before_hold(end);
            requests.push((link::set_alias_and_up(end.index, &previous, true), 0));
            changed.push(end.name.clone());
        }
        (requests, changed)
    })
}

type Requests = Vec<(netlink_packet_route::RouteNetlinkMessage, u16)>;

/// Finds the cable `port` is on in `netns` and sends what `change` asks of its ends (given
/// with their names): the requests and the ports they change; `verb` (cut, mend) says it in
/// errors.
fn change_cable(
    netns: &Netns,
    port: &str,
    verb: &str,
    change: impl FnOnce(&[Link], &[String]) -> (Requests, Vec<String>),
) -> Result<CableChange, ImpairError> {
    let mut view = NsView::open(
        netns
            .try_clone()
            .map_err(|e| WireError::io("opening a namespace", e))?,
    )?;
    let ends = cable(&mut view, port, verb)?;
    let names: Vec<String> = ends.iter().map(|l| l.name.clone()).collect();
    let (requests, changed) = change(&ends, &names);
    let what = match verb {
        "cut" => "cutting the cable of",
        _ => "mending the cable of",
    };
    run(&mut view, requests, what, port)?;
    Ok(CableChange {
        ports: names,
        changed,
    })
}

fn run(view: &mut NsView, requests: Requests, what: &str, port: &str) -> Result<(), ImpairError> {
    if requests.is_empty() {
        return Ok(());
    }
    let describe = view.netns.describe();
    for reply in view.socket.batch(requests) {
        reply.map_err(|e| WireError::kernel(format!("{what} {port} in {describe}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_alias(alias: Option<&str>) -> Link {
        let mut link = crate::nl::link::test_veth("p1");
        link.alias = alias.map(String::from);
        link
    }

    #[test]
    fn a_cut_is_a_hold_that_names_the_far_end_and_keeps_the_users_alias() {
        let alias = cut_alias(&with_alias(Some("uplink")), "p2", SetBy::Command);
        assert_eq!(
            alias,
            "patchwire held down: far end p2 is down or gone (cable cut: patchwire mend puts it back) | alias was: uplink"
        );
        let cut_end = with_alias(Some(&alias));
        assert!(is_cut(&cut_end));
        assert_eq!(crate::wire::held_because(&cut_end).as_deref(), Some("p2"));
        assert_eq!(crate::wire::unlink::alias_before_hold(&cut_end), "uplink");
        // A watch hold is not a cut; cutting it keeps the user's alias, not the hold's words.
        let held = with_alias(Some(
            "patchwire held down: far end p2 is down or gone | alias was: u",
        ));
        assert!(!is_cut(&held));
        assert!(cut_alias(&held, "p2", SetBy::Command).ends_with(" | alias was: u"));
        assert!(!is_cut(&with_alias(Some(
            "my alias (cable cut: patchwire mend puts it back)"
        ))));
        assert_eq!(cut_by(&cut_end), Some(SetBy::Command));
        assert_eq!(cut_by(&held), None);
    }

    #[test]
    fn a_lab_files_pull_says_so_and_is_a_cut_like_any_other() {
        let alias = cut_alias(&with_alias(Some("uplink")), "p2", SetBy::File);
        assert_eq!(
            alias,
            "patchwire held down: far end p2 is down or gone, pulled by its lab file (cable cut: patchwire mend puts it back) | alias was: uplink"
        );
        let pulled = with_alias(Some(&alias));
        assert!(is_cut(&pulled));
        assert_eq!(cut_by(&pulled), Some(SetBy::File));
        assert_eq!(crate::wire::held_because(&pulled).as_deref(), Some("p2"));
        assert_eq!(crate::wire::unlink::alias_before_hold(&pulled), "uplink");
    }
}
