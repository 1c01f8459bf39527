//! Small syscall helpers shared by the rooms that talk to file descriptors directly (packet
//! sockets, taps, capture rings): waiting for input with a deadline, socket options, and an
//! `io::Error` that says what was being done. Each unsafe block is here once, with its reason.
//! (File locks need none: `std::fs::File::lock` / `try_lock` are flock(2).)

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Instant;

use libc::c_int;

/// Polls `fd` for readability until `deadline`. `Ok(false)` means the deadline passed;
/// `Ok(true)` means "try reading again" (ready, or interrupted).
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, deadline: Instant) -> io::Result<bool> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Ok(false);
    }
    // Round up so we never wake just before the deadline and spin.
    let ms = remaining.as_micros().div_ceil(1000).min(c_int::MAX as u128) as c_int;
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(true)
        } else {
            Err(e)
        };
    }
    Ok(rc > 0)
}

/// Sets an integer socket option.
pub(crate) fn set_int_opt(
    fd: BorrowedFd<'_>,
    level: c_int,
    name: c_int,
    value: c_int,
) -> io::Result<()> {
    // SAFETY: an integer option holds no pointer; the kernel reads the c_int we pass.
    unsafe { setsockopt(fd, level, name, &value) }
}

/// Sets socket option `name` at `level` to the bytes of `value`.
///
/// # Safety
/// `value` must be what the kernel expects for this option, and every pointer inside it (a
/// `sock_fprog`'s instructions, say) must be valid for the kernel to read during the call.
pub(crate) unsafe fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: c_int,
    name: c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a live T and the length passed is its size; the caller vouches for
    // what it points at.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `e` with what was being done in front of its message (the kind, so the errno's meaning,
/// is kept).
pub(crate) fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A lock file held with flock(2) and removed by its holder on release (labs' and
/// impairments' locks). A waiter that had opened the file before it was removed gets the lock
/// once the holder is done, sees that the path no longer names the file it locked and starts
/// over on the path's new file — so two holders never hold "the" lock at once.
pub(crate) struct HeldLock {
    /// The locked file (a lab writes the command holding it there).
    pub(crate) file: std::fs::File,
    path: std::path::PathBuf,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Still locked here: nobody can be between taking the lock and checking the inode.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Takes the lock at `path` (its directory made if missing), waiting while another process
/// holds it. The error says which step failed (`creating the directory of`, `opening`,
/// `locking`, `reading`), for the caller's message.
pub(crate) fn hold_lock(path: &std::path::Path) -> Result<HeldLock, (&'static str, io::Error)> {
    use std::os::unix::fs::MetadataExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ("creating the directory of", e))?;
    }
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| ("opening the lock file", e))?;
        file.lock().map_err(|e| ("locking", e))?;
        let held = file.metadata().map_err(|e| ("reading", e))?;
        match std::fs::metadata(path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                return Ok(HeldLock {
                    file,
                    path: path.to_path_buf(),
                });
            }
            // The holder we waited for removed it: try again on the new file.
            _ => continue,
        }
    }
}
