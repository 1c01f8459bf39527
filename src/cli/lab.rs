//! `patchwire up | plan | down | graph FILE` and `show --lab FILE`: labs as files.

use patchwire::lab::{self, Change, GraphFormat, file};

use super::{Cli, Exit, print_json};

/// Make the kernel match a lab file: nodes' namespaces, ports, wires, hubs, VM taps, VXLAN
/// links to other hosts. Adds, removes and re-patches only what differs; a second `up`
/// changes nothing. Links that did not change keep their interfaces and pass frames
/// throughout.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  patchwire up lab.yaml\n  patchwire up    # the one *.clab.yml here\n  \
patchwire plan -j lab.yaml\n  \
patchwire show --lab lab.yaml -s\n  patchwire graph lab.yaml | dot -Tsvg > lab.svg\n  \
nsenter --net=/run/netns/hostA patchwire up lab.yaml --host a\n  patchwire down lab.yaml\n\n\
The file format is in docs/labs.md; containerlab's files in docs/containerlab.md."
)]
pub struct UpArgs {
    /// The lab file (YAML); default: the one *.clab.yml or *.clab.yaml here.
    pub file: Option<String>,
    /// Which of the file's hosts this is (labs over several hosts: the same file runs on each).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// `--runtime`, shared by up, plan and down (show --lab/--labs has its own, documented for
/// what it asks).
#[derive(clap::Args)]
pub struct RuntimeArgs {
    /// The container runtime for container nodes (`kind: linux` with an image,
    /// `ext-container`), driven through its own CLI (as containerlab's -r). Default: the one
    /// holding the lab's containers; for a lab none holds, docker if its daemon answers
    /// (DOCKER_HOST honoured), else podman. What a runtime needs on
    /// your machine (OCI runtime, ulimits, storage) comes from its own configuration
    /// (containers.conf, CONTAINERS_CONF, DOCKER_HOST); PATCHWIRE_PODMAN / PATCHWIRE_DOCKER
    /// name the client program, PATCHWIRE_PODMAN_ARGS / PATCHWIRE_DOCKER_ARGS add global
    /// options. A lab without container nodes asks no runtime. See docs/containers.md.
    #[arg(long, short = 'r', value_enum, value_name = "RUNTIME")]
    pub runtime: Option<RuntimeName>,
}

/// A container runtime by name.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RuntimeName {
    /// podman.
    Podman,
    /// docker (its daemon at DOCKER_HOST, or the default socket).
    Docker,
}

impl RuntimeArgs {
    pub(super) fn options(&self) -> lab::Options {
        use patchwire::runtime::{Choice, Kind};
        lab::Options {
            runtime: match self.runtime {
                None => Choice::Auto,
                Some(RuntimeName::Podman) => Choice::Only(Kind::Podman),
                Some(RuntimeName::Docker) => Choice::Only(Kind::Docker),
            },
            program: None,
        }
    }
}

/// What `up` would change, changing nothing (`-j`: a JSON array, empty when the kernel matches
/// the file). Ports `up` leaves alone on purpose (one `watch` holds down) are noted after the
/// changes (on stderr with -j).
#[derive(clap::Args)]
pub struct PlanArgs {
    /// The lab file (YAML); default: the one *.clab.yml or *.clab.yaml here.
    pub file: Option<String>,
    /// Which of the file's hosts this is (labs over several hosts).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Remove everything a lab made on this host (its namespaces with every port, wire, hub and
/// tunnel in them; its stubs in other namespaces; the interfaces it made in `netns:` nodes)
/// and nothing else, all gone when it returns. Works on a half-built lab; twice is fine.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  patchwire down lab.yaml\n  \
patchwire down --name oldlab      # a lab whose file is gone or renamed (see show --labs)")]
pub struct DownArgs {
    /// The lab file (YAML); default: the one *.clab.yml or *.clab.yaml here (unless --name).
    pub file: Option<String>,
    /// Which of the file's hosts this is (labs over several hosts).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Remove the lab of this name, found by its marks, when its file is gone or now names
    /// another lab (`show --labs` lists such labs as orphaned). Stubs it left in namespaces
    /// known only by a path are found only with the file.
    #[arg(long, value_name = "LAB", conflicts_with = "file")]
    pub name: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// The lab as a picture: Graphviz DOT (default) or Mermaid. Namespaces, VMs and existing
/// namespaces drawn differently, hubs as diamonds, mirrors as dotted arrows, each host as a
/// box; links coloured by their health in the kernel (red broken, orange degraded, grey not
/// up, dashed: on another host). A legend explains it. No JSON form: -j is refused (the lab as
/// JSON is `-j show --lab FILE` or `-j plan FILE`).
#[derive(clap::Args)]
pub struct GraphArgs {
    /// The lab file (YAML); default: the one *.clab.yml or *.clab.yaml here.
    pub file: Option<String>,
    /// Which of the file's hosts this is: its links are coloured from this kernel, the other
    /// hosts' drawn dashed.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The picture's language.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

/// `-n` names the namespace wires are in; a lab names its own namespaces in its file, so `-n`
/// would mean nothing there, and silently ignoring it misleads. Refused (exit 2). To run a
/// lab's host "inside" a namespace standing for a machine, enter only its network namespace
/// (`nsenter --net=…`), which is what `--host` labs on one machine do.
pub fn refuse_netns(cli: &Cli, command: &str) {
    use clap::CommandFactory;
    if let Some(netns) = &cli.netns {
        let hint = match command {
            "demo" => "the demo makes private namespaces of its own".to_string(),
            "graph" => "graph draws the file and reads the lab's own namespaces".to_string(),
            "capture --lab" => format!(
                "a lab's namespaces are named in its file; to run it where the underlay is, use \
                 {}",
                nsenter_suggestion(netns, std::env::args().skip(1))
            ),
            // Pages and scripts are text, the same in every namespace: a -n there is a mistake.
            "man" | "completions" => {
                format!("{command} writes text that is the same in every namespace")
            }
            _ => format!(
                "a lab's namespaces are named in its file; to run it where the underlay is, use \
                 {}",
                nsenter_suggestion(netns, std::env::args().skip(1))
            ),
        };
        let message = format!("-n {netns}: {command} does not take -n ({hint})");
        if cli.json {
            // The error object every other error prints with -j; the exit status stays 2 (usage).
            println!("{}", serde_json::json!({ "error": message }));
            std::process::exit(2);
        }
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
}

/// `ip netns exec UNDERLAY patchwire up` runs in a private mount namespace: the namespaces it
/// registers under /run/netns vanish when it exits (empty files left) while it reports
/// success. Refused before anything changes, naming `nsenter --net=`, which enters only the
/// network namespace (docs/labs.md).
fn refuse_private_mounts(command: &str) -> anyhow::Result<()> {
    if !patchwire::netns::registrations_stay_private() {
        return Ok(());
    }
    let underlay = patchwire::netns::current_name().unwrap_or_else(|| "UNDERLAY".to_string());
    anyhow::bail!(
        "{command}: this process runs in a mount namespace of its own whose /run/netns is a \
         slave of the host's (as `ip netns exec` makes): the lab's namespaces registered there \
         would vanish when it exits; enter only the network namespace instead: {}",
        nsenter_suggestion(&underlay, std::env::args().skip(1))
    )
}

/// The command the user typed, without its `-n`, under `nsenter --net=` of that namespace (a
/// name under /run/netns, or a path as given).
fn nsenter_suggestion(netns: &str, args: impl Iterator<Item = String>) -> String {
    let path = match netns.contains('/') {
        true => netns.to_string(),
        false => format!("{}/{netns}", patchwire::netns::NETNS_RUN_DIR),
    };
    let mut kept = Vec::new();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-n" | "--netns" => {
                args.next();
            }
            a if a.starts_with("--netns=") => {}
            a if a.starts_with("-n") && !a.starts_with("--") => {}
            _ => kept.push(shell_quoted(&arg)),
        }
    }
    format!(
        "nsenter --net={} patchwire {}",
        shell_quoted(&path),
        kept.join(" ")
    )
}

/// `arg` as a shell reads it back: as is when plain, else in single quotes.
fn shell_quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
    match plain {
        true => arg.to_string(),
        false => format!("'{}'", arg.replace('\'', r"'\''")),
    }
}

fn load(path: &str) -> anyhow::Result<file::LabFile> {
    Ok(file::load(path)?)
}

/// [`load`] for `plan` and `up`: also each `binds:` source must exist, said with the file's
/// other errors (`down`, `graph` and `show` read a file whatever became of its binds).
fn load_to_run(path: &str) -> anyhow::Result<file::LabFile> {
    Ok(file::load_to_run(path)?)
}

/// The file given, or the one `*.clab.yml`/`*.clab.yaml` in the current folder (issue 20).
/// None there, or several: a usage error (exit 2), like a missing argument.
/// FILE, or the one `*.clab.yml` here; without one, the advice names `command`, the command
/// the user ran (`plan`, `down`, `show --lab`…).
fn file_or_default(cli: &Cli, file: &Option<String>, command: &str) -> anyhow::Result<String> {
    match file {
        Some(file) => Ok(file.clone()),
        None => match file::find_default_file_for(std::path::Path::new("."), command) {
            Ok(found) => Ok(found.display().to_string()),
            Err(e @ file::LabFileError::Read { .. }) => Err(e.into()),
            Err(e) => usage(cli, &e.to_string()),
        },
    }
}

/// A mistake in what was typed (no FILE to use, a malformed `--name`): exit 2 as clap's own
/// usage errors, or the `{"error": …}` object with -j.
fn usage(cli: &Cli, message: &str) -> ! {
    use clap::CommandFactory;
    if cli.json {
        println!("{}", serde_json::json!({ "error": message }));
        std::process::exit(2);
    }
    Cli::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

pub fn up(cli: &Cli, args: &UpArgs) -> anyhow::Result<Exit> {
    refuse_netns(cli, "up");
    refuse_private_mounts("up")?;
    let lab_file = load_to_run(&file_or_default(cli, &args.file, "up")?)?;
    print_notes(&lab_file.notes);
    let started = std::time::Instant::now();
    let mut outcome = lab::up_with(&lab_file, args.host.as_deref(), &args.runtime.options())?;
    // A failed `exec:` fails `up`, after everything else is done and shown.
    let failures: Vec<String> = outcome.exec.iter().filter_map(|e| e.failure()).collect();
    let exit = match failures.is_empty() {
        true => Exit::Ok,
        false => Exit::Failed,
    };
    if cli.json {
        // The file's notes (keys accepted, not acted on) first, as stderr shows them.
        outcome.notes.splice(0..0, lab_file.notes.iter().cloned());
        print_json(&outcome)?;
        for failure in &failures {
            eprintln!("patchwire: {failure}");
        }
        return Ok(exit);
    }
    let at = args
        .host
        .as_deref()
        .map(|h| format!(" on host {h}"))
        .unwrap_or_default();
    print_notes(&outcome.notes);
    if outcome.changes.is_empty() {
        println!("lab {}{at}: up to date, nothing changed", outcome.lab);
    } else {
        print_changes(&outcome.changes);
        println!(
            "lab {}{at}: {} change(s) in {:.2} s",
            outcome.lab,
            outcome.changes.len(),
            started.elapsed().as_secs_f64()
        );
    }
    print_exec(&outcome.exec);
    for failure in &failures {
        eprintln!("patchwire: {failure}");
    }
    Ok(exit)
}

/// Each `exec:` command with its output, per node: `exec NODE: COMMAND` then its lines.
fn print_exec(results: &[lab::ExecResult]) {
    for result in results {
        let status = match result.exit {
            0 => String::new(),
            n => format!(" (exit status {n})"),
        };
        println!("exec {}: {}{status}", result.node, result.command);
        for line in result.stdout.lines().chain(result.stderr.lines()) {
            println!("  {}| {line}", result.node);
        }
    }
}

pub fn plan(cli: &Cli, args: &PlanArgs) -> anyhow::Result<Exit> {
    refuse_netns(cli, "plan");
    let path = file_or_default(cli, &args.file, "plan")?;
    let lab_file = load_to_run(&path)?;
    print_notes(&lab_file.notes);
    let plan = lab::plan_with(&lab_file, args.host.as_deref(), &args.runtime.options())?;
    let changes = plan.changes;
    print_notes(&plan.notes);
    if cli.json {
        print_json(&changes)?;
    } else if changes.is_empty() {
        let at = args
            .host
            .as_deref()
            .map(|h| format!(" on host {h}"))
            .unwrap_or_default();
        println!("lab {}{at}: the kernel matches the file", lab_file.name);
    } else {
        print_changes(&changes);
        // The command that makes them, as it must be typed on this host (a multi-host lab
        // needs its --host).
        let host = args
            .host
            .as_deref()
            .map(|h| format!(" --host {}", shell_quoted(h)))
            .unwrap_or_default();
        println!(
            "{} change(s) to make (patchwire up {path}{host})",
            changes.len()
        );
    }
    Ok(Exit::Ok)
}

pub fn down(cli: &Cli, args: &DownArgs) -> anyhow::Result<Exit> {
    refuse_netns(cli, "down");
    refuse_private_mounts("down")?;
    let (lab_name, mut outcome, file_notes) = match (&args.file, &args.name) {
        (Some(path), _) => {
            let lab_file = load(path).map_err(|e| unreadable_for_down(e, path, args))?;
            let outcome = lab::down_with(&lab_file, args.host.as_deref(), &args.runtime.options())?;
            (lab_file.name, outcome, lab_file.notes)
        }
        (None, Some(name)) => {
            if let Err(e) = lab::check_lab_name(name) {
                usage(cli, &e.to_string());
            }
            (
                name.clone(),
                lab::down_by_name_with(name, args.host.as_deref(), &args.runtime.options())?,
                Vec::new(),
            )
        }
        (None, None) => {
            let path = file_or_default(cli, &None, "down")?;
            let lab_file = load(&path).map_err(|e| unreadable_for_down(e, &path, args))?;
            let outcome = lab::down_with(&lab_file, args.host.as_deref(), &args.runtime.options())?;
            (lab_file.name, outcome, lab_file.notes)
        }
    };
    // The file's notes, as `plan` and `up` give them: first, on stderr or in `notes`.
    outcome.notes.splice(0..0, file_notes);
    if cli.json {
        // Named like `-j up`'s: which lab (and host) this was.
        let mut json = serde_json::to_value(&outcome)?;
        if let Some(object) = json.as_object_mut() {
            object.insert("lab".into(), lab_name.clone().into());
            object.insert("host".into(), args.host.clone().into());
        }
        print_json(&json)?;
    } else if outcome.namespaces_removed.is_empty()
        && outcome.stubs_removed.is_empty()
        && outcome.taps_removed.is_empty()
        && outcome.containers_removed.is_empty()
        && outcome.registrations_removed.is_empty()
        && outcome.networks_removed.is_empty()
    {
        println!("lab {lab_name}: nothing to remove");
        for note in &outcome.notes {
            eprintln!("note: {note}");
        }
    } else {
        for endpoint in &outcome.interfaces_removed {
            println!("removed {endpoint} (made by the lab in an existing netns)");
        }
        for endpoint in &outcome.host_interfaces_removed {
            println!("removed {endpoint} (made by the lab in the host's namespace)");
        }
        for tap in &outcome.taps_removed {
            println!("removed tap {tap}");
        }
        for name in &outcome.namespaces_removed {
            println!("removed netns {name}");
        }
        for stub in &outcome.stubs_removed {
            println!("removed stub {stub}");
        }
        for container in &outcome.containers_removed {
            println!("removed container {container}");
        }
        for name in &outcome.registrations_removed {
            println!("removed netns {name} (a container's namespace, registered by up)");
        }
        for network in &outcome.networks_removed {
            println!("removed network {network} (the lab had made it)");
        }
        for note in &outcome.notes {
            eprintln!("note: {note}");
        }
    }
    Ok(Exit::Ok)
}

/// `down FILE` with a file that does not read: the file's error, and, when its `name:` still
/// reads, the command that takes that lab down from the kernel's records (decided: `down`
/// does not do it itself: without the file it cannot find stubs in namespaces named by a
/// path or ext-containers' registrations, and a half-edited file is a reason to stop).
fn unreadable_for_down(error: anyhow::Error, path: &str, args: &DownArgs) -> anyhow::Error {
    let Some(found) = lab::unreadable_lab(path) else {
        return error;
    };
    let name = &found.name;
    let quoted = shell_quoted(path);
    if !found.up_here {
        return anyhow::anyhow!(
            "{error}\n({path} does not read; its lab {name} has no namespaces on this host: \
             nothing of it to take down here)"
        );
    }
    let host = match (&args.host, found.multi_host) {
        (Some(host), _) => format!(" --host {}", shell_quoted(host)),
        (None, true) => " --host HOST".to_string(),
        (None, false) => String::new(),
    };
    let runtime = match args.runtime.runtime {
        Some(RuntimeName::Podman) => " -r podman",
        Some(RuntimeName::Docker) => " -r docker",
        None => "",
    };
    anyhow::anyhow!(
        "{error}\n({path} does not read, so down cannot use it; patchwire down --name \
         {name}{host}{runtime} takes lab {name} down from the kernel's records and the \
         runtime's labels (without the file it misses stubs in namespaces the file names by a \
         path and ext-containers' registrations), or fix the file and run patchwire down \
         {quoted} again)"
    )
}

pub fn graph(cli: &Cli, args: &GraphArgs) -> anyhow::Result<Exit> {
    refuse_netns(cli, "graph");
    // A picture has no JSON form, and DOT on stdout where JSON was asked for breaks whatever
    // reads it: refused (exit 2), naming the commands that give the lab as JSON.
    if cli.json {
        let message = format!(
            "-j: graph draws a picture (DOT or Mermaid), which has no JSON form; the lab as JSON \
             is `patchwire -j show --lab {0}` (links, health, counters) or `patchwire -j plan {0}`",
            args.file.as_deref().unwrap_or("FILE")
        );
        println!("{}", serde_json::json!({ "error": message }));
        std::process::exit(2);
    }
    let lab_file = load(&file_or_default(cli, &args.file, "graph")?)?;
    print!(
        "{}",
        lab::graph(&lab_file, args.host.as_deref(), args.format)?
    );
    Ok(Exit::Ok)
}

/// `show --lab FILE`.
pub fn show(
    cli: &Cli,
    path: &str,
    host: Option<&str>,
    runtime: &RuntimeArgs,
) -> anyhow::Result<Exit> {
    refuse_netns(cli, "show --lab");
    // `--lab` without a FILE: the one *.clab.yml here, as up/plan/down take it.
    let path = match path {
        "" => file_or_default(cli, &None, "show --lab")?,
        given => given.to_string(),
    };
    let lab_file = load(&path)?;
    // Container nodes whose container is stopped, gone or restarted: their links are broken
    // and carry the node's problem (JSON: in `problems` and `stale`, the array's shape kept).
    let (views, stale) = lab::show_with(&lab_file, host, &runtime.options())?;
    if cli.json {
        print_json(&views)?;
        return Ok(Exit::Ok);
    }
    println!("{:<44}  {:<16}  HEALTH", "LINK", "KIND");
    for view in &views {
        println!(
            "{:<44}  {:<16}  {}",
            view.endpoints.join(" "),
            view.kind,
            view.health
        );
        if cli.stats {
            for (port, [packets, bytes, drops]) in &view.counters {
                let path = view
                    .paths
                    .get(port)
                    .map(|p| format!(" (path {p})"))
                    .unwrap_or_default();
                println!(
                    "    {port}: {packets} packets, {} in, {drops} dropped{path}",
                    super::human_bytes(*bytes)
                );
            }
        }
        if let Some(flap) = &view.flap {
            println!("    ~ flapping: {}", flap.summary);
        }
        match view.cut_by.as_deref() {
            Some("file") => println!("    x cut (state: down in the file)"),
            Some("flap") if view.flap.as_ref().is_some_and(|f| f.running) => {
                println!("    x cut by its flap (the watch puts it back on schedule)")
            }
            _ => {}
        }
        for problem in &view.problems {
            println!("    ! {problem}");
        }
    }
    for node in &stale {
        println!("! {}", node.problem);
    }
    Ok(Exit::Ok)
}

/// `show --labs`: every lab on this host, found from its namespaces' marks.
pub fn list(cli: &Cli, runtime: &RuntimeArgs) -> anyhow::Result<Exit> {
    refuse_netns(cli, "show --labs");
    if cli.stats {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "-s/--stats: show --labs has no statistics to print (show --lab FILE -s has)",
            )
            .exit();
    }
    let labs = lab::list_with(&runtime.options())?;
    if cli.json {
        print_json(&labs)?;
        return Ok(Exit::Ok);
    }
    if labs.is_empty() {
        println!("no labs");
        return Ok(Exit::Ok);
    }
    let name = |l: &lab::LabSummary| match &l.host {
        Some(host) => format!("{} (host {host})", l.lab),
        None => l.lab.clone(),
    };
    let width = labs.iter().map(|l| name(l).len()).max().unwrap_or(0).max(3);
    println!(
        "{:<width$}  {:>5}  {:>5}  {:<8}  FILE",
        "LAB", "NODES", "LINKS", "HEALTH"
    );
    for lab in &labs {
        println!(
            "{:<width$}  {:>5}  {:>5}  {:<8}  {}",
            name(lab),
            lab.nodes.len(),
            lab.links,
            lab.health,
            match lab.from_stdin {
                true => "<stdin>",
                false => lab.file.as_deref().unwrap_or("-"),
            }
        );
        if let Some(why) = &lab.orphaned {
            println!("    ! orphaned: {why}; remove it with: {}", lab.remove);
        }
        for stale in &lab.stale {
            println!("    ! {}", stale.problem);
        }
        if !lab.existing.is_empty() {
            println!(
                "    existing namespaces (netns: nodes): {}",
                lab.existing.join(", ")
            );
        }
        if lab.from_stdin {
            println!(
                "    brought up from standard input: take it down with {}",
                lab.remove
            );
        }
    }
    Ok(Exit::Ok)
}

/// Notes of `plan`/`up` (what is left alone on purpose). Every command writes its notes the
/// same way, as `warning: …` is written: `note: …` on stderr (with -j they are in the JSON too,
/// where the command's output carries them).
fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("note: {note}");
    }
}

fn print_changes(changes: &[Change]) {
    for change in changes {
        let text = match change {
            Change::Container(change) => change.to_string(),
            Change::CreateNamespace { netns, role } => format!("+ netns {netns} ({role})"),
            Change::RemakeNamespace { netns, why } => format!("~ netns {netns}: {why}"),
            Change::DeleteNamespace { netns } => format!("- netns {netns}"),
            Change::CreatePort {
                port,
                endpoint,
                via,
                mtu,
            } => format!("+ port {port} for {endpoint} ({via}, mtu {mtu})"),
            Change::DeletePort { port, was } => format!("- port {port} (was {was})"),
            Change::SetMtu {
                port,
                endpoint,
                mtu,
                was,
            } => format!("~ mtu of {endpoint} ({port}): {was} -> {mtu}"),
            Change::SetUp { port, endpoint } => format!("~ up: {endpoint} ({port})"),
            Change::Release {
                port,
                endpoint,
                far,
            } => format!(
                "~ release {endpoint} ({port}): a patchwire watch held it down while {far} was \
                 down; no watch runs now and {far} is up, so it comes back up"
            ),
            Change::ReleaseStub {
                netns,
                stub,
                endpoint,
            } => format!(
                "~ release stub {stub} of {endpoint} in netns {netns}: a patchwire watch there \
                 held it down while the tap was down; no watch runs there now and a VM holds the \
                 tap again, so it comes back up"
            ),
            Change::DeleteStub {
                netns,
                stub,
                endpoint,
            } => format!("- stub {stub} for {endpoint} in netns {netns}"),
            Change::RemakeTap {
                netns,
                tap,
                endpoint,
                why,
            } => format!(
                "~ tap {tap} for {endpoint} in netns {netns}: {why} (made again; a qemu holding it \
                 must be restarted)"
            ),
            Change::Bounce {
                port,
                endpoint,
                was,
                now,
            } => format!(
                "~ bounce {endpoint} ({port}): its cable moves from {was} to {now}, so it goes \
                 down and up (its node sees the carrier drop)"
            ),
            Change::Unwire { endpoints, b, .. } if b.is_empty() => {
                format!("- wire remains on {}", endpoints[0])
            }
            Change::Unwire { endpoints, .. } => {
                format!("- wire {} <-> {}", endpoints[0], endpoints[1])
            }
            Change::Unhub { hub, endpoints } => format!("- hub {hub}: {}", endpoints.join(", ")),
            Change::Unmirror { mirror } => format!("- mirror {mirror}"),
            Change::Mirror {
                mirror,
                from,
                to,
                filter,
            } => {
                let filter = filter
                    .as_ref()
                    .map(|f| format!(" (filter {f:?})"))
                    .unwrap_or_default();
                format!("+ mirror {mirror}: {} -> {to}{filter}", from.join(", "))
            }
            Change::Impair {
                port,
                endpoint,
                impairment,
                was,
                by_command,
            } => match (was, by_command) {
                (Some(was), true) => format!(
                    "~ impair what {endpoint} sends ({port}): {was} (set by patchwire impair) -> \
                     {impairment}"
                ),
                (Some(was), false) => {
                    format!("~ impair what {endpoint} sends ({port}): {was} -> {impairment}")
                }
                (None, _) => format!("+ impair what {endpoint} sends ({port}): {impairment}"),
            },
            Change::Unimpair {
                port,
                endpoint,
                was,
                by_command,
            } => match by_command {
                true => format!(
                    "- impair what {endpoint} sends ({port}): {was} (set by patchwire impair, \
                     not in the file)"
                ),
                false => format!(
                    "- impair what {endpoint} sends ({port}): {was} (no longer in the file)"
                ),
            },
            // A wire's two ends, a hub segment's members, a hub node's member alone.
            Change::Cut {
                endpoints, was_in, ..
            } => {
                // `mend` leaves no record: either may be why the cable is in (said on a line
                // of its own under the change, which stays as it was).
                let why = match was_in {
                    true => {
                        "\n    its cable is in: mended outside the file (patchwire mend), or \
                             state: down is new in the file"
                    }
                    false => "",
                };
                match endpoints.as_slice() {
                    [one] => format!("~ cut {one} (state: down): {one} sees NO-CARRIER{why}"),
                    [a, b] => {
                        format!("~ cut {a} <-> {b} (state: down): both ends see NO-CARRIER{why}")
                    }
                    many => format!(
                        "~ cut {} (state: down): every member sees NO-CARRIER{why}",
                        many.join(", ")
                    ),
                }
            }
            Change::Mend {
                endpoints,
                by_command,
                ..
            } => format!(
                "~ mend {}: {}the file does not pull this cable, so its carrier comes back",
                endpoints.join(" <-> "),
                match by_command {
                    true => "cut by patchwire cut; ",
                    false => "",
                }
            ),
            Change::SettlePath {
                endpoints,
                path,
                because,
                ..
            } => format!(
                "~ path {} -> {}: {path} ({because})",
                endpoints[0], endpoints[1]
            ),
            Change::Wire {
                endpoints,
                datapath,
                ..
            } => format!("+ wire {} <-> {} ({datapath})", endpoints[0], endpoints[1]),
            Change::Hub { hub, endpoints, .. } => {
                format!("+ hub {hub}: {}", endpoints.join(", "))
            }
            Change::SetMac {
                port,
                endpoint,
                mac,
                was,
            } => format!("~ mac of {endpoint} ({port}): {was} -> {mac}"),
            Change::SetMaster {
                endpoint, bridge, ..
            } => format!("~ {endpoint} joins bridge {bridge} again"),
            Change::CreateDevice {
                endpoint,
                netns,
                what,
                mtu,
            } => format!("+ {what} {endpoint} in netns {netns} (mtu {mtu})"),
            Change::DeleteDevice {
                endpoint,
                netns,
                why,
            } => format!("- {endpoint} in netns {netns} ({why})"),
        };
        println!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::nsenter_suggestion;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split(' ')
            .map(String::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_nsenter_suggestion_is_the_command_typed_without_its_n() {
        assert_eq!(
            nsenter_suggestion("/proc/1/ns/mnt", args("-n /proc/1/ns/mnt plan l1.yaml")),
            "nsenter --net=/proc/1/ns/mnt patchwire plan l1.yaml"
        );
        assert_eq!(
            nsenter_suggestion("x", args("-j --netns=x down --name L")),
            "nsenter --net=/run/netns/x patchwire -j down --name L"
        );
        assert_eq!(
            nsenter_suggestion("u", args("show -nu --labs")),
            "nsenter --net=/run/netns/u patchwire show --labs"
        );
        assert_eq!(
            nsenter_suggestion("u", args("up -n u it's.yaml --host a")),
            r"nsenter --net=/run/netns/u patchwire up 'it'\''s.yaml' --host a"
        );
    }
}
