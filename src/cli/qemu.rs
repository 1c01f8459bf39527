//! `patchwire qemu-ifup TAP` / `qemu-ifdown TAP` (also reached as `patchwire-ifup` and
//! `patchwire-ifdown` through symlinks, since qemu's `script=` passes only the tap's name).

use patchwire::vm::qemu::{self, Severity};

use super::{Cli, Exit};

/// qemu `script=`: bring the tap up with its partner's MTU and wire it to the partner.
///
/// The partner of tapN is ethN (vrnetlab's convention) unless PATCHWIRE_TAP_MAP ("tap1 eth3;
/// tap2 eth4 tx-checksum=off") or the file named by PATCHWIRE_TAP_CONFIG (default
/// /etc/patchwire/taps.conf, one "TAP PARTNER [tx-checksum=on|off]" per line) says otherwise.
/// Exits non-zero when the partner is missing, so qemu does not start a VM that is unplugged.
/// Logs to stderr and syslog.
#[derive(clap::Args)]
pub struct UpArgs {
    /// The tap qemu opened.
    pub tap: String,
}

/// qemu `downscript=`: remove the wire the tap is on (nothing to do is not an error).
#[derive(clap::Args)]
pub struct DownArgs {
    /// The tap qemu is about to close.
    pub tap: String,
}

pub fn up(cli: &Cli, args: &UpArgs) -> anyhow::Result<Exit> {
    report("patchwire-ifup", qemu::ifup(cli.netns()?, &args.tap))
}

pub fn down(cli: &Cli, args: &DownArgs) -> anyhow::Result<Exit> {
    report("patchwire-ifdown", qemu::ifdown(cli.netns()?, &args.tap))
}

/// Logs the outcome to stderr and syslog; a failure exits 1 (main prints nothing more).
fn report(
    program: &str,
    outcome: Result<String, patchwire::wire::WireError>,
) -> anyhow::Result<Exit> {
    match outcome {
        Ok(done) => {
            qemu::log(program, Severity::Info, &done);
            Ok(Exit::Ok)
        }
        Err(e) => {
            qemu::log(program, Severity::Error, &e.to_string());
            Ok(Exit::Error)
        }
    }
}
