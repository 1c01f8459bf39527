//! `patchwire man [DIR]`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use super::{Cli, Exit, print_json};

/// Write the manual pages (roff): the main page on stdout, or every page into DIR.
///
/// Generated from the same definitions as --help. With DIR, one page per command and
/// subcommand: patchwire.1, patchwire-link.1, patchwire-mirror.1, patchwire-mirror-add.1, ...
/// (DIR is created if missing; the paths written are printed, one a line). Read one with
/// `man -l DIR/patchwire-link.1`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
patchwire man | man -l -\n  \
patchwire man /usr/local/share/man/man1")]
pub struct Args {
    /// Directory to write every page into.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    let pages = pages();
    let Some(dir) = &args.dir else {
        let (_, main) = pages.first().expect("the main page comes first");
        std::io::stdout().write_all(main)?;
        return Ok(Exit::Ok);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, page) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    if cli.json {
        print_json(&serde_json::json!({ "pages": written }))?;
    } else {
        for path in written {
            println!("{}", path.display());
        }
    }
    Ok(Exit::Ok)
}

/// Every page as (file name, roff), the main page first, then each subcommand depth-first.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building gives each subcommand its display name ("patchwire-mirror-add") and its usage
    // line ("patchwire mirror add").
    command.build();
    let mut pages = Vec::new();
    collect(&command, &mut pages);
    pages
}

fn collect(command: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
    let man = clap_mangen::Man::new(command.clone())
        .source(format!("patchwire {}", env!("CARGO_PKG_VERSION")))
        .manual("patchwire manual");
    let mut page = Vec::new();
    man.render(&mut page)
        .expect("rendering into memory cannot fail");
    pages.push((man.get_filename(), page));
    for sub in command.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            collect(sub, pages);
        }
    }
}
