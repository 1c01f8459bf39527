//! pcapng files as a capture writes them: a section header and the interfaces at the start of
//! every file, frames as they come, statistics at the end of every file; a ring of files
//! rotated exactly when a frame takes a file past its size (dumpcap's `-b filesize`), or on time.

use std::io;

use super::output::{Destination, Rotation, Sink};
use super::pcapng::{self, Interface, Statistics};

/// dumpcap's `-a` conditions that depend on what was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `-a filesize:KB` without `-b`: stop once the file has this many bytes.
    pub file_bytes: Option<u64>,
    /// `-a files:N`: stop instead of starting file N+1.
    pub files: Option<usize>,
}

/// Writes one capture's blocks to its destination.
pub struct Writer {
    sink: Sink,
    interfaces: Vec<Interface>,
    /// Per interface, as last noted (the closing blocks of a file report these).
    statistics: Vec<Statistics>,
    limits: Limits,
    /// Which limit stopped the writing (`filesize`, `files`); frames are then refused.
    stopped: Option<&'static str>,
}

impl Writer {
    /// Opens the destination and writes the first file's header (flushed: a capture killed at
    /// any moment leaves a valid file).
    pub fn open(
        destination: Destination,
        rotation: Rotation,
        limits: Limits,
        interfaces: Vec<Interface>,
        start_ns: u64,
    ) -> io::Result<Writer> {
        let statistics = vec![
            Statistics {
                start_ns,
                end_ns: start_ns,
                ..Statistics::default()
            };
            interfaces.len()
        ];
        let mut writer = Writer {
            sink: Sink::open(destination, rotation)?,
            interfaces,
            statistics,
            limits,
            stopped: None,
        };
        writer.header();
        writer.sink.flush(true)?;
        Ok(writer)
    }

    fn header(&mut self) {
        let buffer = self.sink.buffer();
        pcapng::section_header(buffer);
        for interface in &self.interfaces {
            pcapng::interface_description(buffer, interface);
        }
    }

    fn closing(&mut self) {
        for (id, stats) in self.statistics.iter().enumerate() {
            pcapng::interface_statistics(self.sink.buffer(), id as u32, stats);
        }
    }

    /// Notes the counters the closing blocks will report (ns since the epoch, received,
    /// dropped per interface).
    pub fn note_statistics(&mut self, end_ns: u64, counters: impl Iterator<Item = (u64, u64)>) {
        for (stats, (received, dropped)) in self.statistics.iter_mut().zip(counters) {
            stats.end_ns = end_ns;
            stats.received = received;
            stats.dropped = dropped;
        }
    }

    /// One frame, as up to three slices; starts the next file first when this one is full.
    /// Returns false, writing nothing, once a `-a filesize`/`files` limit is reached (see
    /// [`Writer::stopped`]).
    pub fn packet(
        &mut self,
        interface_id: u32,
        timestamp_ns: u64,
        original_len: u32,
        parts: [&[u8]; 3],
        flags: u32,
    ) -> io::Result<bool> {
        if self.stopped() {
            return Ok(false);
        }
        // `-b interval`: a frame of the next interval starts the next file, at its boundary.
        let next_interval = self.sink.interval_ended(timestamp_ns);
        if self.sink.full() || next_interval.is_some() {
            self.rotate_at(next_interval)?;
            if self.stopped() {
                return Ok(false);
            }
        }
        self.sink.frames += 1;
        pcapng::enhanced_packet_parts(
            self.sink.buffer(),
            interface_id,
            timestamp_ns,
            original_len,
            parts,
            flags,
        );
        Ok(true)
    }

    /// Whether a `-a filesize`/`files` limit was reached (the file as it is then is the last).
    pub fn stopped(&mut self) -> bool {
        if self.stopped.is_none()
            && self
                .limits
                .file_bytes
                .is_some_and(|limit| self.sink.size() >= limit)
        {
            self.stopped = Some("filesize");
        }
        self.stopped.is_some()
    }

    /// The limit that stopped the writing, if one did.
    pub fn stopped_by(&self) -> Option<&'static str> {
        self.stopped
    }

    /// Starts the next file when the current one is due: by age (`-b duration`), or, with `-b
    /// interval`, once every frame up to `written_until_ns` is written and that is past the
    /// file's interval (the next one starts at the boundary, named after it).
    pub fn rotate_if_due(&mut self, written_until_ns: u64) -> io::Result<()> {
        if self.sink.old() {
            return self.rotate_at(None);
        }
        match self.sink.interval_ended(written_until_ns) {
            Some(start) => self.rotate_at(Some(start)),
            None => Ok(()),
        }
    }

    /// How long until the current file is due by age, or by time plus `lag` (frames are
    /// written that long after they arrive).
    pub fn until_rotation(&self, lag: std::time::Duration) -> Option<std::time::Duration> {
        self.sink.until_rotation(lag)
    }

    /// Closes the current file with its statistics and starts the next with its header — or,
    /// when `-a files:N` files exist already, stops instead (the current file stays open until
    /// [`Writer::finish`]).
    pub fn rotate_at(&mut self, start: Option<std::time::SystemTime>) -> io::Result<()> {
        if self
            .limits
            .files
            .is_some_and(|files| self.sink.files_opened() >= files)
        {
            self.stopped = Some("files");
            return Ok(());
        }
        self.closing();
        self.sink.rotate(start)?;
        self.header();
        self.sink.flush(true)?;
        self.sink.prune()
    }

    /// Writes what is gathered when it is time.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush(false)
    }

    /// Closes the last file with its statistics; returns every file written.
    pub fn finish(mut self) -> io::Result<Vec<std::path::PathBuf>> {
        self.closing();
        let files = self.sink.all_files.clone();
        match self.sink.flush(true) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(files),
        }
    }
}
