//! `watch`: keeps wires honest while a lab runs — carrier propagation, re-attaching recreated
//! ends, reporting broken wires (the decisions are in `reconcile.rs`).
//!
//! Event-driven: one rtnetlink socket per watched namespace, subscribed to link changes
//! (RTNLGRP_LINK), each read by its own thread; a change marks the namespace dirty, and after a
//! short settle time the namespace is reconciled. Namespaces appearing or vanishing under
//! /run/netns are picked up (or let go, so `ip netns del` can free them) at once (inotify on
//! /run/netns), and in any case within a second. A namespace that vanishes is reported
//! ([`Event::NamespaceGone`]); watching just that one (`-n`), `watch` then returns `Ok`: a
//! lab taken down is the end of the watch, not a failure (a unit restarting on failure would
//! loop). A namespace named with `-n` that does not exist when the watch starts is an error.

pub mod flap;
pub mod reconcile;

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::netns::{self, Netns, NetnsError, NsKey};
use crate::nl::{RTNLGRP_LINK, RouteSocket};

/// rtnetlink's multicast group for qdisc and filter changes (linux/rtnetlink.h).
const RTNLGRP_TC: u32 = 4;
use crate::wire::WireError;
pub use reconcile::{Event, HOLD_MARK, Memory, reconcile};

/// Changes arriving within this time after the first are handled together.
const SETTLE: Duration = Duration::from_millis(20);
/// How often /run/netns is looked at for namespaces that came or went.
const RESCAN: Duration = Duration::from_secs(1);
/// How often listener threads look at the stop flag.
const TICK: Duration = Duration::from_millis(200);

/// Which namespaces to watch: one (`-n`), or every one under /run/netns plus the current one.
pub enum Scope {
    /// The namespace named (a name under /run/netns, or a path).
    One(String),
    /// Every namespace under /run/netns, plus the current one.
    All,
}

/// Runs until SIGINT/SIGTERM, handing every event to `report`.
pub fn watch(scope: Scope, report: impl FnMut(&Event)) -> Result<(), WireError> {
    watch_with(scope, None, report)
}

/// [`watch`], also running a lab's flapping links (`watch --lab`, [`flap`]) once the
/// namespaces in scope are watched; every cable the flaps pulled is put back when it stops.
pub fn watch_with(
    scope: Scope,
    flaps: Option<flap::Flaps>,
    mut report: impl FnMut(&Event),
) -> Result<(), WireError> {
    crate::signals::stop_on_signals();
    let mut flapper = None;
    let result = watch_loop(scope, flaps, &mut flapper, &mut report);
    if let Some(flapper) = flapper.as_mut() {
        flapper.stop(&mut report);
    }
    result
}

fn watch_loop(
    scope: Scope,
    mut flaps: Option<flap::Flaps>,
    flapper: &mut Option<flap::Flapper>,
    report: &mut dyn FnMut(&Event),
) -> Result<(), WireError> {
    let (changed, changes) = mpsc::channel::<NsKey>();
    let mut watched: HashMap<NsKey, Watched> = HashMap::new();
    let mut memory = Memory::default();
    let mut last_scan = Instant::now() - RESCAN;
    let mut first_scan = true;
    notify_on_netns_changes(changed.clone());
    sweep_stale_locks();
    while !crate::signals::stopping() {
        if let Some(flapper) = flapper.as_mut() {
            flapper.run_due(report);
        }
        if last_scan.elapsed() >= RESCAN {
            let found = match scope_namespaces(&scope) {
                Ok(found) => found,
                // `-n NAME` vanished after the start: the lab was taken down. (`ip netns del`
                // unmounts before it unlinks: in between, the name is a plain empty file.)
                Err(WireError::Netns(
                    NetnsError::NotFound { .. } | NetnsError::NotANetns { .. },
                )) if !first_scan => Vec::new(),
                Err(e) => return Err(e),
            };
            first_scan = false;
            for netns in found.iter() {
                let key = netns.inode();
                if watched.contains_key(&key) {
                    continue;
                }
                let entry = match Watched::start(netns, changed.clone()) {
                    Ok(entry) => entry,
                    // Flaps run in the watch that holds the panel: say how to get them run.
                    Err(WireError::Invalid(why)) if flaps.is_some() => {
                        return Err(WireError::Invalid(format!(
                            "{why}: a lab's flaps run in the watch that holds its panel; stop \
                             that one and run patchwire watch --lab FILE, which also does \
                             its work on the panel"
                        )));
                    }
                    Err(e) => return Err(e),
                };
                for event in reconcile(&entry.netns, &mut memory)? {
                    report(&event);
                }
                watched.insert(key, entry);
            }
            // Let go of namespaces that are gone, so the kernel can free them.
            watched.retain(|key, entry| {
                let keep = found.iter().any(|n| n.inode() == *key);
                if !keep {
                    report(&Event::NamespaceGone {
                        netns: entry.netns.label().into(),
                    });
                }
                keep
            });
            if found.is_empty() && matches!(scope, Scope::One(_)) {
                return Ok(());
            }
            // Flaps start once the panel is watched (its lock taken), and follow the file.
            match (flapper.as_mut(), flaps.take()) {
                (None, Some(flaps)) => {
                    // Said in the lock file, for `plan`: this watch runs the file's flaps.
                    for entry in watched.values_mut() {
                        entry.say(&format!("flaps {}\n", flaps.now.file));
                    }
                    *flapper = Some(flap::Flapper::start(flaps, report));
                }
                (Some(flapper), _) => flapper.reload(report),
                (None, None) => {}
            }
            last_scan = Instant::now();
        }
        // Wake for the next flap transition too, not only for changes.
        let wait = flapper
            .as_ref()
            .and_then(flap::Flapper::next_due)
            .map_or(TICK, |due| {
                due.saturating_duration_since(Instant::now()).min(TICK)
            });
        let Ok(first) = changes.recv_timeout(wait) else {
            continue;
        };
        if first == NETNS_DIR_CHANGED {
            last_scan = Instant::now() - RESCAN;
            continue;
        }
        let mut dirty = vec![first];
        let settle_until = Instant::now() + SETTLE;
        while let Ok(key) =
            changes.recv_timeout(settle_until.saturating_duration_since(Instant::now()))
        {
            if key == NETNS_DIR_CHANGED {
                last_scan = Instant::now() - RESCAN;
            } else if !dirty.contains(&key) {
                dirty.push(key);
            }
        }
        for key in dirty {
            let Some(entry) = watched.get(&key) else {
                continue;
            };
            match reconcile(&entry.netns, &mut memory) {
                // A lab being taken down breaks every wire of its panel on purpose: those are
                // not failures to report (namespace-gone follows).
                Ok(events) if going_away(entry.netns.label()) => events
                    .iter()
                    .filter(|e| {
                        // A repair inside reconcile can fail too as the panel's ports go.
                        !matches!(
                            e,
                            Event::WireBroken { .. }
                                | Event::LinkDownPropagated { .. }
                                | Event::RepairFailed { .. }
                        )
                    })
                    .for_each(&mut *report),
                Ok(events) => events.iter().for_each(&mut *report),
                // The namespace may be vanishing; the next rescan settles it.
                Err(_) if going_away(entry.netns.label()) => {}
                Err(e) => report(&Event::RepairFailed {
                    netns: entry.netns.label().into(),
                    what: "reading the namespace".into(),
                    error: e.to_string(),
                }),
            }
        }
    }
    Ok(())
}

/// Whether the namespace named `label` is being taken away on purpose: its name is gone from
/// /run/netns already, or it is a lab's panel (`LAB.panel`, `LAB.panel.HOST`) whose lab lock
/// is held by a `down` (the lab command writes its name into the lock file it holds).
fn going_away(label: &str) -> bool {
    if label.contains('/') || label == "(current)" {
        return false;
    }
    if !std::path::Path::new(netns::NETNS_RUN_DIR)
        .join(label)
        .exists()
    {
        return true;
    }
    let lock = match label.split_once(".panel") {
        Some((lab, "")) => format!("lab-{lab}.lock"),
        Some((lab, host)) if host.starts_with('.') => format!("lab-{lab}{host}.lock"),
        _ => return false,
    };
    let path = std::path::Path::new("/run/patchwire").join(lock);
    let Ok(file) = File::open(&path) else {
        return false;
    };
    // Held by the lab command (it cannot be locked here), and that command is a `down`.
    let held = file.try_lock().is_err();
    held && std::fs::read_to_string(&path).is_ok_and(|c| c == "down")
}

/// The key sent when something was added to or removed from /run/netns (no namespace has
/// device and inode 0).
const NETNS_DIR_CHANGED: NsKey = NsKey { dev: 0, inode: 0 };

/// Sends [`NETNS_DIR_CHANGED`] whenever a name is added to or removed from /run/netns, so a
/// deleted namespace is let go at once (until then the watcher's descriptor keeps it, and the
/// interfaces in it, alive). Without inotify or /run/netns, the once-a-second rescan remains.
fn notify_on_netns_changes(changed: mpsc::Sender<NsKey>) {
    // SAFETY: plain syscall; the descriptor is owned below.
    let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if raw < 0 {
        return;
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    let Ok(dir) = std::ffi::CString::new(netns::NETNS_RUN_DIR) else {
        return;
    };
    let mask = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;
    // SAFETY: `dir` is NUL-terminated and outlives the call.
    if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), dir.as_ptr(), mask) } < 0 {
        return;
    }
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while !crate::signals::stopping() {
            let mut pollfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd.
            if unsafe { libc::poll(&mut pollfd, 1, TICK.as_millis() as i32) } <= 0 {
                continue;
            }
            // SAFETY: reads at most buffer.len() bytes into the buffer.
            let n = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
            if n <= 0 || changed.send(NETNS_DIR_CHANGED).is_err() {
                return;
            }
        }
    });
}

/// Reconciles every namespace in scope once and returns what happened (`watch --once`).
pub fn once(scope: Scope) -> Result<Vec<Event>, WireError> {
    let mut memory = Memory::default();
    let mut events = Vec::new();
    for netns in scope_namespaces(&scope)? {
        events.extend(reconcile(&netns, &mut memory)?);
    }
    Ok(events)
}

/// A namespace being watched: its handle, its listener thread, and the lock that keeps a second
/// watcher off it.
struct Watched {
    netns: Netns,
    stop: Arc<AtomicBool>,
    lock: (File, std::path::PathBuf),
}

impl Watched {
    fn start(netns: &Netns, changed: mpsc::Sender<NsKey>) -> Result<Watched, WireError> {
        let lock = lock(netns)?;
        let mut socket = netns
            .run(|| -> std::io::Result<RouteSocket> {
                let socket = RouteSocket::open()?;
                socket.subscribe(RTNLGRP_LINK)?;
                // Qdisc changes too: a root qdisc added on an eBPF wire's end moves the
                // direction into it off the peer path, which would skip the qdisc.
                socket.subscribe(RTNLGRP_TC)?;
                Ok(socket)
            })?
            .map_err(|e| {
                WireError::io(
                    format!("listening for link changes in {}", netns.describe()),
                    e,
                )
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let key = netns.inode();
        let thread_stop = stop.clone();
        std::thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) && !crate::signals::stopping() {
                match socket.wait_notifications(TICK) {
                    Ok(true) => {
                        if changed.send(key).is_err() {
                            return;
                        }
                    }
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        });
        let netns = netns
            .try_clone()
            .map_err(|e| WireError::io("duplicating a netns fd", e))?
            .with_label(netns.label());
        Ok(Watched { netns, stop, lock })
    }
}

impl Watched {
    /// Writes `text` into the lock file (read by a lab's `plan`; the lock is unaffected).
    fn say(&mut self, text: &str) {
        use std::io::Write;
        let file = &mut self.lock.0;
        let _ = file
            .set_len(0)
            .and_then(|_| file.write_all(text.as_bytes()));
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Tidy /run/patchwire. (A watcher starting in this instant could lock the unlinked
        // file; it would then merely fail to keep a third one off this namespace.)
        let _ = std::fs::remove_file(&self.lock.1);
    }
}

/// Takes /run/patchwire/watch-DEV-INO.lock for the namespace: a second watcher on the same
/// namespace would repeat every event (its repairs would be harmless: they are idempotent).
fn lock(netns: &Netns) -> Result<(File, std::path::PathBuf), WireError> {
    let dir = std::path::Path::new("/run/patchwire");
    std::fs::create_dir_all(dir)
        .map_err(|e| WireError::io(format!("creating {}", dir.display()), e))?;
    let NsKey { dev, inode: ino } = netns.inode();
    let path = dir.join(format!("watch-{dev}-{ino}.lock"));
    let file =
        File::create(&path).map_err(|e| WireError::io(format!("opening {}", path.display()), e))?;
    // flock(2) with LOCK_EX | LOCK_NB: released when the file is closed (or the process dies).
    if file.try_lock().is_err() {
        return Err(WireError::Invalid(format!(
            "another patchwire watch is already watching {} (lock {})",
            netns.describe(),
            path.display()
        )));
    }
    Ok((file, path))
}

/// Removes watch lock files nobody holds: a watcher killed with SIGKILL leaves its own for
/// good (its namespace may be gone, so no later watcher takes it again). A file is removed
/// only when it can be locked (no watcher holds it), is still the path's file, and was not
/// opened in the last 10 s (`File::create` truncates it, which sets its mtime: a watcher
/// starting right now, between its create and its lock, keeps its file).
fn sweep_stale_locks() {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir("/run/patchwire") else {
        return;
    };
    for entry in entries.flatten().take(1024) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("watch-") || !name.ends_with(".lock") {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let recent = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < Duration::from_secs(10));
        if recent || file.try_lock().is_err() {
            continue;
        }
        let same = match (file.metadata(), std::fs::metadata(&path)) {
            (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
            _ => false,
        };
        if same {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The namespaces in scope now, without duplicates (the current one may also have a name).
fn scope_namespaces(scope: &Scope) -> Result<Vec<Netns>, WireError> {
    let mut found: Vec<Netns> = Vec::new();
    let mut add = |netns: Netns| {
        if !found.iter().any(|n| n.same_as(&netns)) {
            found.push(netns);
        }
    };
    match scope {
        Scope::One(spec) => add(Netns::open(Some(spec))?),
        Scope::All => {
            for name in netns::named() {
                // A namespace being deleted right now may fail to open: skip it.
                if let Ok(netns) = Netns::open(Some(&name)) {
                    add(netns);
                }
            }
            add(Netns::current()?);
        }
    }
    Ok(found)
}
