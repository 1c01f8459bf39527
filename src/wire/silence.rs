//! Silent ends: a cable sends nothing of its own. A veth or tap left as the kernel made it
//! sends router solicitations, MLD reports and neighbour discovery with its own MAC address
//! (IPv6) — frames that would reach whatever is behind the wire. So when patchwire makes an
//! interface a wire end (or a mirror destination) it turns IPv6 off on it
//! (`net.ipv6.conf.IF.disable_ipv6 = 1`, which also removes its IPv6 addresses), and gives it
//! back when the interface stops being one.
//!
//! ARP is left alone: an interface without IPv4 addresses never sends ARP, and IPv4 addresses
//! are the user's — patchwire never removes them; it reports them (`show`, `link` warnings),
//! since the namespace's own stack can send from them.
//!
//! The kernel keeps the record, as for wires: an alternative name
//! `patchwire.silenced.ipv6.IFINDEX` (characters valid in interface names, and longer than any
//! of them, so it never collides with one) says patchwire turned IPv6 off, so only then is it
//! turned on again, by any later process.

use super::WireError;
use super::apply::Op;
use crate::netns::Netns;
use crate::nl::link::{IfIndex, Link};

use crate::marks::SILENCE_RECORD as MARK;

/// The altname recording that patchwire turned IPv6 off on `link`, if it did.
pub fn mark_of(link: &Link) -> Option<&str> {
    link.altnames
        .iter()
        .map(String::as_str)
        .find(|name| name.starts_with(MARK))
}

fn mark(index: IfIndex) -> String {
    format!("{MARK}{index}")
}

/// Whether `link` sends nothing of its own: IPv6 off (or absent from the kernel).
pub fn is_silent(link: &Link) -> bool {
    link.ipv6 != Some(true)
}

/// The changes that silence a set of interfaces: IPv6 switches (sysctl, applied before the
/// netlink batch) and the records (netlink ops).
#[derive(Debug, Default)]
pub struct Plan {
    /// Interfaces whose IPv6 is turned off.
    pub ipv6_off: Vec<String>,
    /// The records to add (altnames marking each interface as silenced by patchwire).
    pub ops: Vec<Op>,
}

impl Plan {
    /// Adds what `link` needs to be silent (nothing when it already is).
    pub fn add(&mut self, link: &Link) {
        if is_silent(link) {
            return;
        }
        self.ipv6_off.push(link.name.clone());
        // Turned back on by someone since patchwire turned it off: the record is there already.
        if mark_of(link).is_none() {
            self.ops.push(Op::AddAltname {
                index: link.index,
                name: link.name.clone(),
                altname: mark(link.index),
            });
        }
    }

    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.ipv6_off.is_empty() && self.ops.is_empty()
    }
}

/// Turns IPv6 on or off on each named interface of `netns`; on a failure undoes the ones
/// already switched. Returns the names switched, for [`undo_ipv6`].
pub fn set_ipv6(netns: &Netns, names: &[String], on: bool) -> Result<Vec<String>, WireError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    netns.run(|| {
        let mut done: Vec<String> = Vec::new();
        for name in names {
            if let Err(e) = write_disable_ipv6(name, !on) {
                for earlier in &done {
                    let _ = write_disable_ipv6(earlier, on);
                }
                let state = if on { "on" } else { "off" };
                return Err(WireError::io(
                    format!("turning IPv6 {state} on {name} (net.ipv6.conf.{name}.disable_ipv6)"),
                    e,
                ));
            }
            done.push(name.clone());
        }
        Ok(done)
    })?
}

/// Puts IPv6 back on where [`set_ipv6`] turned it off (best effort: an error path already).
pub fn undo_ipv6(netns: &Netns, names: &[String]) {
    let _ = netns.run(|| {
        for name in names {
            let _ = write_disable_ipv6(name, false);
        }
    });
}

/// /proc/sys/net belongs to the namespace of the thread that opens it, so this must run on a
/// thread inside the interface's namespace ([`Netns::run`]).
fn write_disable_ipv6(name: &str, disable: bool) -> std::io::Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    std::fs::write(path, if disable { "1" } else { "0" })
}

/// [`restore`] for interfaces that just stopped being wire ends or hub ports, except those a
/// mirror still sends copies to (they stay silent: a destination sends copies only).
pub fn restore_unless_mirrored(
    view: &mut super::NsView,
    former: &[&Link],
    failures: &mut Vec<WireError>,
) -> Result<Vec<String>, WireError> {
    let destinations = view.mirror_destinations()?;
    let former: Vec<&Link> = former
        .iter()
        .copied()
        .filter(|l| !destinations.contains_key(&l.index))
        .collect();
    let netns = view
        .netns
        .try_clone()
        .map_err(|e| WireError::io("duplicating a netns fd", e))?;
    Ok(restore(&netns, &mut view.socket, &former, failures))
}

/// Gives interfaces back the IPv6 patchwire turned off (from their marks) once they are no
/// longer wire ends or mirror destinations. Keeps going after a failure; returns the names
/// restored and adds failures to `failures`.
pub fn restore(
    netns: &Netns,
    socket: &mut crate::nl::RouteSocket,
    links: &[&Link],
    failures: &mut Vec<WireError>,
) -> Vec<String> {
    let marked: Vec<(&Link, &str)> = links
        .iter()
        .filter_map(|l| mark_of(l).map(|m| (*l, m)))
        .collect();
    let names: Vec<String> = marked.iter().map(|(l, _)| l.name.clone()).collect();
    if let Err(e) = set_ipv6(netns, &names, true) {
        failures.push(e);
    }
    let requests = marked
        .iter()
        .map(|(link, altname)| crate::nl::link::altname(link.index, altname, false))
        .collect();
    let replies = super::apply::with_retries(requests, 3, |batch| socket.batch(batch));
    for ((link, _), reply) in marked.iter().zip(replies) {
        match reply {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(libc::ENODEV | libc::ENOENT)) => {}
            Err(e) => failures.push(WireError::kernel(
                format!("removing {}'s silence record", link.name),
                e,
            )),
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(altnames: &[&str], ipv6: Option<bool>) -> Link {
        Link {
            index: IfIndex(7),
            altnames: altnames.iter().map(|s| s.to_string()).collect(),
            ipv6,
            ..crate::nl::link::test_veth("wa")
        }
    }

    #[test]
    fn a_talking_end_gets_ipv6_off_and_a_mark_saying_so() {
        let mut plan = Plan::default();
        plan.add(&link(&[], Some(true)));
        assert_eq!(plan.ipv6_off, vec!["wa".to_string()]);
        let [Op::AddAltname { altname, .. }] = &plan.ops[..] else {
            panic!("{:?}", plan.ops)
        };
        assert_eq!(altname, "patchwire.silenced.ipv6.7");
        assert_eq!(
            mark_of(&link(&["other", altname], Some(false))),
            Some("patchwire.silenced.ipv6.7")
        );
    }

    #[test]
    fn a_silent_end_is_left_alone_and_a_mark_is_never_doubled() {
        let mut plan = Plan::default();
        plan.add(&link(&[], Some(false)));
        plan.add(&link(&[], None));
        assert!(plan.is_empty(), "{plan:?}");
        // IPv6 turned back on by someone after patchwire turned it off: off again, same mark.
        plan.add(&link(&["patchwire.silenced.ipv6.7"], Some(true)));
        assert_eq!(plan.ipv6_off, vec!["wa".to_string()]);
        assert!(plan.ops.is_empty());
    }
}
