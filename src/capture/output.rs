//! Where captured blocks go: one file, stdout, or a ring of files (dumpcap's `-b`).
//!
//! Blocks are gathered in memory and written whole; a write that fails (a full disk) is cut
//! back to the last block that made it, so every file stays a valid pcapng file. Ring files are
//! named `PREFIX_00001_20261130120000.pcapng`: the sequence number makes them sort and never
//! collide, the local time says when each began.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long gathered blocks may wait before they are written (`-w -` is written every round).
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Or once this much is gathered.
const FLUSH_BYTES: usize = 1 << 20;

/// When to start the next file of a ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// After this many bytes (`-b filesize:KB`, in kB of 1000 bytes as dumpcap counts).
    pub bytes: Option<u64>,
    /// After this long, traffic or not (`-b duration:SEC`).
    pub every: Option<Duration>,
    /// When the wall clock reaches a multiple of this (`-b interval:SEC`: files that begin on
    /// the hour with 3600).
    pub interval: Option<Duration>,
    /// After this many frames (`-b packets:N`).
    pub packets: Option<u64>,
    /// Keep only the newest N files (`-b files:N`).
    pub keep: Option<usize>,
}

impl Rotation {
    /// Whether any `-b` was given.
    pub fn is_ring(&self) -> bool {
        self.bytes.is_some()
            || self.every.is_some()
            || self.interval.is_some()
            || self.packets.is_some()
            || self.keep.is_some()
    }
}

/// The destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// pcapng on stdout, flushed every round (for `| wireshark -k -i -`).
    Stdout,
    /// One file, or a ring of files named after it.
    File(PathBuf),
}

/// A writer of whole pcapng blocks to the destination.
pub struct Sink {
    destination: Destination,
    rotation: Rotation,
    target: Option<Box<dyn Write>>,
    /// The current file (for cutting back after a failed write).
    file: Option<(PathBuf, File)>,
    pending: Vec<u8>,
    /// Bytes of the current file known to be written whole.
    written: u64,
    opened: Instant,
    /// With `-b interval`: when the current file is due, by the wall clock.
    due_at: Option<SystemTime>,
    /// Frames in the current file.
    pub frames: u64,
    last_flush: Instant,
    sequence: u32,
    /// Files of the ring, oldest first.
    files: VecDeque<PathBuf>,
    /// Every file this capture wrote, in order (kept or pruned).
    pub all_files: Vec<PathBuf>,
}

impl Sink {
    /// Opens the destination (the first file of a ring).
    pub fn open(destination: Destination, rotation: Rotation) -> io::Result<Sink> {
        let mut sink = Sink {
            destination,
            rotation,
            target: None,
            file: None,
            pending: Vec::with_capacity(FLUSH_BYTES * 2),
            written: 0,
            opened: Instant::now(),
            due_at: None,
            frames: 0,
            last_flush: Instant::now(),
            sequence: 0,
            files: VecDeque::new(),
            all_files: Vec::new(),
        };
        sink.open_next(None)?;
        Ok(sink)
    }

    /// Opens the next file; `start`: the interval boundary it begins at (`-b interval`), which
    /// names it and sets when it is due — else now.
    fn open_next(&mut self, start: Option<SystemTime>) -> io::Result<()> {
        let begins = start.unwrap_or_else(SystemTime::now);
        match &self.destination {
            Destination::Stdout => {
                self.target = Some(Box::new(io::stdout()));
            }
            Destination::File(path) => {
                let path = match self.rotation.is_ring() {
                    true => {
                        self.sequence += 1;
                        ring_name(path, self.sequence, &local_timestamp_at(begins))
                    }
                    false => path.clone(),
                };
                let file = File::create(&path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                self.target = Some(Box::new(file.try_clone()?));
                self.file = Some((path.clone(), file));
                self.files.push_back(path.clone());
                self.all_files.push(path);
            }
        }
        self.written = 0;
        self.frames = 0;
        self.opened = Instant::now();
        self.due_at = self
            .rotation
            .interval
            .map(|interval| next_multiple(begins, interval));
        Ok(())
    }

    /// With `-b interval`, once `at_ns` (a frame's timestamp, or the time up to which every
    /// frame is written) has reached the current file's end: the boundary the next file
    /// starts at, the last multiple of the interval at or before `at_ns`. Frames decide, not
    /// the moment the loop wakes: each file holds exactly its interval's frames.
    pub fn interval_ended(&self, at_ns: u64) -> Option<SystemTime> {
        let (due, interval) = (self.due_at?, self.rotation.interval?);
        let at = UNIX_EPOCH + Duration::from_nanos(at_ns);
        (at >= due).then(|| last_multiple(at, interval))
    }

    /// Removes the oldest files beyond `-b files:N` — after the newest has its header, so a
    /// failure here never leaves an empty file behind. A file already gone (moved or
    /// compressed by someone) is fine.
    pub fn prune(&mut self) -> io::Result<()> {
        let Some(keep) = self.rotation.keep else {
            return Ok(());
        };
        while self.files.len() > keep {
            let old = self.files.pop_front().expect("more than keep >= 1 files");
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("removing {}: {e}", old.display()),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The gathering buffer, to build whole blocks in place.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Writes what is gathered when it is time (`force`: now). A failed write cuts the file
    /// back to its last whole block and reports the error.
    pub fn flush(&mut self, force: bool) -> io::Result<()> {
        let due = force
            || self.destination == Destination::Stdout
            || self.pending.len() >= FLUSH_BYTES
            || self.last_flush.elapsed() >= FLUSH_EVERY;
        if !due || self.pending.is_empty() {
            return Ok(());
        }
        let target = self.target.as_mut().expect("open");
        let result = target
            .write_all(&self.pending)
            .and_then(|()| target.flush());
        match result {
            Ok(()) => {
                self.written += self.pending.len() as u64;
                self.pending.clear();
                self.last_flush = Instant::now();
                Ok(())
            }
            Err(e) => {
                if let Some((path, file)) = &self.file {
                    // Keep the blocks of the failed write that landed whole; cut the rest.
                    let landed = file.metadata().map(|m| m.len()).unwrap_or(self.written);
                    let whole = whole_blocks(&self.pending, landed.saturating_sub(self.written));
                    self.written += whole as u64;
                    self.pending.clear();
                    let _ = file.set_len(self.written);
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "writing {}: {e}; the file is kept valid up to its last whole block ({} bytes)",
                            path.display(),
                            self.written
                        ),
                    ));
                }
                self.pending.clear();
                Err(e)
            }
        }
    }

    /// Whether the current file has reached its size or frame count (`-b filesize`, `-b
    /// packets`).
    pub fn full(&self) -> bool {
        self.rotation
            .bytes
            .is_some_and(|limit| self.size() >= limit)
            || self
                .rotation
                .packets
                .is_some_and(|limit| self.frames >= limit)
    }

    /// Whether the current file has reached its age (`-b duration`).
    pub fn old(&self) -> bool {
        self.rotation
            .every
            .is_some_and(|every| self.opened.elapsed() >= every)
    }

    /// How long until the current file is due by age or time (for the poll timeout); by
    /// time, `lag` later: frames are written that long after they arrive.
    pub fn until_rotation(&self, lag: Duration) -> Option<Duration> {
        let by_age = self
            .rotation
            .every
            .map(|every| every.saturating_sub(self.opened.elapsed()));
        let by_clock = self.due_at.map(|due| {
            (due + lag)
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        });
        match (by_age, by_clock) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Files opened so far (the current one included).
    pub fn files_opened(&self) -> usize {
        self.all_files.len().max(1)
    }

    /// Closes the current file (after the caller wrote its closing blocks) and opens the next.
    pub fn rotate(&mut self, start: Option<SystemTime>) -> io::Result<()> {
        self.flush(true)?;
        self.open_next(start)
    }

    /// Bytes written to the destination so far, in the current file.
    pub fn size(&self) -> u64 {
        self.written + self.pending.len() as u64
    }
}

/// The first instant after `now` that is a whole multiple of `interval` since the epoch.
fn next_multiple(now: SystemTime, interval: Duration) -> SystemTime {
    let since = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let step = interval.as_nanos().max(1);
    let next = (since / step + 1) * step;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

/// The last instant at or before `at` that is a whole multiple of `interval` since the epoch.
fn last_multiple(at: SystemTime, interval: Duration) -> SystemTime {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let step = interval.as_nanos().max(1);
    let last = since / step * step;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(last).unwrap_or(u64::MAX))
}

/// How many bytes of `blocks` (whole pcapng blocks back to back) are whole blocks within the
/// first `landed` bytes.
fn whole_blocks(blocks: &[u8], landed: u64) -> usize {
    let mut end = 0usize;
    while end + 8 <= blocks.len() {
        let len =
            u32::from_le_bytes(blocks[end + 4..end + 8].try_into().expect("4 bytes")) as usize;
        if len == 0 || (end + len) as u64 > landed {
            break;
        }
        end += len;
    }
    end
}

/// `out.pcapng` -> `out_00001_20261130120000.pcapng` (and `out` -> `out_00001_….pcapng`).
pub fn ring_name(path: &Path, sequence: u32, timestamp: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = match path.extension().map(|e| e.to_string_lossy().into_owned()) {
        Some(e) => format!(".{e}"),
        None => ".pcapng".into(),
    };
    path.with_file_name(format!("{stem}_{sequence:05}_{timestamp}{extension}"))
}

/// The local time as `YYYYmmddHHMMSS`.
#[cfg(test)]
fn local_timestamp() -> String {
    local_timestamp_at(SystemTime::now())
}

/// `at` in local time as YYYYMMDDhhmmss (the second it falls in).
fn local_timestamp_at(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    // SAFETY: localtime_r reads the time_t we pass and writes only into the struct we pass.
    unsafe {
        let now = secs as libc::time_t;
        let mut tm = std::mem::zeroed::<libc::tm>();
        libc::localtime_r(&now, &mut tm);
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_blocks_that_landed_whole_are_kept() {
        let mut blocks = Vec::new();
        crate::capture::pcapng::section_header(&mut blocks);
        let first = blocks.len();
        crate::capture::pcapng::enhanced_packet_parts(
            &mut blocks,
            0,
            0,
            60,
            [&[0; 60], &[], &[]],
            1,
        );
        assert_eq!(whole_blocks(&blocks, blocks.len() as u64), blocks.len());
        assert_eq!(whole_blocks(&blocks, blocks.len() as u64 - 1), first);
        assert_eq!(whole_blocks(&blocks, 3), 0);
    }

    #[test]
    fn interval_boundaries_are_multiples_of_the_interval() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        let hour = Duration::from_secs(3600);
        assert_eq!(next_multiple(at(7200, 0), hour), at(10800, 0));
        assert_eq!(next_multiple(at(7199, 999), hour), at(7200, 0));
        let half = Duration::from_millis(500);
        assert_eq!(next_multiple(at(10, 250), half), at(10, 500));
        assert_eq!(last_multiple(at(10, 250), half), at(10, 0));
        assert_eq!(last_multiple(at(10, 500), half), at(10, 500));
        assert_eq!(last_multiple(at(7199, 999), hour), at(3600, 0));
    }

    #[test]
    fn ring_names_sort_and_keep_the_extension() {
        let name = ring_name(Path::new("/tmp/cap/out.pcapng"), 7, "20261130120000");
        assert_eq!(name, Path::new("/tmp/cap/out_00007_20261130120000.pcapng"));
        assert_eq!(
            ring_name(Path::new("x"), 1, "20261130120000"),
            Path::new("x_00001_20261130120000.pcapng")
        );
        assert_eq!(local_timestamp().len(), 14);
    }
}
