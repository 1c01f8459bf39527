//! Line and column of a place in the document: a second walk over it that stops at one node
//! (serde_norway reports the position of the error it stops with), and a scan of a list's
//! items for the line of each link and mirror.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::read::quote_may_open;

/// One step of a walk into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    /// The value of a key in a mapping; the number counts earlier keys of the same name (for a
    /// repeated key).
    Key(String, usize),
    /// An item of a sequence.
    Index(usize),
}

pub(super) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string(), 0)
}

/// Reads serde_norway's path (`topology.links[2].endpoints`) back into steps.
pub(super) fn parse_ypath(ypath: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    if ypath.is_empty() || ypath == "." {
        return segs;
    }
    for part in ypath.split('.') {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            segs.push(key(name));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segs.push(Seg::Index(i));
            }
        }
    }
    segs
}

/// The 1-based line and column of the node a walk leads to (with `at_key`, of the last key
/// itself rather than its value), or `None` when the document has no such node.
pub(super) fn locate(text: &str, segs: &[Seg], at_key: bool) -> Option<(usize, usize)> {
    let walk = Walk { segs, at_key };
    match walk.deserialize(serde_norway::Deserializer::from_str(text)) {
        Err(e) if e.to_string().contains(HERE) => e.location().map(|l| (l.line(), l.column())),
        _ => None,
    }
}

/// The error a walk stops with where it arrives.
const HERE: &str = "\u{1f}patchwire: here";

/// Walks to a node and fails there, so that serde_norway gives the failure the node's position.
struct Walk<'a> {
    segs: &'a [Seg],
    at_key: bool,
}

impl Walk<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        if self.segs.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.here()?;
        let Some((Seg::Key(want, nth), rest)) = self.segs.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut seen = 0;
        loop {
            let target = KeyMatch {
                want,
                fail: self.at_key && rest.is_empty() && seen == *nth,
            };
            match map.next_key_seed(target)? {
                None => return Ok(()),
                Some(true) if seen == *nth => {
                    seen += 1;
                    map.next_value_seed(Walk {
                        segs: rest,
                        at_key: self.at_key,
                    })?;
                }
                Some(matched) => {
                    seen += usize::from(matched);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.here()?;
        let want = match self.segs.first() {
            Some(Seg::Index(i)) => Some(*i),
            _ => None,
        };
        let mut i = 0;
        loop {
            let more = if Some(i) == want {
                seq.next_element_seed(Walk {
                    segs: &self.segs[1..],
                    at_key: self.at_key,
                })?
                .is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.here()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.here()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.here()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.here()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.here()
    }

    // Numbers beyond 64 bits are values too (`seed: 99999999999999999999999`).
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.here()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.here()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
}

/// Reads a key: true when it is the one wanted; fails there when `fail`.
struct KeyMatch<'a> {
    want: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyMatch<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match (v == self.want, self.fail) {
            (true, true) => Err(E::custom(HERE)),
            (matched, _) => Ok(matched),
        }
    }
}

/// The 1-based line and column (in characters; 0 and 0 when not found) of each item of
/// `topology.LIST` (`links`, `mirrors`): one walk to the list, then a scan of its items; a
/// walk per item when the scan does not find as many items as serde_norway did.
pub(super) fn item_positions(text: &str, list: &str, count: usize) -> Vec<(usize, usize)> {
    if count == 0 {
        return Vec::new();
    }
    let list = [key("topology"), key(list)];
    let scanned = locate(text, &list, false)
        .and_then(|(line, column)| offset(text, line, column))
        .and_then(|start| sequence_items(text, start))
        .filter(|items| items.len() == count);
    match scanned {
        Some(items) => {
            // Items come in file order: count newlines once, from one item to the next.
            let (mut line, mut from) = (1, 0);
            items
                .into_iter()
                .map(|at| {
                    line += text[from..at].matches('\n').count();
                    from = at;
                    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
                    (line, text[start..at].chars().count() + 1)
                })
                .collect()
        }
        None => (0..count)
            .map(|i| {
                let segs = [list[0].clone(), list[1].clone(), Seg::Index(i)];
                locate(text, &segs, false).unwrap_or((0, 0))
            })
            .collect(),
    }
}

/// The byte offset of a 1-based line and (character) column.
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let rest = text.get(start..)?;
    let within = match rest.char_indices().nth(column.checked_sub(1)?) {
        Some((at, _)) => at,
        None => rest.len(),
    };
    Some(start + within)
}

/// The byte offsets where the items of the sequence starting at `start` begin: a block
/// sequence (items are `-` at the first item's indentation) or a flow sequence (`[a, b]`).
/// An anchor or tag before the sequence is skipped. `None` when `start` is neither.
pub(super) fn sequence_items(text: &str, start: usize) -> Option<Vec<usize>> {
    let mut at = start;
    while matches!(text[at..].chars().next(), Some('&' | '!')) {
        at += text[at..].find(char::is_whitespace)?;
        at += text[at..].len() - text[at..].trim_start().len();
    }
    match text[at..].chars().next()? {
        '[' => Some(flow_items(text, at)),
        '-' => block_items(text, at),
        _ => None,
    }
}

fn block_items(text: &str, first: usize) -> Option<Vec<usize>> {
    let line_start = text[..first].rfind('\n').map_or(0, |n| n + 1);
    if !text[line_start..first].chars().all(|c| c == ' ') {
        return None;
    }
    let indent = first - line_start;
    let mut items = vec![first];
    let mut at = line_start;
    for line in text[line_start..].split_inclusive('\n') {
        let line_at = at;
        at += line.len();
        if line_at == line_start {
            continue;
        }
        let trimmed = line.trim_start_matches(' ');
        let body = trimmed.trim_end();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let column = line.len() - trimmed.len();
        if column > indent {
            continue;
        }
        let dash = body == "-" || trimmed.starts_with("- ") || trimmed.starts_with("-\t");
        if column < indent || !dash {
            break;
        }
        items.push(line_at + column);
    }
    Some(items)
}

fn flow_items(text: &str, open: usize) -> Vec<usize> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut expect_item = false;
    let mut chars = text[open..]
        .char_indices()
        .map(|(i, c)| (open + i, c))
        .peekable();
    let mut previous = ' ';
    while let Some((at, c)) = chars.next() {
        if expect_item && depth == 1 && !c.is_whitespace() && !matches!(c, ']' | ',' | '#') {
            items.push(at);
            expect_item = false;
        }
        match c {
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expect_item = true;
                }
            }
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expect_item = true,
            '"' if quote_may_open(previous) => {
                let mut escaped = false;
                for (_, s) in chars.by_ref() {
                    match (s, escaped) {
                        ('\\', false) => escaped = true,
                        ('"', false) => break,
                        _ => escaped = false,
                    }
                }
            }
            '\'' if quote_may_open(previous) => {
                while let Some((_, s)) = chars.next() {
                    if s == '\'' {
                        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '#' if previous.is_whitespace() => {
                for (_, s) in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
        previous = c;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::file::testing::*;

    #[test]
    fn byte_order_marks_and_crlf_line_ends_are_read() {
        let text = format!("\u{feff}{}", two_nodes("    - endpoints: [r1:a, r2:a]\n"));
        assert_eq!(lab(&text).links[0].line, 7);
        let text = two_nodes("    - endpoints: [r1:a, r2:a]\n    - endpoints: [r1:a, r2:b]\n");
        assert_eq!(
            err(&text.replace('\n', "\r\n")),
            "t1.yaml:8:19: endpoint r1:a is in two links (lines 7 and 8)"
        );
    }

    #[test]
    fn link_lines_follow_any_layout() {
        // Flow list over several lines, with comments, quotes holding brackets and commas.
        let text = two_nodes(
            "    [ {endpoints: ['r1:a', \"r2:a\"]},   # one, [two]\n\
             \x20     {endpoints: [r1:b, r2:b], vars: {s: 'x, ]'}},\n\n\
             \x20     {endpoints: [r1:c, r2:c]} ]\n",
        );
        let lines: Vec<usize> = lab(&text).links.iter().map(|l| l.line).collect();
        assert_eq!(lines, [7, 8, 10]);
        // Block list indented like its key, behind an anchor, then another key.
        let text = "name: t1\ntopology:\n  links: &all\n  - endpoints: [r1:a, r2:a]\n  -\n    \
                    endpoints: [r1:b, r2:b]\n  nodes: {r1: {}, r2: {}}\n";
        let lines: Vec<usize> = lab(text).links.iter().map(|l| l.line).collect();
        assert_eq!(lines, [4, 5]);
    }

    #[test]
    fn sequence_items_are_found_by_scanning() {
        let text = "- a\n  # x\n- - b\n  - c\n-\n  d\nkey: e\n- f\n";
        let items = sequence_items(text, 0).unwrap();
        assert_eq!(items, [0, 10, 22]);
        let text = "[a, 'it''s, [', \"q\\\"]\", {k: [1, 2]}, ]";
        let items = sequence_items(text, 0).unwrap();
        let starts: Vec<char> = items
            .iter()
            .map(|i| text[*i..].chars().next().unwrap())
            .collect();
        assert_eq!(starts, ['a', '\'', '"', '{']);
        assert_eq!(sequence_items("x: 1", 0), None);
    }
}
