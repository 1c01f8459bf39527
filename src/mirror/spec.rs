//! What a mirror is, as a user asks for it and as the kernel remembers it: the spec, VLAN
//! sets, and the record written into each of the mirror's filters (the cls_bpf filter name).

use std::fmt;

use serde::Serialize;

use crate::nl::link;

/// Which frames of a source are copied: OvS's select_src_port (`in`), select_dst_port
/// (`out`), or both.
// The variants have no doc comments on purpose: clap's ValueEnum would make them each value's
// help text, changing `patchwire mirror add --help`, the man pages and the completions.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
    Both,
}

impl Direction {
    /// The clsact hooks a source's filters sit on for this direction: ingress for `in`, egress for
    /// `out`, both for `both`.
    pub fn hooks(self) -> &'static [Hook] {
        match self {
            Direction::In => &[Hook::In],
            Direction::Out => &[Hook::Out],
            Direction::Both => &[Hook::In, Hook::Out],
        }
    }

    fn parse(text: &str) -> Option<Direction> {
        match text {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Both => "both",
        })
    }
}

/// Where on a source a mirror's filter sits: clsact ingress (frames arriving) or egress
/// (frames leaving).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    /// Ingress: the frames arriving at the source.
    In,
    /// Egress: the frames leaving the source.
    Out,
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::In => "in",
            Hook::Out => "out",
        })
    }
}

/// A set of 802.1Q VLAN IDs (1–4094) as sorted, merged, inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanSet(Vec<(u16, u16)>);

impl VlanSet {
    /// `100,200-210` (IDs and inclusive ranges, comma-separated).
    pub fn parse(text: &str) -> Result<VlanSet, String> {
        let mut ranges = Vec::new();
        for item in text.split(',').map(str::trim) {
            let (lo, hi) = match item.split_once('-') {
                Some((lo, hi)) => (vlan_id(lo, text)?, vlan_id(hi, text)?),
                None => {
                    let id = vlan_id(item, text)?;
                    (id, id)
                }
            };
            if lo > hi {
                return Err(format!("VLAN range {item} in {text:?} runs backwards"));
            }
            ranges.push((lo, hi));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::new();
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Ok(VlanSet(merged))
    }

    /// The ranges, sorted and merged, each `(first, last)` inclusive.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    /// Whether some VLAN ID is in both sets.
    pub fn overlaps(&self, other: &VlanSet) -> bool {
        self.0
            .iter()
            .any(|(lo, hi)| other.0.iter().any(|(olo, ohi)| lo <= ohi && olo <= hi))
    }
}

/// Whether two selections (None = every frame) can pick the same frame.
pub fn selections_overlap(a: Option<&VlanSet>, b: Option<&VlanSet>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.overlaps(b),
        _ => true,
    }
}

/// One VLAN ID, 1–4094 (0 means "priority tag, no VLAN" and 4095 is reserved).
pub fn vlan_id(text: &str, whole: &str) -> Result<u16, String> {
    match text.trim().parse::<u32>() {
        Ok(id @ 1..=4094) => Ok(id as u16),
        Ok(id) => Err(format!(
            "VLAN ID {id} is outside 1-4094 (0 is a priority tag, 4095 is reserved)"
        )),
        Err(_) => Err(format!(
            "{text:?} in {whole:?} is not a VLAN ID (expected IDs 1-4094 or ranges like 100-200, comma-separated)"
        )),
    }
}

impl fmt::Display for VlanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(lo, hi)| match lo == hi {
                true => lo.to_string(),
                false => format!("{lo}-{hi}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for VlanSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// The sources a user names, or every interface of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sources {
    /// These interfaces, by name (`IF`, or `NETNS:IF` naming the mirror's own namespace).
    List(Vec<String>),
    /// Every interface of the namespace that can carry Ethernet frames, except the destination
    /// (`--all`).
    All,
}

/// A mirror as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorSpec {
    /// The mirror's name (see [`validate_mirror_name`]).
    pub name: String,
    /// The interfaces whose frames are copied.
    pub sources: Sources,
    /// The destination interface the copies are sent out of (`IF`, or `NETNS:IF` naming the
    /// mirror's own namespace).
    pub to: String,
    /// Which frames of each source are copied.
    pub direction: Direction,
    /// Copy only frames whose (outer) VLAN ID is in the set.
    pub vlans: Option<VlanSet>,
    /// RSPAN: copies leave the destination tagged with this VLAN.
    pub output_vlan: Option<u16>,
    /// The destination may be a wire end: copies leave it mixed with the wire's traffic.
    pub onto_wire: bool,
    /// Copy only frames matching this tcpdump expression (compiled by libpcap, run in the
    /// mirror's classifier before its VLAN selection).
    pub filter: Option<String>,
}

/// Mirror names go into a 16-byte action cookie after a tag byte, and into the filter record.
pub const NAME_MAX: usize = 15;

/// Checks a mirror name: 1 to [`NAME_MAX`] characters from A-Z a-z 0-9 _ . -; the error says so.
pub fn validate_mirror_name(name: &str) -> Result<(), String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.len() > NAME_MAX || !name.chars().all(valid) {
        return Err(format!(
            "mirror name {name:?}: use 1 to {NAME_MAX} characters from A-Z a-z 0-9 _ . -"
        ));
    }
    Ok(())
}

/// What each of a mirror's filters says about the mirror, as its cls_bpf name: enough for
/// `show` to report a mirror whose destination or sources have vanished, with no state file.
///
/// `pw-mirror NAME to=DEST dir=both from=eth1/eth2 [vlan=100,200-210] [out-vlan=7]
/// [filter=EXPRESSION]` (the filter last: it takes the rest of the text, spaces and all), or
/// `from=*40` for `--all` (40 sources at creation) and when the list does not fit; the RSPAN
/// tag-removal filter is `pw-mirror NAME role=pop`. Lists use `/`, which interface names
/// cannot contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The mirror's name.
    pub mirror: String,
    /// Which of the mirror's filters this is.
    pub role: Role,
}

/// What a mirror filter does, as its record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Copies a source's frames to the destination; the record says where to, which frames and from
    /// which sources.
    Copy(CopyRecord),
    /// Takes the RSPAN tag off the original again, right after the copy.
    Pop,
}

/// What a copy filter's record says about its mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRecord {
    /// The destination's name.
    pub to: String,
    /// Which frames of each source are copied.
    pub direction: Direction,
    /// The mirror's sources.
    pub from: RecordedSources,
    /// Copies only frames whose (outer) VLAN ID is in the set; `None`: every frame.
    pub vlans: Option<VlanSet>,
    /// RSPAN: the copies leave the destination tagged with this VLAN ID.
    pub output_vlan: Option<u16>,
    /// The destination may be a wire end.
    pub onto_wire: bool,
    /// Copies only frames matching this tcpdump expression.
    pub filter: Option<String>,
}

/// The sources of a mirror as its record keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedSources {
    /// The sources' names, in order.
    Names(Vec<String>),
    /// `--all`, or a list too long to record: how many sources there were.
    Count(usize),
}

const RECORD_TAG: &str = crate::marks::MIRROR_RECORD;
/// The last key of a copy record: its value is the rest of the text.
const FILTER_KEY: &str = "filter=";
/// CLS_BPF_NAME_LEN (256) including the terminating NUL.
pub const RECORD_MAX: usize = 255;

impl Record {
    /// The record as filter-name text (`pw-mirror NAME to=… dir=… from=…`), read back by
    /// [`Record::parse`].
    pub fn encode(&self) -> String {
        let mut text = format!("{RECORD_TAG} {}", self.mirror);
        match &self.role {
            Role::Pop => text.push_str(" role=pop"),
            Role::Copy(copy) => {
                text.push_str(&format!(" to={} dir={}", copy.to, copy.direction));
                match &copy.from {
                    RecordedSources::Names(names) => {
                        text.push_str(&format!(" from={}", names.join("/")))
                    }
                    RecordedSources::Count(n) => text.push_str(&format!(" from=*{n}")),
                }
                if let Some(vlans) = &copy.vlans {
                    text.push_str(&format!(" vlan={vlans}"));
                }
                if let Some(tag) = copy.output_vlan {
                    text.push_str(&format!(" out-vlan={tag}"));
                }
                if copy.onto_wire {
                    text.push_str(" onto-wire=yes");
                }
                if let Some(filter) = &copy.filter {
                    text.push_str(&format!(" {FILTER_KEY}{filter}"));
                }
            }
        }
        text
    }

    /// Reads a filter name back; `None` for anything that is not a patchwire mirror record.
    pub fn parse(text: &str) -> Option<Record> {
        let (text, filter) = match text.split_once(&format!(" {FILTER_KEY}")) {
            Some((head, filter)) => (head, Some(filter.to_string())),
            None => (text, None),
        };
        let mut words = text.split(' ');
        if words.next()? != RECORD_TAG {
            return None;
        }
        let mirror = words.next()?.to_string();
        validate_mirror_name(&mirror).ok()?;
        let mut to = None;
        let mut direction = None;
        let mut from = None;
        let mut vlans = None;
        let mut output_vlan = None;
        let mut onto_wire = false;
        let mut pop = false;
        for word in words {
            let (key, value) = word.split_once('=')?;
            match key {
                "role" if value == "pop" => pop = true,
                "to" => to = Some(value.to_string()),
                "dir" => direction = Direction::parse(value),
                "from" => {
                    from = Some(match value.strip_prefix('*') {
                        Some(n) => RecordedSources::Count(n.parse().ok()?),
                        None => {
                            RecordedSources::Names(value.split('/').map(str::to_string).collect())
                        }
                    })
                }
                "vlan" => vlans = Some(VlanSet::parse(value).ok()?),
                "out-vlan" => output_vlan = Some(value.parse().ok()?),
                "onto-wire" => onto_wire = value == "yes",
                _ => {}
            }
        }
        let role = match pop {
            true => Role::Pop,
            false => Role::Copy(CopyRecord {
                to: to?,
                direction: direction?,
                from: from?,
                vlans,
                output_vlan,
                onto_wire,
                filter,
            }),
        };
        Some(Record { mirror, role })
    }
}

/// The record of a mirror's copy filters: the source list if it fits, else the count.
pub fn copy_record(spec: &MirrorSpec, sources: &[String]) -> Result<Record, String> {
    let mut copy = CopyRecord {
        to: spec.to.clone(),
        direction: spec.direction,
        from: match spec.sources {
            Sources::All => RecordedSources::Count(sources.len()),
            Sources::List(_) => RecordedSources::Names(sources.to_vec()),
        },
        vlans: spec.vlans.clone(),
        output_vlan: spec.output_vlan,
        onto_wire: spec.onto_wire,
        filter: spec.filter.clone(),
    };
    let mut record = Record {
        mirror: spec.name.clone(),
        role: Role::Copy(copy.clone()),
    };
    if record.encode().len() > RECORD_MAX {
        copy.from = RecordedSources::Count(sources.len());
        record.role = Role::Copy(copy);
    }
    if let Some(filter) = &spec.filter
        && record.encode().len() > RECORD_MAX
    {
        return Err(format!(
            "--filter {filter:?}: too long to record in the mirror's filters ({} bytes with the rest \
             of the mirror's description, at most {RECORD_MAX}); shorten it",
            record.encode().len()
        ));
    }
    if record.encode().len() > RECORD_MAX {
        return Err(format!(
            "--vlan {}: too many separate VLAN IDs to record in the filter (at most {RECORD_MAX} bytes); \
             use ranges like 100-199",
            spec.vlans
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ));
    }
    Ok(record)
}

/// `IF` or `NETNS:IF`, split; the name checked like the kernel checks it.
pub fn split_namespace(text: &str) -> Result<(Option<&str>, &str), String> {
    let (ns, name) = match text.split_once(':') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, text),
    };
    link::validate_name(name)?;
    Ok((ns, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_sets_parse_merge_and_print() {
        let set = VlanSet::parse("200, 100,101-105,300-310,305-320").unwrap();
        assert_eq!(set.ranges(), &[(100, 105), (200, 200), (300, 320)]);
        assert_eq!(set.to_string(), "100-105,200,300-320");
        assert!(set.overlaps(&VlanSet::parse("105").unwrap()));
        assert!(!set.overlaps(&VlanSet::parse("106-199").unwrap()));
        assert!(selections_overlap(None, Some(&set)));
        for (bad, says) in [
            ("0", "VLAN ID 0 is outside 1-4094"),
            ("4095", "VLAN ID 4095 is outside 1-4094"),
            ("5000", "outside 1-4094"),
            ("abc", "\"abc\" in \"abc\" is not a VLAN ID"),
            ("10-5", "runs backwards"),
            ("1,,2", "\"\" in \"1,,2\" is not a VLAN ID"),
        ] {
            let error = VlanSet::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn records_round_trip() {
        let copy = Record {
            mirror: "web".into(),
            role: Role::Copy(CopyRecord {
                to: "mon0".into(),
                direction: Direction::Both,
                from: RecordedSources::Names(vec!["eth1".into(), "e=,2".into()]),
                vlans: Some(VlanSet::parse("100,200-210").unwrap()),
                output_vlan: Some(7),
                onto_wire: true,
                filter: Some("tcp port 179 and host 198.18.0.1".into()),
            }),
        };
        let text = copy.encode();
        assert_eq!(
            text,
            "pw-mirror web to=mon0 dir=both from=eth1/e=,2 vlan=100,200-210 out-vlan=7 onto-wire=yes \
             filter=tcp port 179 and host 198.18.0.1"
        );
        assert_eq!(Record::parse(&text), Some(copy));
        let pop = Record {
            mirror: "r".into(),
            role: Role::Pop,
        };
        assert_eq!(Record::parse(&pop.encode()), Some(pop));
        let all = "pw-mirror all to=mon1 dir=in from=*40";
        let Some(Record {
            role: Role::Copy(copy),
            ..
        }) = Record::parse(all)
        else {
            panic!()
        };
        assert_eq!(copy.from, RecordedSources::Count(40));
        for foreign in [
            "",
            "cilium",
            "pw-mirror",
            "pw-mirror x to=y",
            "pw-mirror bad/name role=pop",
        ] {
            assert_eq!(Record::parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn long_source_lists_fall_back_to_a_count() {
        let sources: Vec<String> = (0..40).map(|i| format!("container-if{i}")).collect();
        let spec = MirrorSpec {
            name: "many".into(),
            sources: Sources::List(sources.clone()),
            to: "mon0".into(),
            direction: Direction::In,
            vlans: None,
            output_vlan: None,
            onto_wire: false,
            filter: None,
        };
        let record = copy_record(&spec, &sources).unwrap();
        assert!(record.encode().ends_with("from=*40"));
        let odd: Vec<String> = (1..200).step_by(2).map(|v| v.to_string()).collect();
        let spec = MirrorSpec {
            vlans: Some(VlanSet::parse(&odd.join(",")).unwrap()),
            ..spec
        };
        assert!(
            copy_record(&spec, &sources)
                .unwrap_err()
                .contains("use ranges")
        );
    }

    #[test]
    fn mirror_names() {
        assert!(validate_mirror_name("web-1.a_b").is_ok());
        assert!(validate_mirror_name("fifteen-chars-x").is_ok());
        for bad in ["", "sixteen-chars-xx", "a b", "a/b", "é"] {
            assert!(validate_mirror_name(bad).is_err(), "{bad}");
        }
    }
}
