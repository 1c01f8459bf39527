//! The patchwire command: parses arguments, runs one subcommand, prints errors with their causes.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.run() {
        Ok(cli::Exit::Ok) => 0,
        Ok(cli::Exit::Failed) => 3,
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
