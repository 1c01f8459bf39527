//! The patchwire command: parses arguments, runs one subcommand, prints errors with their causes.

mod cli;

use clap::{CommandFactory, Parser};

fn main() {
    let cli = cli::Cli::parse_from(arguments());
    if let Err(message) = cli.check_stats() {
        cli::Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    let code = match cli.run() {
        Ok(cli::Exit::Ok) => 0,
        Ok(cli::Exit::Failed) => 3,
        Ok(cli::Exit::Error) => 1,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message = format!("{message}: {text}");
                }
                source = cause.source();
            }
            if message.contains("Operation not permitted") && !message.contains("as root") {
                message.push_str(
                    " (patchwire needs root: CAP_NET_ADMIN, and CAP_SYS_ADMIN to enter a netns)",
                );
            }
            if cli.json {
                println!("{}", serde_json::json!({ "error": message }));
            } else {
                eprintln!("patchwire: {message}");
            }
            1
        }
    };
    std::process::exit(code);
}

/// qemu's `script=` runs a program with only the tap's name: installed as symlinks named
/// `patchwire-ifup` / `patchwire-ifdown`, this binary acts as `patchwire qemu-ifup|qemu-ifdown`.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let program = args
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    let subcommand = match program {
        Some("patchwire-ifup") => Some("qemu-ifup"),
        Some("patchwire-ifdown") => Some("qemu-ifdown"),
        _ => None,
    };
    if let Some(subcommand) = subcommand {
        args.insert(1, subcommand.into());
    }
    args
}
