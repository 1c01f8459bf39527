//! `patchwire tap add|del`.

use patchwire::vm::{self, Mtu, TapSpec};

use super::{Cli, Exit, print_json};

/// Create or delete persistent taps for VMs (qemu) to attach to.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: TapCommand,
}

#[derive(clap::Subcommand)]
pub enum TapCommand {
    /// Create a persistent tap (up, Ethernet frames without packet info), ready for qemu.
    ///
    /// An unprivileged qemu can open it when --owner/--group name its user. Until a process
    /// attaches, the tap has no carrier and a wire to it drops frames (show says so).
    Add(AddArgs),
    /// Delete a tap (removing the wire it is on first, so its partner keeps no dead filter).
    Del(DelArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// Name of the new tap (at most 15 bytes).
    pub name: String,
    /// MTU of the tap.
    #[arg(long, value_name = "BYTES", conflicts_with = "mtu_from")]
    pub mtu: Option<u32>,
    /// Copy the MTU of this interface (the tap's future partner).
    #[arg(long, value_name = "IF")]
    pub mtu_from: Option<String>,
    /// Frames carry a virtio-net header (qemu vnet_hdr=on, needed for offloads and vhost).
    #[arg(long)]
    pub vnet_hdr: bool,
    /// Number of queues qemu will attach (queues=N); more than 1 makes a multi-queue tap (1-256).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub queues: u32,
    /// User (name or uid) allowed to open the tap.
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
    /// Group (name or gid) allowed to open the tap.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
}

#[derive(clap::Args)]
pub struct DelArgs {
    /// The tap to delete.
    pub name: String,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    match &args.command {
        TapCommand::Add(add) => {
            let spec = TapSpec {
                name: add.name.clone(),
                mtu: add
                    .mtu
                    .map(Mtu::Bytes)
                    .or(add.mtu_from.clone().map(Mtu::From)),
                vnet_hdr: add.vnet_hdr,
                queues: add.queues,
                owner: add.owner.as_deref().map(vm::user_id).transpose()?,
                group: add.group.as_deref().map(vm::group_id).transpose()?,
            };
            let tap = vm::tap_add(cli.netns()?, &spec)?;
            if cli.json {
                print_json(&tap)?;
            } else {
                let queues = if add.queues > 1 {
                    format!(", multi-queue ({} queues)", add.queues)
                } else {
                    String::new()
                };
                let vnet = if add.vnet_hdr { ", vnet_hdr" } else { "" };
                println!(
                    "created tap {} (ifindex {}, mtu {}{vnet}{queues})",
                    tap.name, tap.index, tap.mtu
                );
            }
        }
        TapCommand::Del(del) => {
            let removed = vm::tap_del(cli.netns()?, &del.name)?;
            if cli.json {
                print_json(&serde_json::json!({ "deleted": del.name, "unwired": removed }))?;
            } else {
                if let Some([a, b]) = removed {
                    println!("unwired: {a} <-> {b}");
                }
                println!("deleted tap {}", del.name);
            }
        }
    }
    Ok(Exit::Ok)
}
