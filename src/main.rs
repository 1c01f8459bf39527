//! The patchwire command: parses arguments, runs one subcommand, prints errors with their causes.

mod cli;

use clap::{CommandFactory, Parser};

fn main() {
    if program_name().as_deref() == Some("patchwire-cni") {
        std::process::exit(cni_plugin());
    }
    // A reader that goes away (`patchwire show | head -1`) ends the command quietly, as it does
    // other Unix tools: SIGPIPE's default action. Rust ignores SIGPIPE, and every println! then
    // panics on EPIPE instead. `capture -w -` keeps it ignored: it notices EPIPE on its
    // pcapng stream and closes with its statistics on stderr (`capture -w - | tshark -c 10 -r -`).
    set_sigpipe(libc::SIG_DFL);
    let args = arguments();
    // What the shell completions run to complete --host: not a command clap knows, so that no
    // completion offers it.
    if args
        .get(1)
        .is_some_and(|a| a == cli::completions::LAB_HOSTS)
    {
        let code = match cli::completions::lab_hosts(&args[2..]) {
            Ok(_) => 0,
            Err(_) => 1,
        };
        std::process::exit(code);
    }
    let json = wants_json(&args);
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => usage_error(error, json),
    };
    if matches!(&cli.command, cli::Command::Capture(args) if args.write == "-") {
        set_sigpipe(libc::SIG_IGN);
    }
    if let Err(message) = cli.check_stats() {
        let error = cli::Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message);
        usage_error(error, cli.json);
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
            if needs_root(&error, &message) {
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

/// Whether `-j`/`--json` is among the arguments (before `--`), as the parser would read it:
/// alone, or in a cluster of flags that take no value (`-js`). Read by hand because a usage
/// error means the parser gave no answer.
fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy())
        .take_while(|a| a != "--")
        .any(|a| {
            a == "--json"
                || a.strip_prefix('-').is_some_and(|flags| {
                    !flags.starts_with('-')
                        && flags.contains('j')
                        && flags.chars().all(|c| matches!(c, 'j' | 's'))
                })
        })
}

/// Ends on a usage error: clap's text on stderr, or with `-j` `{"error": "..."}` on stdout as
/// every other error is printed — exit status 2 either way. Help and version print as usual.
fn usage_error(error: clap::Error, json: bool) -> ! {
    use clap::error::ErrorKind;
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !json || informational {
        error.exit();
    }
    // The first paragraph, without clap's "error: " and its usage and --help lines.
    let text = error.to_string();
    let first = text.split("\n\n").next().unwrap_or(&text).trim();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    println!("{}", serde_json::json!({ "error": message }));
    std::process::exit(error.exit_code());
}

/// Whether to add the "needs root" hint: some error of the chain is a missing privilege
/// (EPERM/EACCES, read from its kind), and no error of it has given a hint already (an EPERM
/// from the kernel says "run it as root", a lab's lock file "lab commands need root: …").
fn needs_root(error: &anyhow::Error, message: &str) -> bool {
    let denied = error.chain().any(patchwire::wire::is_permission_error);
    denied && !message.contains("as root") && !message.contains("need root")
}

fn set_sigpipe(action: libc::sighandler_t) {
    // SAFETY: SIG_DFL and SIG_IGN are not handlers that run code; changing the disposition of
    // SIGPIPE before any other thread starts touches no state of the program.
    unsafe {
        libc::signal(libc::SIGPIPE, action);
    }
}

/// qemu's `script=` runs a program with only the tap's name: installed as symlinks named
/// `patchwire-ifup` / `patchwire-ifdown`, this binary acts as `patchwire qemu-ifup|qemu-ifdown`.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let subcommand = match program_name().as_deref() {
        Some("patchwire-ifup") => Some("qemu-ifup"),
        Some("patchwire-ifdown") => Some("qemu-ifdown"),
        _ => None,
    };
    if let Some(subcommand) = subcommand {
        args.insert(1, subcommand.into());
    }
    args
}

/// The name this binary was run as (argv[0] without its directory).
fn program_name() -> Option<String> {
    let first = std::env::args_os().next()?;
    let name = std::path::Path::new(&first).file_name()?.to_str()?;
    Some(name.to_string())
}

/// Run as `patchwire-cni` by a container runtime: the CNI protocol on stdin, stdout and the
/// environment (see `patchwire::cni`). Without CNI_COMMAND (run by hand) it says what it is on
/// stderr, as the reference plugins do.
fn cni_plugin() -> i32 {
    use std::io::Write;
    if std::env::var_os("CNI_COMMAND").is_none() {
        eprintln!("{}", patchwire::cni::about());
        return 0;
    }
    let env = |name: &str| std::env::var(name).ok();
    let reply = match patchwire::cni::read_stdin(std::io::stdin().lock()) {
        Ok(stdin) => patchwire::cni::serve(&env, &stdin),
        Err(reply) => reply,
    };
    let mut stdout = std::io::stdout().lock();
    if !reply.stdout.is_empty() {
        let _ = writeln!(stdout, "{}", reply.stdout);
    }
    let _ = stdout.flush();
    reply.exit
}

#[cfg(test)]
mod tests {
    use super::needs_root;
    use patchwire::capture::CaptureError;
    use patchwire::lab::LabError;

    fn eperm() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::EPERM)
    }

    #[test]
    fn json_is_found_alone_or_in_a_cluster_of_flags() {
        let args = |list: &[&str]| -> Vec<std::ffi::OsString> {
            list.iter().map(std::ffi::OsString::from).collect()
        };
        assert!(super::wants_json(&args(&["patchwire", "-j", "impair"])));
        assert!(super::wants_json(&args(&["patchwire", "impair", "--json"])));
        assert!(super::wants_json(&args(&["patchwire", "-sj", "show"])));
        // `-nj` is -n with the namespace "j"; after `--` it is a value.
        assert!(!super::wants_json(&args(&["patchwire", "-nj", "show"])));
        assert!(!super::wants_json(&args(&["patchwire", "x", "--", "-j"])));
    }

    #[test]
    fn the_root_hint_comes_from_the_kind_kept_as_a_source() {
        let io = CaptureError::Io {
            message: format!("opening a capture on lo: {}", eperm()),
            source: eperm(),
        };
        let error = anyhow::Error::from(io);
        assert!(needs_root(&error, &error.to_string()));
        // Through a boxed cause, and through a lab error that wraps another.
        let inner = LabError::System {
            message: format!("listing addresses: {}", eperm()),
            source: Box::new(eperm()),
        };
        let outer = LabError::System {
            message: format!("{inner} (the lab is partly changed)"),
            source: Box::new(inner),
        };
        let error = anyhow::Error::from(outer);
        assert!(needs_root(&error, &error.to_string()));
        // The words alone are not a kind; a hint already given is not repeated.
        let words = anyhow::anyhow!("{}", eperm());
        assert!(!needs_root(&words, &words.to_string()));
        let hinted = LabError::System {
            message: "opening the lock file x: Permission denied (lab commands need root: …)"
                .into(),
            source: Box::new(std::io::Error::from_raw_os_error(libc::EACCES)),
        };
        let error = anyhow::Error::from(hinted);
        assert!(!needs_root(&error, &error.to_string()));
    }
}
