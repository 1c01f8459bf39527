//! `patchwire completions bash|zsh|fish`, and what the scripts run to complete `--host`
//! (`patchwire __lab-hosts WORDS…`, dispatched by `main` before clap, so that no shell offers
//! it as a command).

use std::io::Write;

use clap::CommandFactory;
use clap::builder::PossibleValuesParser;
use clap_complete::Shell;

use super::{Cli, Exit};

/// Print a shell completion script on stdout.
///
/// Generated from the same definitions as --help, so it always knows every command and option
/// of this binary. `-n` completes the namespaces under /run/netns (and paths once a `/` is
/// typed), `--host` the hosts of the lab file on the command line. Install it where the shell
/// looks (see docs/commands.md), or load it for this session only:
/// `source <(patchwire completions bash)`.
#[derive(clap::Args)]
#[command(
    after_help = "Install (packages use /usr/share instead of /usr/local/share):\n  \
patchwire completions bash > /usr/local/share/bash-completion/completions/patchwire\n  \
patchwire completions zsh > /usr/local/share/zsh/site-functions/_patchwire\n  \
patchwire completions fish > /usr/local/share/fish/vendor_completions.d/patchwire.fish"
)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// The first argument that makes `patchwire` print the hosts of a lab file instead.
pub const LAB_HOSTS: &str = "__lab-hosts";

/// What the generated scripts are given as the only value of `-n` and `--host`, then replaced
/// by each shell's way of listing them when the script runs: clap_complete writes static
/// lists, and namespaces and a file's hosts change.
const NETNS: &str = "__patchwire_netns__";
const HOSTS: &str = "__patchwire_hosts__";

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    super::lab::refuse_netns(cli, "completions");
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    stdout(script(shell).as_bytes())
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut command = Cli::command().mut_arg("netns", |a| {
        a.value_parser(PossibleValuesParser::new([NETNS]))
    });
    for name in ["up", "plan", "down", "graph", "show", "capture"] {
        command = command.mut_subcommand(name, |c| {
            c.mut_arg("host", |a| {
                a.value_parser(PossibleValuesParser::new([HOSTS]))
            })
        });
    }
    // Into a buffer first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "patchwire", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    let (netns, hosts) = match shell {
        // Inside compgen -W "…": words to offer. A path once the word has a `/`.
        Shell::Bash => (
            "$([[ ${cur} == */* ]] && compgen -f -- \"${cur}\" || ls /run/netns 2>/dev/null)",
            "$(patchwire __lab-hosts \"${COMP_WORDS[@]}\" 2>/dev/null)",
        ),
        // An _arguments action: (…) is a list, {…} code.
        Shell::Zsh => (
            "{if [[ $PREFIX == */* ]]; then _files; else _files -W /run/netns; fi}",
            "{compadd -- ${(f)\"$(patchwire __lab-hosts ${words} 2>/dev/null)\"}}",
        ),
        Shell::Fish => (
            "(string match -q -- '*/*' (commandline -ct); and __fish_complete_path (commandline -ct); or ls /run/netns 2>/dev/null)",
            "(patchwire __lab-hosts (commandline -opc) 2>/dev/null)",
        ),
        _ => ("", ""),
    };
    match shell {
        Shell::Zsh => script
            .replace(&format!("({NETNS})"), netns)
            .replace(&format!("({HOSTS})"), hosts),
        _ => script.replace(NETNS, netns).replace(HOSTS, hosts),
    }
}

/// `patchwire __lab-hosts WORDS…`: the host names of the first lab file among the words of the
/// command line being completed, one a line; nothing when there is none.
pub fn lab_hosts(words: &[std::ffi::OsString]) -> anyhow::Result<Exit> {
    let lab = words
        .iter()
        .filter_map(|w| w.to_str())
        .filter(|w| std::path::Path::new(w).is_file())
        .find_map(|w| patchwire::lab::file::load(w).ok());
    let mut text = String::new();
    for (name, _) in lab.iter().flat_map(|lab| &lab.hosts) {
        text.push_str(name);
        text.push('\n');
    }
    stdout(text.as_bytes())
}

fn stdout(bytes: &[u8]) -> anyhow::Result<Exit> {
    std::io::stdout().write_all(bytes)?;
    Ok(Exit::Ok)
}
