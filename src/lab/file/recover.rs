//! Every error of the deserialization at once. serde_norway stops at the first wrong value;
//! to go on, that value (or, for a key written on a line of its own, the whole entry) is set
//! aside — replaced by `~` or by blanks of the same width, so that every other line and column
//! stays where it was — and the document is read again. An unknown key is set aside at the key
//! itself (serde_norway puts it where its mapping starts), in a block or a flow mapping; a list
//! item is set aside whole (a `~` in its place would be refused in turn); a missing `name:` or
//! `topology:` is said and a stand-in added at the end. A value that cannot be set aside (a
//! block scalar, a flow collection over several lines) ends the search there.

use serde::de::IgnoredAny;

use super::LabFileError;
use super::errors::from_serde;
use super::locate::{Seg, parse_ypath};
use super::raw::{MARK, RawFile};
use crate::suggest::suggestion;

/// At most this many wrong values are gathered (each costs a read of the whole document).
const ERRORS_MAX: usize = 64;

/// What reading gave: the document (when what was set aside left one that reads), the errors
/// found on the way, in the order found, and the places (nodes, links, top-level keys) that
/// held them.
pub(super) struct Read {
    pub(super) raw: Option<RawFile>,
    pub(super) errors: Vec<LabFileError>,
    pub(super) places: Vec<Vec<Seg>>,
}

/// Reads `text` into a [`RawFile`], gathering every error of a value. `said` holds the lines
/// where the first pass found something (its unknown keys): serde's own word on those is not
/// repeated. A syntax error comes alone.
pub(super) fn read(path: &str, text: &str, said: &[usize]) -> Read {
    let mut errors = Vec::new();
    let mut places = Vec::new();
    let mut current = text.to_string();
    let mut tried: Vec<(usize, usize)> = Vec::new();
    // The mappings unknown keys were set aside from.
    let mut parents: Vec<Vec<Seg>> = Vec::new();
    // The unknown top-level keys set aside.
    let mut typos: Vec<String> = Vec::new();
    while errors.len() < ERRORS_MAX && tried.len() < 4 * ERRORS_MAX {
        let e = match serde_norway::from_str::<RawFile>(&current) {
            Ok(raw) => {
                return Read {
                    raw: Some(raw),
                    errors,
                    places,
                };
            }
            Err(e) => e,
        };
        // serde_norway deserializes the events parsed before a syntax error first, so a
        // truncated document can fail on its types instead: report the syntax error. (One
        // that only something set aside made is not the file's: the search ends there.)
        if let Err(syntax) = serde_norway::from_str::<IgnoredAny>(&current) {
            if tried.is_empty() {
                return Read {
                    raw: None,
                    errors: vec![from_serde(path, text, &syntax)],
                    places,
                };
            }
            break;
        }
        let message = e.to_string();
        let unknown = message.contains("unknown field `");
        // serde_norway puts an unknown key where its mapping starts (a block mapping's first
        // key): the key's own place is found by a walk to it, so that it is said and set
        // aside there, once.
        let position = match unknown
            .then(|| unknown_key_at(&current, &message))
            .flatten()
        {
            Some(at) => Some(at),
            None => e.location().map(|l| (l.line(), l.column())),
        };
        // The same place again: what was set aside there did not do; what it says now is
        // about the `~`, not the file.
        let Some(position) = position.filter(|p| !tried.contains(p)) else {
            break;
        };
        let mut error = from_serde(path, &current, &e);
        if let (true, LabFileError::At { line, column, .. }) = (unknown, &mut error) {
            (*line, *column) = position;
        }
        let missing =
            message.contains("missing field `") || error.to_string().contains(": missing key `");
        // `name:` or `topology:` missing: said when the file has none (not when it was set
        // aside), and read on with a stand-in at the end, so that the rest is checked too.
        let top = ["name", "topology"]
            .into_iter()
            .find(|k| missing && message.starts_with(&format!("missing field `{k}`")));
        if let Some(k) = top {
            // (Nor when a key set aside is a typo of it: `topolgy:` says it all.)
            let typo = typos.iter().any(|t| suggestion(t, &[k]).is_some());
            if !typo && super::locate::locate(text, &[Seg::Key(k.into(), 0)], true).is_none() {
                errors.push(error);
            }
            tried.push(position);
            let stand_in = if k == "name" { "pw-stand-in" } else { "{}" };
            let end = if current.ends_with('\n') { "" } else { "\n" };
            current = format!("{current}{end}{k}: {stand_in}\n");
            continue;
        }
        // A key missing once something was set aside may be the one set aside: not said.
        if missing && !tried.is_empty() {
            break;
        }
        let mut at = place(&message);
        // An error of the mapping an unknown key was set aside from (a key it needs) is that
        // key's doing: said once, as the unknown key.
        let unknown_key = unknown || error.to_string().contains(": unknown key `");
        let said_before = unknown && said.contains(&position.0);
        let consequence = !unknown_key && parents.contains(&at);
        if !(said_before || consequence) {
            errors.push(error);
        }
        if unknown_key {
            if at.is_empty() {
                typos.push(unknown_field(&message).to_string());
            }
            parents.push(at.clone());
        }
        // An unknown key is set aside alone: the rest of its node is read and checked. (Not
        // when it is a typo of a key that says what the node is, `knd: vm`: read without it,
        // the node would be another thing, and its checks say so wrongly.)
        let field = unknown_field(&message);
        // (A typo is of the key of its place it is nearest to: `bind` is `binds`, not `kind`.)
        let place_keys = match at.get(1) {
            Some(Seg::Key(k, _)) if k == "links" => super::keys::LINK,
            _ => super::keys::NODE,
        };
        let nature_typo =
            at.len() >= 3 && suggestion(field, place_keys).is_some_and(|k| NATURE.contains(&k));
        if unknown && !nature_typo {
            at.push(Seg::Key(field.into(), 0));
        }
        places.push(at);
        if missing {
            break;
        }
        tried.push(position);
        match set_aside(&current, position, unknown) {
            Some(next) => current = next,
            None => break,
        }
    }
    Read {
        raw: None,
        errors,
        places,
    }
}

/// The key of serde_norway's "PATH: unknown field `KEY`, expected …".
fn unknown_field(message: &str) -> &str {
    message
        .split_once("unknown field `")
        .and_then(|(_, rest)| rest.split('`').next())
        .unwrap_or_default()
}

/// Where the key of serde_norway's "PATH: unknown field `KEY`, expected …" is written.
fn unknown_key_at(text: &str, message: &str) -> Option<(usize, usize)> {
    let at = message.find("unknown field `")?;
    let field = message[at + "unknown field `".len()..].split('`').next()?;
    let ypath = message[..at].trim_end().trim_end_matches(':');
    if ypath.contains(' ') {
        return None;
    }
    let mut segs = parse_ypath(ypath);
    segs.push(Seg::Key(field.to_string(), 0));
    super::locate::locate(text, &segs, true)
}

/// The node, link, mirror or top-level key an error of serde_norway's (`PATH: …`) is in.
fn place(message: &str) -> Vec<Seg> {
    let end = [
        MARK.to_string().as_str(),
        "invalid ",
        "unknown ",
        "missing ",
        "duplicate ",
    ]
    .iter()
    .filter_map(|m| message.find(m))
    .min()
    .unwrap_or(0);
    let ypath = message[..end].trim_end().trim_end_matches(':');
    if ypath.contains(' ') {
        return Vec::new();
    }
    item_or_key(parse_ypath(ypath))
}

/// The keys that say what a node or a link is: one of them set aside changes what the rest of
/// the node or link means, so the whole of it is a place found wrong.
const NATURE: &[&str] = &["kind", "image", "group", "type", "endpoints", "endpoint"];

/// The place of an error at `segs`: the key itself, or its whole node or link when the key
/// says what that is.
pub(super) fn item_or_key(segs: Vec<Seg>) -> Vec<Seg> {
    let nature = segs
        .iter()
        .skip(3)
        .any(|s| matches!(s, Seg::Key(k, _) if NATURE.contains(&k.as_str())));
    match (segs.first(), nature) {
        (Some(Seg::Key(k, _)), true) if k == "topology" => segs.into_iter().take(3).collect(),
        _ => segs,
    }
}

/// `text` with the value at `position` (1-based line and column in characters) set aside:
/// the whole entry when its key starts its line (or, for an unknown key, the entry at the
/// key), else the value replaced by `~`. `None` when it cannot be done in place.
fn set_aside(text: &str, (line, column): (usize, usize), at_key: bool) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let here = *lines.get(line.checked_sub(1)?)?;
    let start = here
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map_or(here.len(), |(i, _)| i);
    let before = &here[..start];
    let indent = here.len() - here.trim_start().len();
    // An error at a key (a name refused, a key repeated): the entry is set aside.
    let rest = &here[start..];
    let at_key = at_key
        || rest.split_once(':').is_some_and(|(k, v)| {
            !k.contains([' ', '{', '[', ',']) && (v.is_empty() || v.starts_with(' '))
        });
    // A block list's item (`- VALUE`) is set aside whole, as a flow list's is (below): a `~`
    // there would be refused in its turn, at the same place.
    let item_line = !at_key && before.trim() == "-";
    let entry_starts_line = if at_key {
        before.trim().is_empty()
    } else if item_line {
        true
    } else {
        // `  key: VALUE`: the key first on its line, the value after its `: `.
        let trimmed = before.trim_start();
        trimmed.ends_with(": ")
            && !trimmed.starts_with("- ")
            && !trimmed.contains(['{', '[', '"', '\''])
            && trimmed.matches(": ").count() == 1
    };
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    if entry_starts_line {
        // The entry and the lines under it (its value's continuation) become blank lines.
        out[line - 1] = String::new();
        for (i, l) in lines.iter().enumerate().skip(line) {
            if !(l.trim().is_empty() || l.len() - l.trim_start().len() > indent) {
                break;
            }
            out[i] = String::new();
        }
        return Some(out.join("\n"));
    }
    if at_key {
        return set_aside_flow_entry(&lines, line, start, before);
    }
    let end = start + value_len(&here[start..], in_flow(before))?;
    if innermost_open(before) == Some('[') {
        return Some(blank_with_comma(&lines, line, start, end, before));
    }
    let width = here[start..end].chars().count().max(1);
    out[line - 1] = format!("{before}~{}{}", " ".repeat(width - 1), &here[end..]);
    Some(out.join("\n"))
}

/// `lines` with the flow mapping's entry `key: value` that starts at byte `start` of `line`
/// (1-based) blanked, with the comma that parts it from the next entry (or, for the last, from
/// the one before); `None` when the entry goes on past its line.
fn set_aside_flow_entry(lines: &[&str], line: usize, start: usize, before: &str) -> Option<String> {
    if !in_flow(before) {
        return None;
    }
    let here = lines[line - 1];
    let rest = &here[start..];
    let (key, after) = rest.split_once(':')?;
    let value_at = start + key.len() + 1 + (after.len() - after.trim_start().len());
    let value = &here[value_at..];
    let end = match value.chars().next() {
        None => return None,
        Some(',' | '}') => value_at,
        Some(_) => value_at + value_len(value, true)?,
    };
    Some(blank_with_comma(lines, line, start, end, before))
}

/// `lines` with bytes `start..end` of `line` (1-based), an entry of a flow collection, blanked
/// with the comma that parts it from the next entry (or, for the last, from the one before).
fn blank_with_comma(lines: &[&str], line: usize, start: usize, end: usize, before: &str) -> String {
    let here = lines[line - 1];
    let (mut begin, mut end) = (start, end);
    let tail = &here[end..];
    let spaces = tail.len() - tail.trim_start().len();
    if tail.trim_start().starts_with(',') {
        end += spaces + 1;
    } else if let Some(comma) = before.trim_end().strip_suffix(',') {
        begin = comma.len();
    }
    let width = here[begin..end].chars().count();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[line - 1] = format!("{}{}{}", &here[..begin], " ".repeat(width), &here[end..]);
    out.join("\n")
}

/// The bracket of the innermost flow collection `before` (a line up to a value) leaves open.
fn innermost_open(before: &str) -> Option<char> {
    let mut open = Vec::new();
    let mut quote = None;
    for c in before.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => open.push(c),
            (None, ']' | '}') => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}

/// Whether `before` (a line up to a value) leaves a flow collection open.
fn in_flow(before: &str) -> bool {
    let mut depth = 0i32;
    let mut quote = None;
    for c in before.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// The length in bytes of the value that starts `rest` (the rest of its line), or `None`
/// when it goes on past the line or is a block scalar.
fn value_len(rest: &str, flow: bool) -> Option<usize> {
    let first = rest.chars().next()?;
    match first {
        '"' | '\'' => {
            let mut escaped = false;
            for (i, c) in rest.char_indices().skip(1) {
                match c {
                    '\\' if first == '"' && !escaped => escaped = true,
                    c if c == first && !escaped => return Some(i + 1),
                    _ => escaped = false,
                }
            }
            None
        }
        '[' | '{' => {
            let mut depth = 0i32;
            let mut quote = None;
            for (i, c) in rest.char_indices() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quote = Some(c),
                    (None, '[' | '{') => depth += 1,
                    (None, ']' | '}') => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        '|' | '>' | '-' if !flow => None,
        _ => {
            let end = match flow {
                true => rest.find([',', ']', '}']).unwrap_or(rest.len()),
                false => rest.find(" #").unwrap_or(rest.len()),
            };
            Some(rest[..end].trim_end().len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_set_aside_in_place() {
        assert_eq!(
            set_aside("a:\n  mtu: big\n  b: 1\n", (2, 8), false).unwrap(),
            "a:\n\n  b: 1\n"
        );
        assert_eq!(
            set_aside("n: {mtu: big, b: 1}\n", (1, 10), false).unwrap(),
            "n: {mtu: ~  , b: 1}\n"
        );
        assert_eq!(
            set_aside("l:\n  - mtu: \"big\" # x\n", (2, 10), false).unwrap(),
            "l:\n  - mtu: ~     # x\n"
        );
        assert_eq!(
            set_aside("n:\n  bind:\n    - a\n  c: 1\n", (2, 3), true).unwrap(),
            "n:\n\n\n  c: 1\n"
        );
        assert_eq!(
            set_aside("n: {bind: 1}\n", (1, 5), true).unwrap(),
            "n: {       }\n"
        );
        assert_eq!(
            set_aside("n: {a: x, bind: [1, 2], b: y}\n", (1, 11), true).unwrap(),
            "n: {a: x,               b: y}\n"
        );
        assert_eq!(
            set_aside("n: {a: x, bind: 1}\n", (1, 11), true).unwrap(),
            "n: {a: x         }\n"
        );
        assert_eq!(
            set_aside("n: {a: x, bind: [1,\n  2]}\n", (1, 11), true),
            None
        );
        assert_eq!(set_aside("n:\n  - x: |\n    text\n", (2, 8), false), None);
    }
}
