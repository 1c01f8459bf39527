//! The problems wires and hubs report in the same words, when they are made (warnings) and in
//! `show` (problems): an MTU that differs, a port with addresses, a port that drops what it is
//! sent.

use crate::netns::Netns;
use crate::nl::link::Link;

/// The commands a problem's fix names, spelled for the namespace the problem was found in, so
/// that the fix works pasted as printed: `patchwire -n NS …`, `ip -n NS …` (for a namespace
/// given as a path, `nsenter --net=PATH ip …`, since `ip -n` takes only names); plain
/// `patchwire` and `ip` in the current namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixCommands {
    /// `patchwire`, or `patchwire -n NS`.
    pub patchwire: String,
    /// `ip`, `ip -n NS`, or `nsenter --net=PATH ip`.
    pub ip: String,
}

impl FixCommands {
    /// For the namespace `netns` stands for (by the name the user gave it).
    pub fn for_netns(netns: &Netns) -> Self {
        Self::for_label(netns.label())
    }

    /// For `-n LABEL` (`(current)`: no `-n`).
    pub fn for_label(label: &str) -> Self {
        let quoted = shell_word(label);
        match label {
            "(current)" => FixCommands {
                patchwire: "patchwire".into(),
                ip: "ip".into(),
            },
            path if path.contains('/') => FixCommands {
                patchwire: format!("patchwire -n {quoted}"),
                ip: format!("nsenter --net={quoted} ip"),
            },
            _ => FixCommands {
                patchwire: format!("patchwire -n {quoted}"),
                ip: format!("ip -n {quoted}"),
            },
        }
    }
}

/// `word` as one shell word: as it is when it holds nothing a shell treats specially.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/+:@,=%".contains(c));
    match plain {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

/// What a problem is about: a wire's end or a hub's member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// A wire (two ends).
    Wire,
    /// A hub (two or more members).
    Hub,
}

/// "mtu differs: a has 9000 but b has 1500: …". For a wire, `a` and `b` are its ends; for a
/// hub, its smallest and its largest member (see [`hub_mtu_problem`]).
pub fn mtu_problem(segment: Segment, a: &Link, b: &Link, fix: &FixCommands) -> String {
    let towards = match segment {
        Segment::Wire => format!(
            "end ({} link {} {} --mtu N sets both)",
            fix.patchwire, a.name, b.name
        ),
        Segment::Hub => "members".to_string(),
    };
    format!(
        "mtu differs: {} has {} but {} has {}: frames larger than {} bytes are dropped towards the \
         smaller {towards}",
        a.name,
        a.mtu,
        b.name,
        b.mtu,
        a.mtu.min(b.mtu) + 14
    )
}

/// [`mtu_problem`] for a hub, when its members' MTUs differ.
pub fn hub_mtu_problem<'a>(members: impl IntoIterator<Item = &'a Link>) -> Option<String> {
    let members: Vec<&Link> = members.into_iter().collect();
    let small = members.iter().min_by_key(|m| m.mtu)?;
    let large = members.iter().max_by_key(|m| m.mtu)?;
    let fix = FixCommands::for_label("(current)"); // a hub's MTU problem names no command
    (small.mtu != large.mtu).then(|| mtu_problem(Segment::Hub, small, large, &fix))
}

/// A port with addresses is not silent: the namespace's own stack can send from it.
pub fn addresses_problem(
    segment: Segment,
    name: &str,
    addresses: &[impl AsRef<str>],
    fix: &FixCommands,
) -> String {
    let (into, sends_nothing) = match segment {
        Segment::Wire => ("wire", "a cable"),
        Segment::Hub => ("hub", "a hub"),
    };
    let list: Vec<&str> = addresses.iter().map(AsRef::as_ref).collect();
    format!(
        "{name} has address {}: the namespace's own stack can send frames from it into the \
         {into} ({sends_nothing} sends nothing of its own; remove it with {} addr flush dev \
         {name})",
        list.join(", "),
        fix.ip
    )
}

/// Why an end will drop frames sent to it, in words.
pub fn end_condition(end: &Link) -> String {
    if !end.up {
        "is down: frames redirected to it are dropped".into()
    } else if end.is_tap() {
        "has no carrier: no process holds the tap (qemu not started?), so frames redirected to it are dropped".into()
    } else if end.is_veth() {
        "has no carrier: its veth peer is down, so frames redirected to it are dropped".into()
    } else {
        "has no carrier: frames redirected to it are dropped".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, mtu: u32) -> Link {
        Link {
            mtu,
            ..crate::nl::link::test_veth(name)
        }
    }

    #[test]
    fn wires_and_hubs_word_their_problems_alike() {
        let current = FixCommands::for_label("(current)");
        let (a, b) = (link("a", 9000), link("b", 1500));
        assert_eq!(
            mtu_problem(Segment::Wire, &a, &b, &FixCommands::for_label("(current)")),
            "mtu differs: a has 9000 but b has 1500: frames larger than 1514 bytes are dropped \
             towards the smaller end (patchwire link a b --mtu N sets both)"
        );
        assert_eq!(
            hub_mtu_problem([&a, &b, &link("c", 1500)]).unwrap(),
            "mtu differs: b has 1500 but a has 9000: frames larger than 1514 bytes are dropped \
             towards the smaller members"
        );
        assert_eq!(hub_mtu_problem([&b, &link("c", 1500)]), None);
        assert_eq!(
            addresses_problem(Segment::Wire, "a", &["198.18.0.1/24"], &current),
            "a has address 198.18.0.1/24: the namespace's own stack can send frames from it into \
             the wire (a cable sends nothing of its own; remove it with ip addr flush dev a)"
        );
        assert_eq!(
            addresses_problem(
                Segment::Hub,
                "m",
                &["198.18.0.1/24", "198.18.0.2/24"],
                &current
            ),
            "m has address 198.18.0.1/24, 198.18.0.2/24: the namespace's own stack can send frames \
             from it into the hub (a hub sends nothing of its own; remove it with ip addr flush dev \
             m)"
        );
    }

    #[test]
    fn fixes_name_the_namespace_they_were_found_in() {
        let fix = FixCommands::for_label("lab1.panel");
        assert_eq!(fix.patchwire, "patchwire -n lab1.panel");
        assert_eq!(fix.ip, "ip -n lab1.panel");
        let fix = FixCommands::for_label("/proc/42/ns/net");
        assert_eq!(fix.patchwire, "patchwire -n /proc/42/ns/net");
        assert_eq!(fix.ip, "nsenter --net=/proc/42/ns/net ip");
        assert_eq!(
            FixCommands::for_label("/run/my ns").patchwire,
            "patchwire -n '/run/my ns'"
        );
        assert_eq!(FixCommands::for_label("(current)").ip, "ip");
    }
}
