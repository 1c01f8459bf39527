//! Reading a lab file within bounds: at most [`FILE_MAX`] bytes from anything, FIFOs and
//! devices without waiting forever, UTF-8 only, and the depth scan that refuses a file nested
//! deeper than [`DEPTH_MAX`] before any parser sees it.

use super::LabFileError;

/// The largest lab file read. A lab of 10,000 links is about 500 KB; anything much larger is
/// the wrong file (`/dev/zero`, a disk image), refused before it fills memory.
pub const FILE_MAX: usize = 4 << 20;

/// The deepest nesting of mappings and lists a lab file may have. A lab needs 6 levels
/// (`topology: links: - endpoints: - {node:}`), containerlab's `vars:` a few more; YAML
/// parsers slow down with the square of the depth (64 KiB of `[` took 85 s), so deeper files
/// are refused before parsing.
pub const DEPTH_MAX: usize = 64;

/// How long a FIFO or device may stay silent while it is read: a FIFO nobody writes to would
/// otherwise block forever. Stdin is read without a limit, like any filter's input.
pub const IDLE_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// The text of the lab file at `path` and the name to give it in messages: `-` reads stdin
/// (named `<stdin>`). At most [`FILE_MAX`] bytes are read from anything; FIFOs and devices are
/// read without blocking for longer than [`IDLE_MAX`] at a time. The text must be UTF-8.
pub fn read_source(path: &str) -> Result<(String, String), LabFileError> {
    use std::io::Read;
    let read_error = |source: std::io::Error| LabFileError::Read {
        path: path.to_string(),
        source,
    };
    let (shown, bytes) = if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(FILE_MAX as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        ("<stdin>".to_string(), bytes)
    } else {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so that opening a FIFO with no writer returns at once.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if meta.is_dir() {
            return Err(LabFileError::new(
                path,
                None,
                "is a directory, not a lab file".into(),
            ));
        }
        if meta.is_file() && meta.len() > FILE_MAX as u64 {
            return Err(too_big(path));
        }
        let bytes = if meta.is_file() {
            let mut bytes = Vec::new();
            (&file)
                .take(FILE_MAX as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(read_error)?;
            bytes
        } else {
            read_patiently(path, file)?
        };
        (path.to_string(), bytes)
    };
    if bytes.len() > FILE_MAX {
        return Err(too_big(&shown));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        let byte = e.as_bytes()[valid.len()];
        LabFileError::new(
            &shown,
            Some((line, column)),
            format!("byte 0x{byte:02x} is not UTF-8: a lab file is UTF-8 text"),
        )
    })?;
    Ok((shown, text))
}

fn too_big(path: &str) -> LabFileError {
    LabFileError::new(
        path,
        None,
        format!(
            "larger than {} MiB, the most a lab file may be (10,000 links take about 500 KB); \
             is this the lab file?",
            FILE_MAX >> 20
        ),
    )
}

/// Reads a FIFO or a device opened non-blocking: at most [`FILE_MAX`] + 1 bytes, waiting at
/// most [`IDLE_MAX`] for each chunk.
fn read_patiently(path: &str, mut file: std::fs::File) -> Result<Vec<u8>, LabFileError> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    while bytes.len() <= FILE_MAX {
        let mut poll = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd that lives for the call; the fd is open.
        let ready = unsafe { libc::poll(&mut poll, 1, IDLE_MAX.as_millis() as libc::c_int) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(LabFileError::Read {
                path: path.to_string(),
                source: error,
            });
        }
        if ready == 0 {
            return Err(LabFileError::new(
                path,
                None,
                format!(
                    "nothing to read for {} s (a FIFO that no program writes to?)",
                    IDLE_MAX.as_secs()
                ),
            ));
        }
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) => {}
            Err(source) => {
                return Err(LabFileError::Read {
                    path: path.to_string(),
                    source,
                });
            }
        }
    }
    Ok(bytes)
}
/// Where the text first nests deeper than [`DEPTH_MAX`] (line and column, 1-based), found by a
/// scan that needs no parser: flow brackets outside quotes and comments, and block levels by
/// indentation (a `- ` entry and a `key:` after it each open one). It may count a level too
/// many in odd corners (indented lines of a quoted scalar), never one too few of the brackets
/// that make parsers slow.
pub(super) fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut quote: Option<char> = None;
    let mut flow = 0usize;
    let mut blocks: Vec<usize> = Vec::new();
    // Inside a block scalar (`|`, `>`): lines indented more than this are its text.
    let mut scalar_above: Option<usize> = None;
    for (l, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = line[indent..].trim_end();
        if let Some(above) = scalar_above {
            if rest.is_empty() || indent > above {
                continue;
            }
            scalar_above = None;
        }
        if quote.is_none() && flow == 0 && !rest.is_empty() && !rest.starts_with('#') {
            while blocks.last().is_some_and(|&top| top >= indent) {
                blocks.pop();
            }
            blocks.push(indent);
            // `- - key:` opens a level at each dash and at the key.
            let mut column = indent;
            let mut tail = rest;
            while let Some(after) = tail.strip_prefix("- ").or_else(|| tail.strip_prefix("? ")) {
                let skipped = tail.len() - after.trim_start().len();
                column += skipped;
                tail = after.trim_start();
                blocks.push(column);
            }
            if blocks.len() > DEPTH_MAX {
                return Some((l + 1, column + 1));
            }
        }
        let mut previous = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match quote {
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if previous.is_whitespace() => break,
                    '\'' | '"' if quote_may_open(previous) => quote = Some(c),
                    '[' | '{' => {
                        flow += 1;
                        if blocks.len() + flow > DEPTH_MAX {
                            return Some((l + 1, line[..at].chars().count() + 1));
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
        }
        if quote.is_none() && flow == 0 {
            let end = rest.split(" #").next().unwrap_or_default().trim_end();
            let header = end.rsplit(' ').next().unwrap_or_default();
            if header.starts_with(['|', '>'])
                && header[1..]
                    .chars()
                    .all(|c| matches!(c, '-' | '+' | '0'..='9'))
            {
                scalar_above = Some(indent);
            }
        }
    }
    None
}

/// In a flow collection, a quote opens a quoted scalar only where a scalar may start.
pub(super) fn quote_may_open(previous: char) -> bool {
    previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':')
}

/// The lab file `up`, `plan` and `down` use when given none: the one `*.clab.yml` or
/// `*.clab.yaml` in `dir` (containerlab's convention, which patchwire's own files may follow
/// too). None, or several, is an error that names what was looked for and what was found.
/// (Its advice names `patchwire up FILE`; [`find_default_file_for`] names the command run.)
pub fn find_default_file(dir: &std::path::Path) -> Result<std::path::PathBuf, LabFileError> {
    find_default_file_for(dir, "up")
}

/// [`find_default_file`] for `command` (`plan`, `down`, `graph`, `show --lab`…): with none
/// there, the advice is the command the user ran, `name the file (`patchwire plan FILE`)`.
pub fn find_default_file_for(
    dir: &std::path::Path,
    command: &str,
) -> Result<std::path::PathBuf, LabFileError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|source| LabFileError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut found: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            (name.ends_with(".clab.yml") || name.ends_with(".clab.yaml")) && p.is_file()
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(LabFileError::new(
            &shown,
            None,
            format!(
                "no lab file given, and no *.clab.yml or *.clab.yaml here to use: name the file \
                 (`patchwire {command} FILE`)"
            ),
        )),
        _ => {
            let names: Vec<String> = found
                .iter()
                .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
                .collect();
            Err(LabFileError::new(
                &shown,
                None,
                format!(
                    "no lab file given, and {} *.clab.yml files here ({}): name the one to use",
                    names.len(),
                    names.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_default_file_is_the_one_clab_file_here() {
        let dir = std::env::temp_dir().join(format!("pw-default-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.yaml"), "").unwrap();
        let none = super::find_default_file(&dir).unwrap_err().to_string();
        let plan = super::find_default_file_for(&dir, "plan")
            .unwrap_err()
            .to_string();
        let down = super::find_default_file_for(&dir, "down")
            .unwrap_err()
            .to_string();
        std::fs::write(dir.join("b.clab.yml"), "").unwrap();
        let one = super::find_default_file(&dir).unwrap();
        std::fs::write(dir.join("a.clab.yaml"), "").unwrap();
        let two = super::find_default_file(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        let shown = dir.display();
        assert_eq!(
            none,
            format!(
                "{shown}: no lab file given, and no *.clab.yml or *.clab.yaml here to use: name \
                 the file (`patchwire up FILE`)"
            )
        );
        for (command, said) in [("plan", plan), ("down", down)] {
            assert_eq!(
                said,
                format!(
                    "{shown}: no lab file given, and no *.clab.yml or *.clab.yaml here to use: \
                     name the file (`patchwire {command} FILE`)"
                )
            );
        }
        assert_eq!(one, dir.join("b.clab.yml"));
        assert_eq!(
            two,
            format!(
                "{shown}: no lab file given, and 2 *.clab.yml files here (a.clab.yaml, \
                 b.clab.yml): name the one to use"
            )
        );
    }
    use super::*;
    use crate::lab::file::testing::*;
    use crate::lab::file::*;

    #[test]
    fn an_unreadable_file_is_named_with_the_os_error() {
        let e = load("/nonexistent/t1.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "reading lab file /nonexistent/t1.yaml: No such file or directory (os error 2)"
        );
        assert!(matches!(e, LabFileError::Read { ref source, .. }
            if source.kind() == std::io::ErrorKind::NotFound));
    }

    #[test]
    fn load_reads_the_file() {
        let path = std::env::temp_dir().join(format!("patchwire-lab-{}.yaml", std::process::id()));
        std::fs::write(&path, example()).unwrap();
        let loaded = load(path.to_str().unwrap());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.unwrap().links.len(), 4);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let message = "nested deeper than 64 levels here; a lab file needs 6 (containerlab's \
                       `vars:` a few more)";
        let flow = |n: usize| {
            two_nodes(&format!(
                "    - endpoints: [r1:e1, r2:e1]\n      vars: {}1{}\n",
                "[".repeat(n),
                "]".repeat(n)
            ))
        };
        // 60 brackets under 4 block levels pass; 64 KiB of them (85 s of parsing) is refused
        // at the 61st, at once.
        lab(&flow(60));
        assert_eq!(err(&flow(61)), format!("t1.yaml:8:73: {message}"));
        assert_eq!(err(&flow(65536)), format!("t1.yaml:8:73: {message}"));
        let mut block = two_nodes("    - endpoints: [r1:e1, r2:e1]\n      vars:\n");
        for level in 0..70 {
            block.push_str(&format!("{}k:\n", " ".repeat(8 + level)));
        }
        assert_eq!(err(&block), format!("t1.yaml:69:69: {message}"));
        // Block scalars, quotes and comments open nothing.
        let text = two_nodes(&format!(
            "    - endpoints: [r1:e1, r2:e1]  # {open}\n      vars:\n        a: \"{open}\"\n        \
             b: '{open}'\n        c: |\n{lines}",
            open = "[".repeat(100),
            lines = (0..100)
                .map(|i| format!("{}x\n", " ".repeat(10 + i)))
                .collect::<String>()
        ));
        lab(&text);
    }

    #[test]
    fn files_are_read_within_bounds() {
        let dir = std::env::temp_dir().join(format!("pw-labfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        std::fs::write(
            path("utf8"),
            b"name: t1\ntopology:\n  nodes: {r\xc3\xa9: {}, \xff: {}}\n",
        )
        .unwrap();
        assert_eq!(
            load(&path("utf8")).unwrap_err().to_string(),
            format!(
                "{}:3:19: byte 0xff is not UTF-8: a lab file is UTF-8 text",
                path("utf8")
            )
        );
        std::fs::write(path("big"), vec![b'#'; FILE_MAX + 1]).unwrap();
        let too_big = "larger than 4 MiB, the most a lab file may be (10,000 links take about \
                       500 KB); is this the lab file?";
        assert_eq!(
            load(&path("big")).unwrap_err().to_string(),
            format!("{}: {too_big}", path("big"))
        );
        assert_eq!(
            load("/dev/zero").unwrap_err().to_string(),
            format!("/dev/zero: {too_big}")
        );
        assert_eq!(
            load(dir.to_str().unwrap()).unwrap_err().to_string(),
            format!("{}: is a directory, not a lab file", dir.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
