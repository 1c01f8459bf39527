//! Environment expansion over the whole text before it is parsed, as containerlab does
//! (github.com/hellt/envsubst with its "no replace" rule, core/file.go):
//!
//! - `$VAR` and `${VAR}`: the variable's value when it is set and not empty; otherwise the
//!   text stays, written `$VAR` (containerlab's rule: an unset variable is not an error and
//!   is not emptied; its braces are dropped). Each such variable is named in a note.
//! - `${VAR:-DEFAULT}`, `${VAR:=DEFAULT}`: the value when set and not empty, else DEFAULT.
//! - `${VAR-DEFAULT}`, `${VAR=DEFAULT}`: DEFAULT only when VAR is unset.
//! - `${VAR:+ALT}`, `${VAR+ALT}`: ALT when VAR is set, else nothing.
//! - `$$` is one `$`; `$1` and `${1}` (a digit first) stay as written; a `$` before anything
//!   else stays.
//!
//! A `${` without its `}` on the same line is an error, at its place.

use std::collections::BTreeSet;

/// A malformed `${`: its 1-based (line, column) and what is wrong.
pub(super) type ExpandError = ((usize, usize), String);

/// The text with variables expanded, and the variables that were left as written (unset or
/// empty, without a default); or where a malformed one is.
pub(super) fn expand(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, BTreeSet<String>), ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut kept = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut chars = after.chars();
        match chars.next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('{') => {
                let inner = &after[1..];
                if inner.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push_str("${");
                    rest = inner;
                    continue;
                }
                let end = closing(inner).ok_or_else(|| {
                    let consumed = text.len() - rest.len() + at;
                    (
                        position(text, consumed),
                        "`${` without its closing `}` on the same line (write `$$` for a `$`)"
                            .to_string(),
                    )
                })?;
                out.push_str(&substitute(&inner[..end], env, &mut kept));
                rest = &inner[end + 1..];
            }
            Some(c) if is_name(c) && !c.is_ascii_digit() => {
                let len = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
                let name = &after[..len];
                if name == "_" {
                    out.push_str("$_");
                } else {
                    // A comment's `$word` (a schema URL's `$schema`) is expanded like the rest
                    // but not worth a note.
                    let line = &out[out.rfind('\n').map_or(0, |n| n + 1)..];
                    let comment = line.trim_start().starts_with('#');
                    let mut noted = BTreeSet::new();
                    out.push_str(&value_or_kept(name, env, &mut noted));
                    if !comment {
                        kept.extend(noted);
                    }
                }
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok((out, kept))
}

fn is_name(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The byte offset of the `}` closing a `${`, nested `${…}` counted, on the same line.
fn closing(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = inner.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'\n' | b'\r' => return None,
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn value_or_kept(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    kept: &mut BTreeSet<String>,
) -> String {
    match env(name).filter(|v| !v.is_empty()) {
        Some(value) => value,
        None => {
            kept.insert(name.to_string());
            format!("${name}")
        }
    }
}

/// The inside of `${…}`: `VAR`, or `VAR` with an operator and a word (itself expanded).
fn substitute(
    inner: &str,
    env: &dyn Fn(&str) -> Option<String>,
    kept: &mut BTreeSet<String>,
) -> String {
    let len = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
    let (name, op) = inner.split_at(len);
    let word = |w: &str, kept: &mut BTreeSet<String>| match expand(w, env) {
        Ok((w, more)) => {
            kept.extend(more);
            w
        }
        Err(_) => w.to_string(),
    };
    let set = env(name);
    let nonempty = set.as_deref().is_some_and(|v| !v.is_empty());
    for (prefix, colon) in [(":-", true), (":=", true), ("-", false), ("=", false)] {
        if let Some(default) = op.strip_prefix(prefix) {
            return match (colon, &set) {
                (true, _) if nonempty => set.unwrap_or_default(),
                (true, _) | (false, None) => word(default, kept),
                (false, Some(_)) => value_or_kept(name, env, kept),
            };
        }
    }
    for prefix in [":+", "+"] {
        if let Some(alt) = op.strip_prefix(prefix) {
            return match set {
                Some(_) => word(alt, kept),
                None => String::new(),
            };
        }
    }
    if op.is_empty() {
        return value_or_kept(name, env, kept);
    }
    // Something else inside the braces: left as written.
    format!("${{{inner}}}")
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "IMG" => Some("alpine:3".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ex(text: &str) -> String {
        expand(text, &env).unwrap().0
    }

    #[test]
    fn variables_expand_as_containerlab_does() {
        assert_eq!(ex("image: ${IMG}"), "image: alpine:3");
        assert_eq!(ex("image: $IMG."), "image: alpine:3.");
        assert_eq!(ex("${NOPE:-busybox}"), "busybox");
        assert_eq!(ex("${EMPTY:-busybox}"), "busybox");
        assert_eq!(ex("${EMPTY-busybox}"), "$EMPTY");
        assert_eq!(ex("${NOPE-busybox}"), "busybox");
        assert_eq!(ex("${IMG:-busybox}"), "alpine:3");
        assert_eq!(ex("${NOPE:=x}"), "x");
        assert_eq!(ex("${IMG:+set}${NOPE:+set}"), "set");
        assert_eq!(ex("${NOPE:-${IMG}}"), "alpine:3");
        // Unset without a default: kept, as `$NAME` (containerlab drops the braces), and named.
        let (text, kept) = expand("a: ${NOPE}\nb: $NOPE2 $EMPTY", &env).unwrap();
        assert_eq!(text, "a: $NOPE\nb: $NOPE2 $EMPTY");
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            ["EMPTY", "NOPE", "NOPE2"]
        );
        assert_eq!(ex("cost $$5, $1 ${1} $ x $_"), "cost $5, $1 ${1} $ x $_");
        // A comment's `$word` is expanded as containerlab does, but not named.
        let (text, kept) = expand(
            "# $schema=x.json
name: $IMG
",
            &env,
        )
        .unwrap();
        assert_eq!(
            text,
            "# $schema=x.json
name: alpine:3
"
        );
        assert!(kept.is_empty());
        assert_eq!(
            expand("name: x\nimage: ${IMG\n", &env).unwrap_err(),
            (
                (2, 8),
                "`${` without its closing `}` on the same line (write `$$` for a `$`)".into()
            )
        );
    }
}
