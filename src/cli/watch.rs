//! `patchwire watch [--once]`.

use std::io::Write;

use patchwire::watch::{self, Event, Scope};

use super::{Cli, Exit};

/// Keep wires honest while a lab runs: propagate link state, re-attach recreated ends.
///
/// When one end of a wire goes down or loses carrier, the other end is taken down (and marked
/// with an alias "patchwire held down: …") so the router behind it sees NO-CARRIER, as with a
/// real cable; it comes back up with the first end. When an end vanishes and an interface of
/// the same name appears again (qemu recreating tapN), the wire is made again. Broken wires are
/// reported once. An eBPF wire direction whose target gains a root qdisc (tbf, netem) moves off
/// the peer path, which would skip it, and back once the qdisc is gone. Watches the namespace given with -n, or every namespace under /run/netns plus
/// the current one (picking up new ones). Stops on SIGINT/SIGTERM/SIGHUP, and when its output's
/// reader goes away (exit 0, lock file removed). A namespace that is deleted
/// (its lab taken down) is let go with a `namespace-gone` event; watching only that one (-n),
/// watch then exits with status 0 — the end of the lab, not a failure. With -j every event is
/// one JSON object per line with `time` (RFC 3339, UTC, milliseconds:
/// "2026-12-06T23:05:01.123Z") and `event`. Limits: a tap end held down stops traffic but a
/// VM guest does not see the carrier change.
///
/// With --lab FILE it watches that lab's panel and runs the file's flapping links (`flap:
/// {down: 2s, up: 10s}`): each cable is pulled and put back on its schedule (flap-started,
/// flap-down, flap-up events), the file is read again when it changes (within a second), a
/// link whose ports `up` has not made yet waits for them (flap-waiting), and every cable a
/// flap pulled is put back when watch stops.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  patchwire watch -j\n  patchwire watch -n lab1.panel\n  \
patchwire watch --lab lab.yaml            # the lab's panel, and its flaps\n  \
patchwire watch --once"
)]
pub struct Args {
    /// Repair what is wrong now, report it, and exit (flaps are not run).
    #[arg(long)]
    pub once: bool,
    /// A running lab's file: watch its panel and run its flapping links (`flap:`).
    #[arg(long, value_name = "FILE")]
    pub lab: Option<String>,
    /// Which of the file's hosts this is (labs over several hosts; with --lab).
    #[arg(long, requires = "lab")]
    pub host: Option<String>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let flaps = match &args.lab {
        Some(path) => {
            if cli.netns.is_some() {
                anyhow::bail!("--lab names the lab's panel itself: leave out -n");
            }
            Some(lab_flaps(path, args.host.clone())?)
        }
        None => None,
    };
    let scope = match (&cli.netns, &flaps) {
        (_, Some(flaps)) => Scope::One(flaps.now.netns.clone()),
        (Some(spec), None) => Scope::One(spec.clone()),
        (None, None) => Scope::All,
    };
    let json = cli.json;
    let print = move |event: &Event| {
        let line = match json {
            true => serde_json::to_string(&Stamped {
                time: rfc3339_now(),
                event,
            })
            .unwrap_or_default(),
            false => event.to_string(),
        };
        let mut stdout = std::io::stdout().lock();
        // The reader went away (`watch | head -3`, a closed log pipe): wind down as on SIGTERM,
        // so the lock file under /run/patchwire goes too (SIGPIPE is ignored while watching:
        // its default action would kill the process before it could).
        if writeln!(stdout, "{line}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            patchwire::signals::stop();
        }
    };
    if args.once {
        watch::once(scope)?.iter().for_each(print);
    } else {
        // SAFETY: SIG_IGN runs no code; set before the watch starts its threads.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        watch::watch_with(scope, flaps, print)?;
    }
    Ok(Exit::Ok)
}

/// The flaps of the lab brought up from `path`, and how to read them again when the file
/// changes (its modification time, checked at each rescan).
fn lab_flaps(path: &str, host: Option<String>) -> anyhow::Result<watch::flap::Flaps> {
    let read = move |path: &str| -> Result<patchwire::impair::flap::Flapping, String> {
        let file = patchwire::lab::file::load(path).map_err(|e| e.to_string())?;
        patchwire::lab::flapping(&file, host.as_deref()).map_err(|e| e.to_string())
    };
    let now = read(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The lab must be up: its panel is what is watched.
    patchwire::lab::ports::panel_of(std::path::Path::new(path))?;
    let modified = |path: &str| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen = modified(path);
    let path = path.to_string();
    let reload = Box::new(move || {
        let now = modified(&path);
        if now == seen {
            return None;
        }
        seen = now;
        Some(read(&path))
    });
    Ok(watch::flap::Flaps { now, reload })
}

/// An event as `-j` prints it: when it happened, then the event's own fields.
#[derive(serde::Serialize)]
struct Stamped<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// Now as RFC 3339 in UTC with milliseconds (`2026-12-06T23:05:01.123Z`): sortable as text,
/// read by every log tool, and unambiguous across hosts in different time zones.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_millis())
}

fn rfc3339(secs: i64, millis: u32) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339(1_796_599_501, 123), "2026-12-06T23:25:01.123Z");
        assert_eq!(rfc3339(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }
}
