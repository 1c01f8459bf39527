//! One change at a time per namespace: `impair` reads what is set, merges the change in and
//! sets the result; `cut` and `mend` read a port's alias and write it. Two such commands at
//! once on one namespace would each write over the other's change (`impair pa --loss 5%` and
//! `impair pa --corrupt 1%` together kept only one). [`lock`] takes
//! /run/patchwire/impair-DEV-INO.lock (the namespace's nsfs device and inode, as `watch`
//! names its lock) with flock(2), waiting for a holder; the file is removed by its holder on
//! release, as a lab's lock is (checked to still be the path's file after locking, so a waiter
//! that locked a removed file tries again).

use std::path::Path;

use super::ImpairError;
use crate::netns::{Netns, NsKey};
use crate::sys::{HeldLock, hold_lock};
use crate::wire::WireError;

const LOCK_DIR: &str = "/run/patchwire";

/// Held while an impairment or a cable of one namespace is read and changed.
pub struct ImpairLock {
    _held: HeldLock,
}

/// Takes the impairment lock of `netns`, waiting while another patchwire holds it.
pub fn lock(netns: &Netns) -> Result<ImpairLock, ImpairError> {
    let NsKey { dev, inode } = netns.inode();
    lock_at(Path::new(LOCK_DIR), &format!("impair-{dev}-{inode}.lock"))
}

fn lock_at(dir: &Path, name: &str) -> Result<ImpairLock, ImpairError> {
    let path = dir.join(name);
    let held = hold_lock(&path).map_err(|(what, e)| {
        ImpairError::Wire(WireError::io(format!("{what} {}", path.display()), e))
    })?;
    Ok(ImpairLock { _held: held })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_the_file_goes_with_the_last() {
        let dir = std::env::temp_dir().join(format!("pw-impair-lock-{}", std::process::id()));
        let first = lock_at(&dir, "x.lock").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let dir2 = dir.clone();
        let waiter = std::thread::spawn(move || {
            let second = lock_at(&dir2, "x.lock").unwrap();
            tx.send(()).unwrap();
            drop(second);
        });
        // The waiter cannot have the lock while the first is held.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err()
        );
        drop(first);
        rx.recv().unwrap();
        waiter.join().unwrap();
        assert!(!dir.join("x.lock").exists());
        let _ = std::fs::remove_dir(&dir);
    }
}
