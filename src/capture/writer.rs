//! pcapng files as a capture writes them: a section header and the interfaces at the start of
//! every file, frames as they come, statistics at the end of every file; a ring of files
//! rotated exactly when a frame takes a file past its size (dumpcap's `-b filesize`), or on time.

use std::io;

use super::output::{Destination, Rotation, Sink};
use super::pcapng::{self, Interface, Statistics};

/// Writes one capture's blocks to its destination.
pub struct Writer {
    sink: Sink,
    interfaces: Vec<Interface>,
    /// Per interface, as last noted (the closing blocks of a file report these).
    statistics: Vec<Statistics>,
}

impl Writer {
    /// Opens the destination and writes the first file's header (flushed: a capture killed at
    /// any moment leaves a valid file).
    pub fn open(
        destination: Destination,
        rotation: Rotation,
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
    pub fn packet(
        &mut self,
        interface_id: u32,
        timestamp_ns: u64,
        original_len: u32,
        parts: [&[u8]; 3],
        flags: u32,
    ) -> io::Result<()> {
        if self.sink.full() {
            self.rotate()?;
        }
        pcapng::enhanced_packet_parts(
            self.sink.buffer(),
            interface_id,
            timestamp_ns,
            original_len,
            parts,
            flags,
        );
        Ok(())
    }

    /// Whether the current file is due for its next one by age.
    pub fn rotation_due(&self) -> bool {
        self.sink.old()
    }

    /// How long until the current file is due by age.
    pub fn until_rotation(&self) -> Option<std::time::Duration> {
        self.sink.until_rotation()
    }

    /// Closes the current file with its statistics and starts the next with its header.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.closing();
        self.sink.rotate()?;
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
