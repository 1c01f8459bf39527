//! The examples in examples/, run as a user runs them (`cargo run --example NAME`, as root):
//! each must exit 0, say what it did, and leave the host as it found it (its labs live in
//! private namespaces that vanish with it).

mod common;
use common::{require_root, run};

use std::process::Command;

/// Runs `cargo run --quiet --example NAME` and returns its stdout; panics with its output if it
/// fails, or if the host's interfaces or named namespaces differ afterwards.
fn run_example(name: &str) -> String {
    require_root();
    let before = host();
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "example {name} failed ({}):\n{stdout}{stderr}",
        output.status
    );
    assert_eq!(host(), before, "example {name} left something behind");
    stdout
}

/// What an example must not change: the host's interfaces and the namespaces under /run/netns.
fn host() -> String {
    let links: Vec<String> = run("ip", &["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(str::to_string)
        .collect();
    format!("{}\n{}", links.join(" "), run("ip", &["netns", "list"]))
}

fn assert_lines(name: &str, stdout: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            stdout.lines().any(|l| l == *line),
            "example {name} did not print {line:?}:\n{stdout}"
        );
    }
}

#[test]
fn wire_example_links_shows_probes_and_unlinks() {
    let stdout = run_example("wire");
    assert_lines(
        "wire",
        &stdout,
        &[
            "linked left <-> right (8 kernel changes)",
            "show: left <-> right: ok",
            "probe host-l -> host-r: 13/13 kinds of frame arrived unchanged",
            "probe host-r -> host-l: 13/13 kinds of frame arrived unchanged",
            "unlinked left <-> right",
            "show: no wires left",
        ],
    );
}

#[test]
fn mirror_example_adds_counts_and_deletes() {
    let stdout = run_example("mirror");
    assert_lines(
        "mirror",
        &stdout,
        &[
            "added mirror web: src (in, out) -> mon",
            "host sent 5 frames into src; analyzer received 5 copies",
            "show: mirror web -> mon: ok, 5 copies (300 bytes), 0 dropped",
            "deleted mirror web (2 filters)",
            "show: no mirrors left",
        ],
    );
}

#[test]
fn tap_example_adds_wires_and_deletes_a_tap() {
    let stdout = run_example("tap");
    assert_lines(
        "tap",
        &stdout,
        &[
            "added tap tap0 (mtu 1500, persistent: true)",
            "linked tap0 <-> eth1",
            "show: eth1 <-> tap0: degraded",
            "deleted tap tap0 and its wire tap0 <-> eth1",
            "show: no wires left, no tap0",
        ],
    );
}
