//! Silent ends: a cable sends nothing of its own. A veth or tap left as the kernel made it
//! sends router solicitations, MLD reports and neighbour discovery with its own MAC address
//! (IPv6), and answers ARP — frames that would reach whatever is behind the wire. So when
//! patchwire makes an interface a wire end (or a mirror destination) it turns IPv6 off on it
//! (`net.ipv6.conf.IF.disable_ipv6 = 1`, which also removes its IPv6 addresses) and ARP off
//! (IFF_NOARP), and gives it back when the interface stops being one.
//!
//! The kernel keeps the record, as for wires: an alternative name (only characters valid in
//! interface names, and longer than any of them, so it never collides with one)
//! `patchwire.silenced.WHAT.IFINDEX` (WHAT = `ipv6`, `arp` or `ipv6+arp`) says what patchwire
//! turned off, so only that is turned on again, by any later process. IPv4 addresses are the
//! user's: patchwire never removes them, it reports them (`show`, `link` warnings).

use super::WireError;
use super::apply::Op;
use crate::netns::Netns;
use crate::nl::link::{IfIndex, Link};

const MARK: &str = "patchwire.silenced.";

/// What patchwire turned off on an interface (or is about to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Silenced {
    pub ipv6: bool,
    pub arp: bool,
}

impl Silenced {
    fn any(self) -> bool {
        self.ipv6 || self.arp
    }

    fn union(self, other: Silenced) -> Silenced {
        Silenced {
            ipv6: self.ipv6 || other.ipv6,
            arp: self.arp || other.arp,
        }
    }

    fn words(self) -> &'static str {
        match (self.ipv6, self.arp) {
            (true, true) => "ipv6+arp",
            (true, false) => "ipv6",
            (false, true) => "arp",
            (false, false) => "",
        }
    }
}

/// The mark on `link`, if patchwire silenced it: the altname and what it records.
pub fn mark_of(link: &Link) -> Option<(String, Silenced)> {
    link.altnames.iter().find_map(|name| {
        let what = name.strip_prefix(MARK)?.split('.').next()?;
        let silenced = Silenced {
            ipv6: what.split('+').any(|w| w == "ipv6"),
            arp: what.split('+').any(|w| w == "arp"),
        };
        Some((name.clone(), silenced))
    })
}

fn mark(index: IfIndex, silenced: Silenced) -> String {
    format!("{MARK}{}.{index}", silenced.words())
}

/// Whether `link` sends nothing of its own (IPv6 and ARP off).
pub fn is_silent(link: &Link) -> bool {
    !noisy(link).any()
}

/// What still makes `link` send frames of its own: IPv6 on, ARP on.
pub fn noisy(link: &Link) -> Silenced {
    Silenced {
        ipv6: link.ipv6 == Some(true),
        arp: !link.noarp,
    }
}

/// The changes that silence a set of interfaces: IPv6 switches (sysctl, applied before the
/// netlink batch) and netlink ops (ARP off, the mark).
#[derive(Debug, Default)]
pub struct Plan {
    /// Interfaces whose IPv6 is turned off.
    pub ipv6_off: Vec<String>,
    pub ops: Vec<Op>,
}

impl Plan {
    /// Adds what `link` needs to be silent (nothing when it already is).
    pub fn add(&mut self, link: &Link) {
        let change = noisy(link);
        if !change.any() {
            return;
        }
        if change.ipv6 {
            self.ipv6_off.push(link.name.clone());
        }
        if change.arp {
            self.ops.push(Op::SetArp {
                index: link.index,
                name: link.name.clone(),
                on: false,
            });
        }
        let previous = mark_of(link);
        if let Some((old, _)) = &previous {
            self.ops.push(Op::DeleteAltname {
                index: link.index,
                altname: old.clone(),
            });
        }
        let recorded = previous.map(|(_, s)| s).unwrap_or_default().union(change);
        self.ops.push(Op::AddAltname {
            index: link.index,
            name: link.name.clone(),
            altname: mark(link.index, recorded),
        });
    }

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
                return Err(WireError::Io(format!(
                    "turning IPv6 {state} on {name} (net.ipv6.conf.{name}.disable_ipv6): {e}"
                )));
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

/// Gives interfaces back what patchwire turned off (from their marks) once they are no longer
/// wire ends or mirror destinations. Keeps going after a failure; returns the names restored
/// and adds failures to `failures`.
pub fn restore(
    netns: &Netns,
    socket: &mut crate::nl::RouteSocket,
    links: &[&Link],
    failures: &mut Vec<String>,
) -> Vec<String> {
    let marked: Vec<(&Link, String, Silenced)> = links
        .iter()
        .filter_map(|l| mark_of(l).map(|(altname, s)| (*l, altname, s)))
        .collect();
    let ipv6: Vec<String> = marked
        .iter()
        .filter(|(_, _, s)| s.ipv6)
        .map(|(l, _, _)| l.name.clone())
        .collect();
    if let Err(e) = set_ipv6(netns, &ipv6, true) {
        failures.push(e.to_string());
    }
    let mut requests = Vec::new();
    for (link, altname, silenced) in &marked {
        if silenced.arp {
            requests.push((crate::nl::link::set_arp(link.index, true), 0));
        }
        requests.push(crate::nl::link::altname(link.index, altname, false));
    }
    let replies = super::apply::with_retries(requests, 3, |batch| socket.batch(batch));
    for reply in replies {
        match reply {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(libc::ENODEV | libc::ENOENT)) => {}
            Err(e) => failures.push(format!("giving an interface back ARP: {e}")),
        }
    }
    marked.iter().map(|(l, _, _)| l.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(altnames: &[&str], noarp: bool, ipv6: Option<bool>) -> Link {
        Link {
            index: IfIndex(7),
            name: "wa".into(),
            kind: Some("veth".into()),
            mtu: 1500,
            min_mtu: 68,
            max_mtu: 65535,
            up: true,
            carrier: true,
            oper_up: true,
            loopback: false,
            mac: Some([2, 0, 0, 0, 0, 1]),
            peer: None,
            peer_netnsid: None,
            master: None,
            tun: None,
            alias: None,
            altnames: altnames.iter().map(|s| s.to_string()).collect(),
            noarp,
            ipv6,
        }
    }

    #[test]
    fn a_noisy_end_gets_ipv6_and_arp_off_and_a_mark_saying_so() {
        let mut plan = Plan::default();
        plan.add(&link(&[], false, Some(true)));
        assert_eq!(plan.ipv6_off, vec!["wa".to_string()]);
        assert!(matches!(plan.ops[0], Op::SetArp { on: false, .. }));
        let Op::AddAltname { altname, .. } = &plan.ops[1] else {
            panic!("{:?}", plan.ops)
        };
        assert_eq!(altname, "patchwire.silenced.ipv6+arp.7");
        let marked = link(&[altname], true, Some(false));
        assert_eq!(
            mark_of(&marked).map(|(_, s)| s),
            Some(Silenced {
                ipv6: true,
                arp: true
            })
        );
    }

    #[test]
    fn a_silent_end_is_left_alone_and_only_what_was_on_is_recorded() {
        let mut plan = Plan::default();
        plan.add(&link(&[], true, Some(false)));
        plan.add(&link(&[], true, None));
        assert!(plan.is_empty(), "{plan:?}");
        plan.add(&link(&[], false, Some(false)));
        assert!(plan.ipv6_off.is_empty());
        assert!(
            matches!(&plan.ops[1], Op::AddAltname { altname, .. } if altname == "patchwire.silenced.arp.7")
        );
    }

    #[test]
    fn re_silencing_keeps_what_the_old_mark_recorded() {
        let mut plan = Plan::default();
        // IPv6 turned back on by someone after patchwire turned ARP off.
        plan.add(&link(&["patchwire.silenced.arp.7"], true, Some(true)));
        assert_eq!(plan.ipv6_off, vec!["wa".to_string()]);
        assert!(
            matches!(&plan.ops[0], Op::DeleteAltname { altname, .. } if altname == "patchwire.silenced.arp.7")
        );
        assert!(
            matches!(&plan.ops[1], Op::AddAltname { altname, .. } if altname == "patchwire.silenced.ipv6+arp.7")
        );
    }
}
