//! `patchwire completions bash|zsh|fish`.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, Exit};

/// Print a shell completion script on stdout.
///
/// Generated from the same definitions as --help, so it always knows every command and option
/// of this binary. Install it where the shell looks (see docs/commands.md), or load it for this
/// session only: `source <(patchwire completions bash)`.
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

pub fn run(_cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    // Into a buffer first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "patchwire", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(Exit::Ok)
}
