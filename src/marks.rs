//! Marks: the text patchwire writes into kernel objects so that any later process, and any room
//! of this crate, can tell its own objects from other tools' with no state file. This module
//! sits below every other (it imports nothing), so a lower room can recognise what a higher one
//! made — `wire::show` must know a mirror's filters, and wire/ is below mirror/.

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
}
