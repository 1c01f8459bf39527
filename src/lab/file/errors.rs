//! serde_norway's errors in the lab file's words: unknown keys (with a suggestion), missing
//! and repeated keys, wrong types, several documents, tabs.

use super::LabFileError;
use super::locate::{Seg, locate, parse_ypath};
use super::raw::MARK;
use crate::suggest::suggestion;

/// Where in the file serde derive's messages happen, from serde_norway's path
/// (`topology.links[2]`), with the keys known there.
fn context(ypath: &str) -> (String, &'static [&'static str]) {
    use super::keys::*;
    match ypath {
        "" | "." => ("at the top level".into(), TOP),
        "topology" => ("in topology".into(), TOPOLOGY),
        "defaults" => ("in defaults".into(), DEFAULTS),
        "vxlan" => ("in vxlan".into(), VXLAN),
        "mgmt" => ("in mgmt".into(), MGMT),
        "topology.defaults" => ("in topology.defaults".into(), NODE),
        _ => {
            if let Some(host) = ypath.strip_prefix("hosts.") {
                (format!("in host {host}"), HOST)
            } else if let Some(node_name) = ypath.strip_prefix("topology.nodes.") {
                (format!("in node {node_name}"), NODE)
            } else if let Some(kind) = ypath.strip_prefix("topology.kinds.") {
                (format!("in kind {kind}"), NODE)
            } else if let Some(group) = ypath.strip_prefix("topology.groups.") {
                (format!("in group {group}"), NODE)
            } else if let Some(rest) = ypath.strip_prefix("topology.links[")
                && let Some((_, side)) = rest.split_once("].impair.")
            {
                (format!("in {side}'s impairment"), IMPAIR)
            } else if ypath.starts_with("topology.links[") && ypath.ends_with("].flap") {
                ("in a flap".into(), FLAP)
            } else if ypath == "defaults.impair" {
                ("in defaults.impair".into(), IMPAIR)
            } else if ypath.starts_with("topology.links[") {
                ("in a link".into(), LINK)
            } else if ypath.starts_with("topology.mirrors[") {
                ("in a mirror".into(), MIRROR)
            } else {
                (format!("in {ypath}"), &[])
            }
        }
    }
}

/// "unknown key `K` CONTEXT", with the key of this place it most likely meant, or where the
/// key belongs when it belongs elsewhere, or the keys known here.
pub(super) fn unknown_key(key: &str, context: &str, known: &[&str]) -> String {
    if key == "<<" {
        return format!("YAML merge keys (`<<`) are not supported {context}; write the keys out");
    }
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    if let Some(place) = super::keys::elsewhere(key, known) {
        return format!("unknown key `{key}` {context} (`{key}` belongs {place})");
    }
    if super::keys::endpoint_key(key, known) {
        return format!(
            "unknown key `{key}` {context} (`{key}` belongs to an endpoint, written in the \
             extended form: `endpoints: [{{node: NODE, interface: INTERFACE, {key}: …}}, …]`)"
        );
    }
    match suggestion(key, known).or_else(|| super::keys::synonym(key, known)) {
        Some(s) => format!("unknown key `{key}` {context} (did you mean `{s}`?)"),
        None if known.is_empty() => format!("unknown key `{key}` {context}"),
        // A place with many keys (a node has 60): the list would drown the message.
        None if known.len() > 12 => {
            format!("unknown key `{key}` {context} (docs/containerlab.md lists every key)")
        }
        None => format!(
            "unknown key `{key}` {context} (known keys: {})",
            quoted.join(", ")
        ),
    }
}
/// `(serde_norway path, field)` of a serde derive message such as
/// "topology.links[0]: unknown field `mut`, expected one of …".
fn serde_field<'m>(message: &'m str, marker: &str) -> Option<(&'m str, &'m str)> {
    let at = message.find(marker)?;
    let field = message[at + marker.len()..].split('`').next()?;
    let ypath = &message[..at];
    Some((ypath.strip_suffix(": ").unwrap_or(ypath), field))
}

/// `(serde_norway path, what was found, what was expected)` of serde's
/// "PATH: invalid type: sequence, expected a lab name".
fn invalid_type(message: &str) -> Option<(&str, &str, &str)> {
    const MARKER: &str = "invalid type: ";
    let at = message.find(MARKER)?;
    let (found, expected) = message[at + MARKER.len()..].split_once(", expected ")?;
    let found = match found {
        "sequence" => "a list",
        "map" => "a mapping",
        "unit value" => "nothing",
        other => other,
    };
    let ypath = &message[..at];
    Some((ypath.strip_suffix(": ").unwrap_or(ypath), found, expected))
}

pub(super) fn from_serde(path: &str, text: &str, err: &serde_norway::Error) -> LabFileError {
    let mut position = err.location().map(|l| (l.line(), l.column()));
    let mut message = err.to_string();
    if let Some((line, column)) = position {
        message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
    }
    let message = if let Some(at) = message.find(MARK) {
        message[at + MARK.len_utf8()..].to_string()
    } else if let Some((ypath, field)) = serde_field(&message, "unknown field `") {
        let (context, known) = context(ypath);
        unknown_key(field, &context, known)
    } else if let Some((ypath, field)) = serde_field(&message, "missing field `") {
        match (ypath, field) {
            ("", "name") => "missing key `name`: every lab has a name (1-32 characters from \
                             A-Z a-z 0-9 _ -)"
                .to_string(),
            ("", "topology") => "missing key `topology`: a lab's nodes and links".to_string(),
            _ => format!("missing key `{field}` {}", context(ypath).0),
        }
    } else if let Some((ypath, field)) = serde_field(&message, "duplicate field `") {
        let mut segs = parse_ypath(ypath);
        segs.push(Seg::Key(field.to_string(), 1));
        position = locate(text, &segs, true).or(position);
        format!("key `{field}` appears twice {}", context(ypath).0)
    } else if let Some((ypath, found, expected)) = invalid_type(&message) {
        let whom = match ypath {
            "" | "." => "the file".to_string(),
            _ => format!("`{ypath}`"),
        };
        // serde's wording for numbers beyond 64 bits and for a key that is not a string.
        let found = found.replace(" as u128", "").replace(" as i128", "");
        let expected = match expected {
            "a sequence" => "a list",
            other => other,
        };
        if expected == "field identifier" {
            let (context, _) = context(ypath);
            format!("a key {context} must be a name, found {found}")
        } else {
            format!("{whom} must be {expected}, found {found}")
        }
    } else if message.contains("more than one document") {
        position = second_document(text);
        "a lab file holds one YAML document; this one has several (`---`)".to_string()
    } else if message.starts_with("control characters are not allowed") {
        // The parser says "at position N" at 1:1: point at the character itself instead.
        match first_control(text) {
            Some((line, column, c)) => {
                position = Some((line, column));
                format!(
                    "control character U+{:04X} here: a lab file is text (tabs and line ends only)",
                    c as u32
                )
            }
            None => message,
        }
    } else if message.starts_with("unknown anchor") {
        "an alias (`*NAME`) names an anchor (`&NAME`) that is not defined before it".to_string()
    } else if message.starts_with("found character that cannot start any token")
        && position.and_then(|(line, column)| text.lines().nth(line - 1)?.chars().nth(column - 1))
            == Some('\t')
    {
        "a tab here: YAML indents with spaces, never tabs".to_string()
    } else {
        message
    };
    // A repeated node or host name: where the first one is, as a repeated mirror says.
    let message = match position.and_then(|(line, _)| first_definition(text, line)) {
        Some(first) if message.ends_with(" is defined twice") => {
            let line = position.map_or(0, |(line, _)| line);
            format!("{message} (lines {first} and {line})")
        }
        _ => message,
    };
    LabFileError::new(path, position, message)
}

/// The first control character other than tab and line ends: (line, column, character).
fn first_control(text: &str) -> Option<(usize, usize, char)> {
    text.lines().enumerate().find_map(|(i, line)| {
        line.chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\r'))
            .map(|(j, c)| (i + 1, j + 1, c))
    })
}

/// For the key on `line` (1-based), the line of the same key earlier in the same mapping
/// (block style: same indentation, nothing less indented between).
fn first_definition(text: &str, line: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key = |l: &str| {
        l.trim_start()
            .split(':')
            .next()
            .map(str::trim)
            .map(str::to_string)
    };
    let (depth, name) = (indent(here), key(here)?);
    for (i, earlier) in lines[..line - 1].iter().enumerate().rev() {
        let trimmed = earlier.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match indent(earlier) {
            d if d < depth => return None,
            d if d == depth && key(earlier).as_deref() == Some(name.as_str()) => {
                return Some(i + 1);
            }
            _ => {}
        }
    }
    None
}

/// Where the second document starts: the second `---` line, or the first one after content.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut content = false;
    for (l, line) in text.lines().enumerate() {
        let marker =
            line == "---" || line.starts_with("--- ") || line == "..." || line.starts_with("... ");
        if marker && content {
            return Some((l + 1, 1));
        }
        if line.starts_with("---") {
            content = true;
        }
        let rest = line.trim();
        if !marker && !rest.is_empty() && !rest.starts_with('#') && !rest.starts_with('%') {
            content = true;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::lab::file::testing::*;
    use crate::lab::file::*;

    #[test]
    fn yaml_syntax_errors_carry_libyamls_position() {
        assert_eq!(
            err("name: [t1\ntopology: {}\n"),
            "t1.yaml:2:9: did not find expected ',' or ']', while parsing a flow sequence \
             at line 1 column 7"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {}\n   r2: {}\n"),
            "t1.yaml:5:4: did not find expected key, while parsing a block mapping at line 3 column 3"
        );
        assert_eq!(
            err("name: t1\ntopology: {}\n---\nname: t2\ntopology: {}\n"),
            "t1.yaml:3:1: a lab file holds one YAML document; this one has several (`---`)"
        );
        assert_eq!(
            err("# a lab\n---\nname: t1\ntopology: {}\n--- # two\nname: t2\n"),
            "t1.yaml:5:1: a lab file holds one YAML document; this one has several (`---`)"
        );
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level_with_a_suggestion() {
        // The brief's own example: line 9, column 7.
        let text = two_nodes(
            "    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n      mtu: 9000\n    \
             - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n      mut: 9500\n",
        );
        assert_eq!(
            err(&text.replacen("      mtu: 9000\n", "", 1)),
            "t1.yaml:9:7: unknown key `mut` in a link (did you mean `mtu`?)"
        );
        assert_eq!(
            err("name: t1\ntopolgy: {}\n"),
            "t1.yaml:2:1: unknown key `topolgy` at the top level (did you mean `topology`?)"
        );
        assert_eq!(
            err("name: t1\nmgmt: {network: x}\ntopolgy: {}\nkinds: {}\n"),
            "t1.yaml:3:1: unknown key `topolgy` at the top level (did you mean `topology`?)\n\
             t1.yaml:4:1: unknown key `kinds` at the top level (`kinds` belongs under `topology:`)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  node: {}\n"),
            "t1.yaml:3:3: unknown key `node` in topology (did you mean `nodes`?)"
        );
        assert_eq!(
            err("name: t1\ndefaults: {MTU: 9000}\ntopology: {}\n"),
            "t1.yaml:2:12: unknown key `MTU` in defaults (did you mean `mtu`?)"
        );
        assert_eq!(
            err("name: t1\nvxlan: {dstport: 4789}\ntopology: {}\n"),
            "t1.yaml:2:9: unknown key `dstport` in vxlan (known keys: `port`)"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {adress: 198.18.1.1}\ntopology: {}\n"),
            "t1.yaml:3:7: unknown key `adress` in host a (did you mean `address`?)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {imgae: frr, binds: [], bind: []}\n"),
            "t1.yaml:4:10: unknown key `imgae` in node r1 (did you mean `image`?)\n\
             t1.yaml:4:33: unknown key `bind` in node r1 (did you mean `binds`?)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {vnet_hdr: true, kind: vm}\n"),
            "t1.yaml:4:10: unknown key `vnet_hdr` in node r1 (did you mean `vnet-hdr`?)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: {pdi: 42}}\n"),
            "t1.yaml:4:18: unknown key `pdi` in `netns:` (did you mean `pid`?)"
        );
    }

    #[test]
    fn missing_and_repeated_keys() {
        assert_eq!(
            err("topology: {}\n"),
            "t1.yaml:1:1: missing key `name`: every lab has a name (1-32 characters from \
             A-Z a-z 0-9 _ -)"
        );
        assert_eq!(
            err("# a lab\nname: t1\n"),
            "t1.yaml:2:1: missing key `topology`: a lab's nodes and links"
        );
        assert_eq!(
            err("name: t1\nhosts:\n  a: {}\ntopology: {}\n"),
            "t1.yaml:3:6: missing key `address` in host a"
        );
        assert_eq!(
            err("# nothing yet\n\n"),
            "t1.yaml: the file is empty: a lab file needs `name:` and `topology:`"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {kind: vm, kind: vm}\n"),
            "t1.yaml:4:20: key `kind` appears twice in node r1"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    r1: {}\n"),
            "t1.yaml:6:5: node r1 is defined twice (lines 4 and 6)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {}\n    r2: {\0}\n"),
            "t1.yaml:5:10: control character U+0000 here: a lab file is text (tabs and line ends \
             only)"
        );
    }

    #[test]
    fn anchors_work_and_merge_keys_are_refused() {
        let text = two_nodes("    - &l {endpoints: [r1:a, r2:a], mtu: 9000}\n    - <<: *l\n");
        assert_eq!(
            err(&text),
            "t1.yaml:8:7: YAML merge keys (`<<`) are not supported in a link; write the keys out"
        );
        let text = "name: t1\ntopology:\n  nodes: {r1: &n {kind: vm}, r2: *n}\n  links: []\n";
        assert!(matches!(lab(text).nodes["r2"].kind, NodeKind::Vm(_)));
    }

    #[test]
    fn messages_have_a_place_and_the_files_words() {
        assert_eq!(
            err("name: t1\ntopology:\n\tnodes: {}\n"),
            "t1.yaml:3:1: a tab here: YAML indents with spaces, never tabs"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {queues: 99999999999999999999999}\n"),
            "t1.yaml:4:18: queues 99999999999999999999999 is out of range (1..=256)"
        );
        assert_eq!(
            err(
                "name: t1\ntopology:\n  nodes:\n    r1: {kind: vm, queues: -99999999999999999999999}\n"
            ),
            "t1.yaml:4:28: queues -99999999999999999999999 is out of range (1..=256)"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes:\n    r1: {netns: 99999999999999999999999}\n"),
            "t1.yaml:4:17: `topology.nodes.r1.netns` must be a namespace name, an absolute path \
             or {pid: PID}, found integer `99999999999999999999999`"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes: {r1: {}}\n  links: {a: 1}\n"),
            "t1.yaml:4:10: `topology.links` must be a list, found a mapping"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  nodes: {r1: {}}\n  links: [{endpoints: *x}]\n"),
            "t1.yaml:4:23: an alias (`*NAME`) names an anchor (`&NAME`) that is not defined \
             before it"
        );
        assert_eq!(
            err("name: t1\ntopology:\n  {[a]: {}}\n"),
            "t1.yaml:3:4: a key in topology must be a name, found a list"
        );
        // A 64 KB name is cut, once.
        let long = "a".repeat(65536);
        assert_eq!(
            err(&format!("name: {long}\ntopology: {{}}\n")),
            format!(
                "t1.yaml:1:7: lab name \"{}…\" is 65536 characters long; at most 32",
                &long[..39]
            )
        );
        let e = err(&two_nodes(&format!(
            "    - endpoints: [\"r1:{long}\", r2:e1]\n"
        )));
        assert_eq!(
            e,
            format!(
                "t1.yaml:7:19: endpoint \"r1:{}…\": interface name \"{}…\" is 65536 bytes \
                 long; Linux allows at most 15",
                &long[..36],
                &long[..39]
            )
        );
    }
}
