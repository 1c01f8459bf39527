//! Marks: the text patchwire writes into kernel objects so that any later process, and any room
//! of this crate, can tell its own objects from other tools' with no state file. Every mark is
//! defined here, with what it means and who writes it; the rooms that write and read a mark
//! import it from here. This module sits below every other (it imports nothing), so a lower
//! room can recognise what a higher one made — `wire::show` must know a mirror's filters and a
//! CNI plugin's wire ends, and wire/ is below mirror/ and cni/.
//!
//! Altnames (alternative interface names) are the usual carrier: up to 127 bytes, characters
//! valid in interface names (no `/`, `:` or whitespace), and a prefix (`patchwire.`, `pwcni.`)
//! that with what follows is longer than any interface name, so a record never collides with a
//! real name. tc filters carry an action
//! cookie (up to 16 bytes) or, for cls_bpf, a filter name (up to 255 bytes).
//!
//! Two marks are written elsewhere and have no constant: a lab's panel loopback carries the lab
//! file's absolute path as its alias (`lab::list`), and `lab::apply` moves doomed panel ports to
//! one interface group for a moment before deleting them together.

// ---- Wires (written by `wire::apply` and `wire::ebpf` through `nl::tc`, read by every room)

/// Filter priority ("pref") of a wire's filters: 0x5057 = "PW". Away from 49152, where tc
/// starts numbering filters added without a priority.
pub const WIRE_PRIO: u16 = 0x5057;

/// Length of every patchwire action cookie (TC_COOKIE_MAX_SIZE): a tag byte saying whose
/// action it is, then a name of at most 15 bytes, NUL-padded (built in `nl::tc`).
pub const COOKIE_LEN: usize = 16;

/// Tag byte of a tc wire's mirred action cookie; the partner's name follows.
pub const WIRE_COOKIE_TAG: u8 = 0xb7;

/// Start of an eBPF wire filter's name: `pw-wire to=NAME index=IFINDEX [peer=1]` (the program
/// has no actions, so no cookie). Written and parsed in `nl::tc`.
pub const EBPF_WIRE_RECORD: &str = "pw-wire ";

// ---- Mirrors (written by `mirror::add` and `mirror::repair`, read by `wire::show` too)

/// Tag byte of a mirror copy action's cookie; the mirror's name follows (at most 15 bytes).
pub const MIRROR_COOKIE_TAG: u8 = 0xb8;

/// The same, for a mirror whose destination may be a wire end (`mirror add --onto-wire`): its
/// copies leave with the wire's traffic, as asked. `link` reads this from the action dump alone.
pub const MIRROR_ONTO_WIRE_COOKIE_TAG: u8 = 0xb9;

/// The first word of the name of every filter a mirror makes (cls_bpf filter names hold up to
/// 255 bytes): its record, `pw-mirror NAME to=DEST dir=… from=…` on a copy filter, `pw-mirror
/// NAME role=pop` on an RSPAN mirror's tag-removal filter (a direct-action program with no
/// actions, so no cookie: the name is the only mark it carries). Written and parsed in
/// `mirror::spec`.
pub const MIRROR_RECORD: &str = "pw-mirror";

/// Whether a cls_bpf filter of kind `kind` named `name` is one of patchwire's mirror filters:
/// the mark, then a mirror name.
pub fn is_mirror_filter(kind: &str, name: Option<&str>) -> bool {
    let Some(name) = name else {
        return false;
    };
    let mut words = name.split(' ');
    kind == "bpf"
        && words.next() == Some(MIRROR_RECORD)
        && words.next().is_some_and(|mirror| !mirror.is_empty())
}

// ---- Hubs (written by `hub::set`, removed by `hub::remove`)

/// Tag byte of a hub action's cookie; the name of the member the action sends to follows (at
/// most 15 bytes), so a member that vanished is still named (see `crate::hub`).
pub const HUB_COOKIE_TAG: u8 = 0xba;

/// The start of a hub port's record: an altname `patchwire.hub.NAME.IFINDEX` (unique per
/// interface; the ifindex says which interface it was made for). Parsed in `wire::inventory`.
pub const HUB_RECORD: &str = "patchwire.hub.";

// ---- Silent ends (written and removed by `wire::silence`)

/// The start of the altname `patchwire.silenced.ipv6.IFINDEX`: patchwire turned IPv6 off on
/// this wire end or mirror destination, so only then does it turn it back on, from any later
/// process.
pub const SILENCE_RECORD: &str = "patchwire.silenced.ipv6.";

// ---- Holds (written by `watch`, read by `wire::show` and undone by `wire::unlink`)

/// The start of the alias of an end `watch` holds down (its far end is down or gone):
/// `patchwire held down: far end NAME is down or gone`.
pub const HOLD_MARK: &str = "patchwire held down: ";

/// Where a user's own alias is kept, after the hold's words, while the hold is in place; it is
/// put back when the hold is released or the wire unlinked.
pub const ALIAS_WAS: &str = " | alias was: ";

// ---- Impairments and cut cables (written by `impair`, read by `wire::inventory`, `watch`)

/// Filter priority of an impairment program (`impair`): just ahead of the wire's, so mirrors
/// of the port (from 16384 up) see every frame the node sent and the wire only what survives.
pub const IMPAIR_PRIO: u16 = WIRE_PRIO - 1;

/// Start of an impairment program filter's name, its record:
/// `pw-impair to=EXIT [delay=NS] [jitter=NS] [dist=…] [reorder=PERCENT] [rate=BPS] [burst=BYTES]`
/// (the map holds loss, corruption and duplication). Written and parsed in `impair`.
pub const IMPAIR_RECORD: &str = "pw-impair ";

/// Whether a cls_bpf filter is an impairment program (passes every frame it does not drop).
pub fn is_impair_filter(kind: &str, prio: u16, name: Option<&str>) -> bool {
    kind == "bpf" && prio == IMPAIR_PRIO && name.is_some_and(|n| n.starts_with(IMPAIR_RECORD))
}

/// What ends the hold words of a port `cut` took down (before [`ALIAS_WAS`]): a hold that only
/// `mend` releases — `watch` never releases it (its far end is cut too, or it is a hub member).
pub const CUT_MARK: &str = " (cable cut: patchwire mend puts it back)";

/// Written just before [`CUT_MARK`] when a lab file pulled the cable (`state: down`, a flap of
/// `watch --lab`), not `patchwire cut`: a lab's `plan` says which pulls a command made.
pub const CUT_BY_FILE: &str = ", pulled by its lab file";

// ---- Labs (written by `lab::apply` through `lab::names`, read by `lab::observe`, `lab::list`)

/// The start of the altname on a namespace's loopback that says a lab made the namespace:
/// `patchwire.lab.LAB.panel[.HOST]` (the lab's own namespace) or
/// `patchwire.lab.LAB.node.NODE[.HOST]` (a node's). Built in `lab::names`, parsed in `lab::list`.
pub const LAB_RECORD: &str = "patchwire.lab.";

/// The start of a panel port's altname `patchwire.port.NODE.IF`: the endpoint it stands for.
pub const PORT_RECORD: &str = "patchwire.port.";

/// The start of a stub veth's altname `patchwire.stub.LAB.NODE.IF`: the stub a lab added in a
/// node's namespace to reach an interface that was there already (a tap, a NIC).
pub const STUB_RECORD: &str = "patchwire.stub.";

/// The start of a VXLAN port's altname `patchwire.vxlan.HASH`: a hash of its tunnel's
/// parameters, so a changed tunnel is remade.
pub const VXLAN_RECORD: &str = "patchwire.vxlan.";

/// The start of the altname `patchwire.device.LAB.HASH.NODE.IF` of an interface a lab made
/// in a node itself (a link of `type: macvlan` or `dummy`): HASH covers its kind, lower
/// interface and mode, so a changed one is made again.
pub const DEVICE_RECORD: &str = "patchwire.device.";

// ---- CNI (written by `cni::attach`, read by `wire::show`)

/// The start of patchwire-cni's record `pwcni.NETWORK-HASH.ATTACHMENT-HASH[.w]`: on the tap it
/// made (tap mode) or on `CNI_IFNAME` (wire mode). DEL and GC remove only what carries it;
/// `show` lets such a wire end keep its addresses without a warning (the main plugin's, which
/// CNI CHECK verifies and the VM behind the wire takes over).
pub const CNI_RECORD: &str = "pwcni.";

/// What ends a wire-mode CNI record: there it sits on `CNI_IFNAME`, an interface the main
/// plugin made (a tap too, with the reference tap plugin), which DEL and GC must never delete.
pub const CNI_WIRE_MODE: &str = ".w";

/// Whether an interface with these altnames was made or recorded by patchwire-cni.
pub fn is_cni_made(altnames: &[String]) -> bool {
    altnames.iter().any(|a| a.starts_with(CNI_RECORD))
}

// ---- Containers (written by `lab::containers` through `runtime`, read by `up`, `plan`, `down`)

/// Label on every container a lab runs, and on a management network the lab created:
/// `patchwire.lab=LAB`. `down` removes the lab's containers by it, and the network only when
/// it carries it.
pub const CONTAINER_LAB_LABEL: &str = "patchwire.lab";

/// The same label on a management network (one key for both, so `docker network ls --filter
/// label=patchwire.lab=LAB` and `ps` read alike).
pub const NETWORK_LAB_LABEL: &str = CONTAINER_LAB_LABEL;

/// Label on a lab's container: `patchwire.node=NODE`, the node it is.
pub const CONTAINER_NODE_LABEL: &str = "patchwire.node";

/// Label on a lab's container: `patchwire.spec=HASH`, a digest of the node's definition
/// (`runtime::spec_hash`); a node whose digest differs is recreated.
pub const CONTAINER_SPEC_LABEL: &str = "patchwire.spec";

/// Label on a lab's container when the lab spans hosts: `patchwire.host=HOST`, so one machine
/// standing for several hosts keeps each host's containers apart.
pub const CONTAINER_HOST_LABEL: &str = "patchwire.host";

/// Altname on a container node's loopback once its `exec:` commands have run in that
/// namespace: a container made anew has a new namespace without it and runs them again.
pub const CONTAINER_EXEC_RECORD: &str = "patchwire.exec-done";

/// Label on a lab's container whose node has `exec:` commands: `patchwire.exec=DIGEST` of
/// them, so `up` recreates a node whose commands changed (as a changed definition).
pub const CONTAINER_EXEC_LABEL: &str = "patchwire.exec";

/// Altname prefix on a container (or ext-container) node's loopback once `up` registered its
/// namespace under /run/netns, followed by the lab's name: what tells the lab's registration
/// from a namespace of the same name someone else made (`ip netns add`).
pub const CONTAINER_NETNS_RECORD: &str = "patchwire.ctr.";

#[cfg(test)]
mod tests {
    #[test]
    fn a_mirror_filter_is_a_bpf_filter_named_with_the_mark_and_a_mirror() {
        use super::is_mirror_filter;
        assert!(is_mirror_filter("bpf", Some("pw-mirror r role=pop")));
        assert!(is_mirror_filter(
            "bpf",
            Some("pw-mirror web to=mon0 dir=out from=eth1")
        ));
        assert!(!is_mirror_filter("u32", Some("pw-mirror r role=pop")));
        assert!(!is_mirror_filter("bpf", Some("pw-mirror")));
        assert!(!is_mirror_filter("bpf", Some("pw-mirror  x")));
        assert!(!is_mirror_filter("bpf", Some("pw-mirrored r")));
        assert!(!is_mirror_filter("bpf", None));
    }

    #[test]
    fn a_cni_record_marks_what_the_plugin_made() {
        use super::is_cni_made;
        assert!(is_cni_made(&["eth0x".into(), "pwcni.0123.4567.w".into()]));
        assert!(!is_cni_made(&["eth0x".into(), "patchwire.hub.h.3".into()]));
        assert!(!is_cni_made(&[]));
    }
}
