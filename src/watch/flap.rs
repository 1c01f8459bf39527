//! Flapping links (`flap:` in a lab file), run by `watch --lab FILE` on the lab's panel: each
//! link's cable is pulled and put back ([`cable::cut`] / [`cable::mend`], so both nodes see
//! NO-CARRIER while it is out, as with `patchwire cut`) on its schedule
//! ([`crate::impair::flap`]), counted from when the watcher took the link on.
//!
//! Timing: the watcher wakes at the next transition (not on a tick), so each one is done a
//! wake-up and one netlink round trip per port after its time; every event says how late it
//! was (`late_ms`). Transitions are placed by the schedule, not by the previous one, so
//! lateness never adds up.
//!
//! The cable is never left out by the watcher: stopping (SIGINT/SIGTERM, its reader gone)
//! puts back every cable it pulled, and so does a change of the file that removes or changes
//! a link's flap (checked once a second: `reload`) — unless the file now pulls that cable
//! (`state: down`), which is then `up`'s. A watcher killed with SIGKILL mid-pull cannot; the
//! next watcher puts it back when it starts, and so does `up` when no watcher runs.

use std::time::{Duration, Instant};

use crate::impair::cable;
use crate::impair::flap::{Cycle, FlapLink, Flapping, Schedule};
use crate::netns::Netns;

use super::Event;

/// Re-reads the file: `None` when it has not changed since the last call.
pub type Reload = Box<dyn FnMut() -> Option<Result<Flapping, String>>>;

/// The flaps `watch --lab` runs: what the file said, and how to read it again.
pub struct Flaps {
    /// The flaps as the file says them when the watcher starts.
    pub now: Flapping,
    /// Re-reads the file when it changed.
    pub reload: Reload,
}

/// One link being flapped.
struct Running {
    link: FlapLink,
    start: Instant,
    schedule: Schedule,
    /// The current or next pull.
    next: Option<Cycle>,
    /// Whether the watcher has the cable out now.
    out: bool,
}

impl Running {
    /// When the next transition is due.
    fn due(&self) -> Option<Instant> {
        let next = self.next?;
        let at = match self.out {
            true => next.up_at_ms,
            false => next.down_at_ms,
        };
        Some(self.start + Duration::from_millis(at))
    }
}

/// Runs every flapping link of one panel.
pub struct Flapper {
    netns: String,
    file: String,
    pulled: Vec<String>,
    running: Vec<Running>,
    /// Links whose ports are not in the panel yet (added to the file, `up` not run): taken
    /// on once they appear, looked for once a second.
    waiting: Vec<FlapLink>,
    reload: Reload,
}

impl Flapper {
    /// Takes on the file's flaps: cables a killed watcher left out are put back, and each
    /// schedule starts now.
    pub(super) fn start(flaps: Flaps, report: &mut dyn FnMut(&Event)) -> Flapper {
        let mut flapper = Flapper {
            netns: flaps.now.netns.clone(),
            file: flaps.now.file.clone(),
            pulled: flaps.now.pulled.clone(),
            running: Vec::new(),
            waiting: Vec::new(),
            reload: flaps.reload,
        };
        for link in flaps.now.links {
            flapper.take_on(link, report);
        }
        flapper
    }

    fn take_on(&mut self, link: FlapLink, report: &mut dyn FnMut(&Event)) {
        let missing = self.missing_ports(&link);
        if !missing.is_empty() {
            // Said once per link: it waits, nothing is pulled, its count is not used up.
            if !self.waiting.contains(&link) {
                report(&Event::FlapWaiting {
                    netns: self.netns.clone(),
                    link: link.link.clone(),
                    missing,
                    file: self.file.clone(),
                });
                self.waiting.push(link);
            }
            return;
        }
        self.waiting.retain(|w| w.ports != link.ports);
        // A pull a SIGKILLed watcher left behind: the schedule starts with the cable in.
        self.set(&link, false, report);
        let mut schedule = link.flap.schedule();
        report(&Event::FlapStarted {
            netns: self.netns.clone(),
            link: link.link.clone(),
            flap: link.flap.describe(),
            schedule: schedule.clone().take(5).collect(),
        });
        let next = schedule.next();
        self.running.push(Running {
            link,
            start: Instant::now(),
            schedule,
            next,
            out: false,
        });
    }

    /// The next transition of any link.
    pub fn next_due(&self) -> Option<Instant> {
        self.running.iter().filter_map(Running::due).min()
    }

    /// Does every transition that is due.
    pub(super) fn run_due(&mut self, report: &mut dyn FnMut(&Event)) {
        let now = Instant::now();
        for i in 0..self.running.len() {
            while let Some(due) = self.running[i].due().filter(|d| *d <= now) {
                let late_ms = Instant::now().saturating_duration_since(due).as_millis() as u64;
                let (out, link) = (!self.running[i].out, self.running[i].link.clone());
                let (_, failed) = self.set(&link, out, report);
                if out && failed {
                    // Not pulled (a port gone: the link left the panel): no flap-down for it.
                    // What was pulled goes back, and the link waits for its ports again
                    // (its schedule starts over then).
                    self.set(&link, false, report);
                    let running = self.running.remove(i);
                    self.take_on(running.link, report);
                    return;
                }
                let running = &mut self.running[i];
                running.out = out;
                let cycle = running.next.expect("due only with a next pull");
                if out {
                    report(&Event::FlapDown {
                        netns: self.netns.clone(),
                        link: link.link,
                        cycle: cycle.cycle,
                        at_ms: cycle.down_at_ms,
                        late_ms,
                        up_at_ms: cycle.up_at_ms,
                    });
                } else {
                    running.next = running.schedule.next();
                    report(&Event::FlapUp {
                        netns: self.netns.clone(),
                        link: link.link,
                        cycle: cycle.cycle,
                        at_ms: cycle.up_at_ms,
                        late_ms,
                        next_down_at_ms: running.next.map(|c| c.down_at_ms),
                    });
                }
            }
        }
    }

    /// Reads the file again if it changed: links whose flap changed start over, links with
    /// no flap any more are put back (unless the file pulls them now). Links waiting for
    /// their ports start once the ports are there.
    pub(super) fn reload(&mut self, report: &mut dyn FnMut(&Event)) {
        for link in self.waiting.clone() {
            if self.missing_ports(&link).is_empty() {
                self.take_on(link, report);
            }
        }
        let Some(read) = (self.reload)() else {
            return;
        };
        let now = match read {
            Ok(now) => now,
            Err(error) => {
                report(&Event::RepairFailed {
                    netns: self.netns.clone(),
                    what: format!("reading {} again (its flaps stay as they were)", self.file),
                    error,
                });
                return;
            }
        };
        self.pulled = now.pulled.clone();
        let old = std::mem::take(&mut self.running);
        let mut kept = Vec::new();
        for running in old {
            match now.links.iter().find(|l| l.ports == running.link.ports) {
                Some(same) if same.flap == running.link.flap => kept.push(running),
                changed => {
                    let why = match changed {
                        Some(_) => format!("flap changed in {}", self.file),
                        None => format!("no flap in {} any more", self.file),
                    };
                    self.stop_one(&running, &why, report);
                }
            }
        }
        self.running = kept;
        // Waiting links the file no longer has (or has with another flap) wait no more.
        self.waiting.retain(|w| now.links.contains(w));
        for link in now.links {
            if !self.running.iter().any(|r| r.link.ports == link.ports) {
                self.take_on(link, report);
            }
        }
    }

    /// Puts back every cable the watcher has out (the watcher is stopping).
    pub(super) fn stop(&mut self, report: &mut dyn FnMut(&Event)) {
        for running in std::mem::take(&mut self.running) {
            self.stop_one(&running, "watch stopping", report);
        }
    }

    fn stop_one(&self, running: &Running, why: &str, report: &mut dyn FnMut(&Event)) {
        let pulled_by_file = running.link.ports.iter().any(|p| self.pulled.contains(p));
        let mended = running.out && !pulled_by_file && self.set(&running.link, false, report).0;
        report(&Event::FlapStopped {
            netns: self.netns.clone(),
            link: running.link.link.clone(),
            why: why.into(),
            mended,
        });
    }

    /// The link's ports that are not in the panel (all of them when the panel is gone).
    fn missing_ports(&self, link: &FlapLink) -> Vec<String> {
        let names: Vec<String> = Netns::open(Some(&self.netns))
            .ok()
            .and_then(|netns| netns.route().ok())
            .and_then(|mut socket| crate::nl::link::list(&mut socket).ok())
            .map(|links| links.into_iter().map(|l| l.name).collect())
            .unwrap_or_default();
        link.ports
            .iter()
            .filter(|p| !names.contains(p))
            .cloned()
            .collect()
    }

    /// Pulls (`out`) or puts back the link's cable: (whether something changed, whether a port
    /// failed). The panel is opened by name each time: a held descriptor would keep a lab
    /// taken down alive.
    fn set(&self, link: &FlapLink, out: bool, report: &mut dyn FnMut(&Event)) -> (bool, bool) {
        let Ok(netns) = Netns::open(Some(&self.netns)) else {
            // The lab was taken down: watch reports namespace-gone.
            return (false, true);
        };
        let mut changed = false;
        let mut failed = false;
        for port in &link.ports {
            let done = match out {
                true => cable::cut_as(&netns, port, crate::impair::SetBy::File),
                false => cable::mend(&netns, port),
            };
            match done {
                Ok(change) => changed |= !change.changed.is_empty(),
                Err(e) => {
                    failed = true;
                    report(&Event::RepairFailed {
                        netns: self.netns.clone(),
                        what: format!(
                            "{} the cable of {} (flap)",
                            if out { "pulling" } else { "putting back" },
                            link.link
                        ),
                        error: e.to_string(),
                    })
                }
            }
        }
        (changed, failed)
    }
}
