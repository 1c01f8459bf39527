//! What ships around the binary, through the CLI as built: shell completions that a shell
//! loads, manual pages (one per command and subcommand) that `man` renders without a warning,
//! and `doctor`, which must pass on this host and, without CAP_NET_ADMIN, name it and its fix.
//!
//! The command list is read from `--help`, so a command added later is checked too. And the
//! house as drawn: docs/design.md's floors agree with every import in src/.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_patchwire");

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn output(command: &mut Command) -> Run {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The subcommands `patchwire [COMMAND...] --help` lists (without `help`).
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let help = patchwire(&args).ok().stdout.clone();
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command as a path: ["link"], ["mirror"], ["mirror", "add"], ...
fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for command in subcommands(&[]) {
        let nested = subcommands(&[command.as_str()]);
        paths.push(vec![command.clone()]);
        for sub in nested {
            paths.push(vec![command.clone(), sub]);
        }
    }
    paths
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("pwt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is needed by this test (apt-get install {package}; scripts/test installs it)"
    );
}

/// `doctor -j` as an unprivileged user (uid 65534, no capabilities at all).
fn doctor_as_nobody(args: &[&str]) -> Run {
    output(
        Command::new("setpriv")
            .args([
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "doctor",
            ])
            .args(args),
    )
}

fn item<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no item {name} in {report:#}"))
}

/// The doctor's checks, in the order it reports them.
const CHECKS: [&str; 17] = [
    "CAP_NET_ADMIN",
    "CAP_SYS_ADMIN",
    "CAP_BPF",
    "network namespaces",
    "veth",
    "clsact qdisc",
    "u32 classifier",
    "mirred action",
    "bpf() syscall",
    "cls_bpf classifier",
    "tun/tap",
    "vxlan",
    "dummy",
    "tbf qdisc",
    "netem qdisc (sch_netem)",
    "/run/netns",
    "libpcap",
];

// ---------------------------------------------------------------------------------------------
// Completions
// ---------------------------------------------------------------------------------------------

#[test]
fn bash_loads_the_completions_and_completes_subcommands() {
    require_tool("bash", "bash");
    let dir = Path::new(BIN).parent().unwrap().display().to_string();
    let path = format!("{dir}:{}", std::env::var("PATH").unwrap_or_default());
    let script = "source <(patchwire completions bash) || exit 1
complete -p patchwire
COMP_WORDS=(patchwire mi); COMP_CWORD=1; COMP_LINE='patchwire mi'; COMP_POINT=12
_patchwire patchwire mi patchwire
echo \"words: ${COMPREPLY[*]}\"
COMP_WORDS=(patchwire mirror a); COMP_CWORD=2; COMP_LINE='patchwire mirror a'; COMP_POINT=18
_patchwire patchwire a mirror
echo \"words: ${COMPREPLY[*]}\"";
    let run = output(Command::new("bash").env("PATH", path).args(["-c", script]));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "", "bash complained while loading the script");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines[0].starts_with("complete ") && lines[0].ends_with(" -F _patchwire patchwire"),
        "not a complete spec: {}",
        lines[0]
    );
    assert_eq!(lines[1], "words: mirror");
    assert_eq!(lines[2], "words: add");
}

/// `-n` completes namespaces (not files), paths once a `/` is typed; `--host` the hosts of
/// the lab file on the command line.
#[test]
fn bash_completes_namespaces_and_a_lab_files_hosts() {
    require_tool("bash", "bash");
    let ns = TestNs::new();
    let dir = TempDir::new("complete");
    std::fs::create_dir_all(&dir.0).unwrap();
    let lab = dir.0.join("lab.yaml");
    std::fs::write(
        &lab,
        "name: t1\nhosts:\n  east: {address: 198.18.1.1}\n  west: {address: 198.18.1.2}\n\
         topology:\n  nodes:\n    r1: {}\n",
    )
    .unwrap();
    // A file named like the namespace in the working directory: not offered for -n.
    std::fs::write(dir.0.join(format!("{}-file", ns.name)), "").unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let lab = lab.display();
    let ns = &ns.name;
    let script = format!(
        "source <(patchwire completions bash) || exit 1
complete() {{ COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_LINE=\"$*\"; COMP_POINT=${{#COMP_LINE}}
  _patchwire patchwire \"${{@: -1}}\" \"${{@: -2:1}}\"; echo \"words: ${{COMPREPLY[*]}}\"; }}
complete patchwire -n {ns}
complete patchwire show -n {ns}
complete patchwire -n /proc/self/ns/ne
complete patchwire plan {lab} --host ''
complete patchwire show --lab {lab} --host w"
    );
    let run = output(
        Command::new("bash")
            .current_dir(&dir.0)
            .env("PATH", path)
            .args(["-c", &script]),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    // Other tests' namespaces may share the prefix; files never appear.
    for line in &lines[..2] {
        let words: Vec<&str> = line.trim_start_matches("words: ").split(' ').collect();
        assert!(words.contains(&ns.as_str()), "{line}");
        assert!(words.iter().all(|w| !w.ends_with("-file")), "{line}");
    }
    assert_eq!(
        lines[2..],
        [
            "words: /proc/self/ns/net",
            "words: east west",
            "words: west"
        ]
    );
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    let paths = command_paths();
    assert!(paths.len() > 15, "{paths:?}");
    for shell in ["zsh", "fish"] {
        let run = patchwire(&["completions", shell]);
        run.ok();
        assert!(run.stdout.len() > 1000, "{shell}: {}", run.stdout);
        for path in &paths {
            // zsh: a completion function per command; fish: the command offered where it
            // belongs (at the top, or after its parent).
            let found = match (shell, path.as_slice()) {
                ("zsh", _) => {
                    let function =
                        format!("_patchwire__subcmd__{}_commands()", path.join("__subcmd__"));
                    run.stdout.contains(&function)
                }
                (_, [command]) => run.stdout.contains(&format!(
                    "__fish_patchwire_needs_command\" -f -a \"{command}\""
                )),
                (_, [parent, command]) => run.stdout.lines().any(|line| {
                    line.contains(&format!(
                        "__fish_patchwire_using_subcommand {parent}; and not" // `-f` (no files besides) is left out where the parent also takes an
                                                                              // operand (`impair ENDPOINT` / `impair show`).
                    )) && line.contains(&format!("-a \"{command}\""))
                }),
                _ => false,
            };
            assert!(found, "{shell} script does not offer {path:?}");
        }
    }
    // Only the three shells asked for; the rest is a usage error.
    let run = patchwire(&["completions", "powershell"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn stats_is_refused_by_the_new_commands() {
    for args in [
        &["completions", "bash", "-s"][..],
        &["man", "-s"],
        &["doctor", "-s"],
    ] {
        let run = patchwire(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("-s/--stats applies to"),
            "{}",
            run.stderr
        );
    }
    let run = patchwire(&["-n", "lab", "doctor"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("-n/--netns does not apply to `doctor`"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Manual pages
// ---------------------------------------------------------------------------------------------

#[test]
fn man_writes_a_page_per_command_and_each_renders_without_warnings() {
    require_tool("man", "man-db");
    let dir = TempDir::new("man");
    let dir_text = dir.0.display().to_string();
    let run = patchwire(&["man", &dir_text]);
    run.ok();

    let mut expected: BTreeSet<String> = command_paths()
        .iter()
        .map(|path| format!("patchwire-{}.1", path.join("-")))
        .collect();
    expected.insert("patchwire.1".into());
    // The lab file format, section 5.
    expected.insert("patchwire-lab.5".into());
    for page in [
        "patchwire-link.1",
        "patchwire-mirror-add.1",
        "patchwire-tap-del.1",
    ] {
        assert!(expected.contains(page), "{page} not in {expected:?}");
    }
    let written: BTreeSet<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(written, expected);
    // The paths written, one a line.
    let printed: BTreeSet<String> = run.stdout.lines().map(str::to_string).collect();
    let full: BTreeSet<String> = expected
        .iter()
        .map(|name| format!("{dir_text}/{name}"))
        .collect();
    assert_eq!(printed, full);

    for name in &expected {
        let file = dir.0.join(name);
        let rendered = output(
            Command::new("man")
                .env("MANWIDTH", "80")
                .env("MAN_KEEP_FORMATTING", "")
                .args(["-l", "--warnings"])
                .arg(&file),
        );
        assert_eq!(rendered.code, 0, "{name}: {}", rendered.stderr);
        assert_eq!(rendered.stderr, "", "man warns about {name}");
        let (title, section) = name.rsplit_once('.').unwrap();
        assert!(
            rendered.stdout.contains("NAME") && rendered.stdout.contains("SYNOPSIS"),
            "{name}: {}",
            rendered.stdout
        );
        assert!(
            rendered.stdout.contains(&format!("{title}({section})")),
            "{name} is not titled {title}({section})"
        );
    }

    // patchwire-lab(5) has every key docs/labs.md lists and both of its examples.
    let lab_page = std::fs::read_to_string(dir.0.join("patchwire-lab.5")).unwrap();
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/labs.md")).unwrap();
    let keys: Vec<&str> = docs
        .split("### Keys")
        .nth(1)
        .and_then(|rest| rest.split("### Errors").next())
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .flat_map(|cell| cell.split('|').next())
        .flat_map(|cell| cell.split(['`', ',', ' ']))
        .filter(|key| !key.is_empty())
        .collect();
    assert!(
        keys.contains(&"output-vlan") && keys.contains(&"vnet-hdr"),
        "{keys:?}"
    );
    for key in keys {
        let shown = key.replace('-', "\\-");
        assert!(
            lab_page.contains(&format!(".TP\n.B {shown}\n"))
                || lab_page.contains(&format!(".TQ\n.B {shown}\n")),
            "patchwire-lab.5 lacks key {key}"
        );
    }
    for example in [
        "name: demo                  # required",
        "mtu: 1450                           # VXLAN adds 50 bytes",
    ] {
        assert!(lab_page.contains(&example.replace('-', "\\-")), "{example}");
    }

    // Without DIR: the main page on stdout, the same as the file.
    let main = patchwire(&["man"]);
    main.ok();
    assert_eq!(
        main.stdout,
        std::fs::read_to_string(dir.0.join("patchwire.1")).unwrap()
    );
    // Pages say what --help says.
    let link_help = patchwire(&["link", "--help"]).stdout;
    let link_page = std::fs::read_to_string(dir.0.join("patchwire-link.1")).unwrap();
    for option in [
        "--batch",
        "--mtu",
        "--allow-loop",
        "--tx-checksum",
        "--wait",
    ] {
        assert!(link_help.contains(option), "{option} not in link --help");
        assert!(
            link_page.contains(&option.replace('-', "\\-")),
            "{option} not in patchwire-link.1"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// doctor
// ---------------------------------------------------------------------------------------------

#[test]
fn doctor_passes_on_this_host() {
    require_root();
    let run = patchwire(&["doctor", "-j"]);
    run.ok();
    let report = run.json();
    assert_eq!(report["ok"], true, "{report:#}");
    let names: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, CHECKS);
    for item in report["items"].as_array().unwrap() {
        assert!(
            item["ok"] == true || item["required"] == false,
            "not ok here: {item:#}"
        );
        assert!(!item["affects"].as_array().unwrap().is_empty(), "{item:#}");
    }
    assert_eq!(item(&report, "libpcap")["required"], false);
    assert!(
        item(&report, "mirred action")["detail"]
            .as_str()
            .unwrap()
            .contains("carried a test frame")
    );

    let table = patchwire(&["doctor"]);
    table.ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("CHECK") && lines[0].contains("STATUS"));
    for check in CHECKS {
        assert!(
            lines.iter().any(|line| line.starts_with(check)),
            "{check} missing from\n{}",
            table.stdout
        );
    }
    assert_eq!(
        lines.last(),
        Some(&"ready: everything patchwire needs is here")
    );
    assert!(!table.stdout.contains("fix:"), "{}", table.stdout);
}

#[test]
fn doctor_leaves_nothing_behind() {
    require_root();
    // Other tests (in this file and elsewhere) make and remove their pwt-* namespaces meanwhile.
    let netns = || {
        run("ip", &["netns", "list"])
            .lines()
            .filter(|l| !l.starts_with("pwt-"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let before = run("ip", &["-o", "link", "show"]);
    let netns_before = netns();
    let mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| !l.contains("/run/netns/pwt-"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let mounts_before = mounts();
    patchwire(&["doctor"]).ok();
    assert_eq!(run("ip", &["-o", "link", "show"]), before);
    assert_eq!(netns(), netns_before);
    assert_eq!(mounts(), mounts_before);
}

#[test]
fn doctor_without_capabilities_names_cap_net_admin_and_the_fix() {
    require_root();
    let run = doctor_as_nobody(&["-j"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
    let report = run.json();
    assert_eq!(report["ok"], false);
    let net_admin = item(&report, "CAP_NET_ADMIN");
    assert_eq!(net_admin["ok"], false);
    assert_eq!(net_admin["checked"], true);
    assert_eq!(net_admin["required"], true);
    assert_eq!(net_admin["fix"], "run as root (sudo patchwire ...)");
    assert!(
        net_admin["detail"]
            .as_str()
            .unwrap()
            .starts_with("not in the effective capability set")
    );
    // No namespace to try the kernel features in: said so, not guessed either way.
    let netns = item(&report, "network namespaces");
    assert_eq!(netns["ok"], false);
    assert_eq!(netns["checked"], false);
    assert!(
        netns["detail"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{netns:#}"
    );
    for name in ["veth", "clsact qdisc", "mirred action", "tun/tap", "vxlan"] {
        let feature = item(&report, name);
        assert_eq!(feature["checked"], false, "{feature:#}");
        assert_eq!(feature["fix"], "run as root (sudo patchwire ...)");
    }

    let table = doctor_as_nobody(&[]);
    assert_eq!(table.code, 1);
    let lines: Vec<&str> = table.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.starts_with("CAP_NET_ADMIN"))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(lines[at].contains("MISSING"), "{}", lines[at]);
    assert!(
        lines[at + 1].starts_with("    affects: link, unlink"),
        "{}",
        table.stdout
    );
    assert_eq!(lines[at + 2], "    fix: run as root (sudo patchwire ...)");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("not ready: missing CAP_NET_ADMIN"),
        "{}",
        table.stdout
    );
}

#[test]
fn doctor_as_root_without_cap_net_admin_tries_and_reports_each_refusal() {
    require_root();
    let run = output(Command::new("setpriv").args([
        "--inh-caps=-net_admin",
        "--bounding-set=-net_admin",
        BIN,
        "doctor",
        "-j",
    ]));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(item(&report, "CAP_NET_ADMIN")["ok"], false);
    assert_eq!(item(&report, "CAP_SYS_ADMIN")["ok"], true);
    // The namespace is made (CAP_SYS_ADMIN), then the kernel refuses the veth.
    assert_eq!(item(&report, "network namespaces")["ok"], true);
    let veth = item(&report, "veth");
    assert_eq!(veth["checked"], false);
    assert_eq!(
        veth["detail"],
        "not checked: creating a veth pair: Operation not permitted (needs CAP_NET_ADMIN)"
    );
    for name in ["tun/tap", "vxlan"] {
        let feature = item(&report, name);
        assert_eq!(feature["checked"], false, "{feature:#}");
        assert_eq!(feature["fix"], "run as root (sudo patchwire ...)");
    }
    // bpf() needs CAP_BPF, or CAP_SYS_ADMIN: this process has both.
    assert_eq!(item(&report, "bpf() syscall")["ok"], true);
}

// ---------------------------------------------------------------------------------------------
// Top-level help
// ---------------------------------------------------------------------------------------------

/// `patchwire --help` teaches every room: wires and mirrors, but also captures, labs, VMs and
/// the CNI plugin, each with an example that runs.
#[test]
fn top_level_help_has_lab_capture_and_cni_examples() {
    let help = patchwire(&["--help"]).ok().stdout.clone();
    for line in [
        "Labs from a YAML file:",
        "  patchwire up lab.yaml",
        "  patchwire show --lab lab.yaml -s",
        "  patchwire capture --lab lab.yaml -w lab.pcapng",
        "  patchwire capture lab1:eth1 lab2:eth1 -w both.pcapng -a duration:60",
        "  {\"type\": \"patchwire-cni\"} after bridge or ptp in a CNI conflist (docs/cni.md)",
    ] {
        assert!(
            help.lines().any(|l| l == line),
            "--help lacks {line:?}:\n{help}"
        );
    }
    assert!(help.contains("man 5 patchwire-lab"), "{help}");
    // Each example's command parses (up to clap's own checks: files need not exist).
    for example in help
        .lines()
        .filter_map(|l| l.strip_prefix("  patchwire "))
        .filter(|l| !l.contains('|') && !l.contains('>'))
    {
        let run = output(Command::new("sh").args(["-c", &format!("{BIN} {example} --help")]));
        assert_eq!(run.code, 0, "patchwire {example}: {}", run.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// The house: docs/design.md's floors and the imports in src/ agree
// ---------------------------------------------------------------------------------------------

/// The ```floors block of docs/design.md: room name -> floor.
fn floors_of_the_design() -> std::collections::BTreeMap<String, u32> {
    let design =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md"))
            .expect("reading docs/design.md");
    let block = design
        .split("```floors\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/design.md has a ```floors block");
    let mut floors = std::collections::BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let floor: u32 = words.next().unwrap().parse().expect("a floor number first");
        for room in words {
            assert!(
                floors.insert(room.to_string(), floor).is_none(),
                "{room} is on two floors"
            );
        }
    }
    floors
}

/// The room a source file belongs to: its first path component under src/ (`main.rs` and
/// `cli/` are the binary, `cli`).
fn room_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let room = first.trim_end_matches(".rs").to_string();
    if room == "main" { "cli".into() } else { room }
}

/// The rooms a line of code names: `crate::ROOM`, and in the binary `patchwire::ROOM` and
/// `patchwire::{A, B::…}`. Comments (whole-line and trailing) are not code.
fn rooms_named(line: &str, binary: bool) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let code = code.split(" // ").next().unwrap();
    let mut rooms = Vec::new();
    let prefixes: &[&str] = if binary {
        &["crate::", "patchwire::"]
    } else {
        &["crate::"]
    };
    for prefix in prefixes {
        for (at, _) in code.match_indices(prefix) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // part of a longer path or name
            }
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // top-level names of a use group: split at depth-0 commas
                let (mut depth, mut start) = (0, 0);
                let mut names = Vec::new();
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            names.push(&group[start..i]);
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            names.push(&group[start..i]);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                for name in names {
                    let head: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !head.is_empty() && head != "self" {
                        rooms.push(head);
                    }
                }
            } else {
                let head: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    rooms.push(head);
                }
            }
        }
    }
    rooms
}

#[test]
fn the_floors_rule_reads_paths_as_rust_writes_them() {
    assert_eq!(rooms_named("use crate::wire::{self, Op};", false), ["wire"]);
    assert_eq!(
        rooms_named(
            "    let x = crate::netns::Netns::open(n)?; // see crate::lab",
            false
        ),
        ["netns"]
    );
    assert_eq!(
        rooms_named("/// see [`crate::hub`]", false),
        Vec::<String>::new()
    );
    assert_eq!(
        rooms_named("use patchwire::{impair, mirror::Spec, wire};", true),
        ["impair", "mirror", "wire"]
    );
    assert_eq!(
        rooms_named("use patchwire::lab;", false),
        Vec::<String>::new()
    );
    assert_eq!(
        rooms_named("my_crate::lab::x()", false),
        Vec::<String>::new()
    );
}

#[test]
fn no_room_imports_up_or_sideways_as_docs_design_md_draws_the_floors() {
    let floors = floors_of_the_design();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut wrong = Vec::new();
    let mut rooms_seen = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new("lib.rs") {
            continue;
        }
        let room = room_of(relative);
        rooms_seen.insert(room.clone());
        let Some(&floor) = floors.get(&room) else {
            wrong.push(format!(
                "src/{}: room `{room}` is on no floor of docs/design.md",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for used in rooms_named(line, room == "cli") {
                if used == room {
                    continue;
                }
                match floors.get(&used) {
                    Some(&to) if to < floor => {}
                    Some(&to) => wrong.push(format!(
                        "src/{}:{}: `{room}` (floor {floor}) uses `{used}` (floor {to})",
                        relative.display(),
                        number + 1
                    )),
                    None => wrong.push(format!(
                        "src/{}:{}: `{used}` is on no floor of docs/design.md",
                        relative.display(),
                        number + 1
                    )),
                }
            }
        }
    }
    for room in floors.keys().filter(|r| !rooms_seen.contains(*r)) {
        wrong.push(format!(
            "docs/design.md places `{room}`, which src/ does not have"
        ));
    }
    assert!(
        wrong.is_empty(),
        "the house and its drawing disagree:\n{}",
        wrong.join("\n")
    );
    // The rule saw the house: every floor but the ground one holds a room that uses another.
    assert!(
        rooms_seen.len() >= 20,
        "read only {} rooms",
        rooms_seen.len()
    );
}
