//! A lab file's `impair:` and `state: down` (issue 21), privileged, with real frames: loss on
//! one direction of a link within its binomial bound (±4.5σ over 10,000 frames, as
//! tests/impair.rs) and the other direction untouched; the file's loss changed and `up` run
//! again changes it in place (ports' and nodes' ifindexes and carrier counters kept); what
//! `patchwire impair` sets outside the file is a difference `plan` lists and `up` removes;
//! `state: down` takes carrier from both nodes and its removal gives it back; a delay is
//! refused naming sch_netem where a real probe finds no netem; a change whose program step
//! fails in the kernel leaves the panel's qdiscs and filters as they were.

mod common;

use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use common::frames::{assert_binomial, seq_of};
use common::labfile::LabFile as Lab;
use common::{TestNs, frames, patchwire};

/// A lab node's namespace as a TestNs that is not deleted on drop (`down` removes it).
fn node(lab: &str, name: &str) -> ManuallyDrop<TestNs> {
    ManuallyDrop::new(TestNs {
        name: format!("{lab}-{name}"),
    })
}

/// Sends frames 0..n out of `from`'s eth1 and counts the distinct ones, byte for byte as
/// sent, read on `to`'s eth1 (see [`frames::exchange`]).
fn exchange(from: &TestNs, to: &TestNs, n: u32) -> u64 {
    let got = frames::exchange(from, "eth1", to, "eth1", n);
    let seen: std::collections::BTreeSet<u32> = got.iter().filter_map(|f| seq_of(f)).collect();
    seen.len() as u64
}

/// Lab files of this test file: `pwt-PID-fN` (see [`LabFile`]).
impl Lab {
    /// `plan -j`: the changes.
    fn plan(&self) -> (serde_json::Value, String) {
        let run = patchwire(&["-j", "plan", self.path()]);
        run.ok();
        (run.json(), run.stderr.clone())
    }
}

const TWO: &str = "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n  links:\n    \
                   - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n";

/// (ifindex, carrier_changes) of an interface in a namespace.
fn state(netns: &str, dev: &str) -> (String, String) {
    let read = |what: &str| {
        common::run(
            "ip",
            &[
                "netns",
                "exec",
                netns,
                "cat",
                &format!("/sys/class/net/{dev}/{what}"),
            ],
        )
        .trim()
        .to_string()
    };
    (read("ifindex"), read("carrier_changes"))
}

fn states(lab: &Lab) -> Vec<(String, String)> {
    let panel = lab.panel();
    let (r1, r2) = (format!("{}-r1", lab.name), format!("{}-r2", lab.name));
    vec![
        state(&panel, "r1.eth1"),
        state(&panel, "r2.eth1"),
        state(&r1, "eth1"),
        state(&r2, "eth1"),
    ]
}

/// One field of each impaired direction `impair show -j --lab` lists, by port.
fn directions(lab: &Lab, field: &str) -> Vec<(String, String)> {
    let shown = patchwire(&["-j", "impair", "show", "--lab", lab.path()])
        .ok()
        .json();
    shown["directions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["port"].as_str().unwrap().into(),
                d[field].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// What is set on each impaired direction, in words.
fn shown(lab: &Lab) -> Vec<(String, String)> {
    directions(lab, "summary")
}

/// Who set each (`file` or `command`).
fn set_by(lab: &Lab) -> Vec<(String, String)> {
    directions(lab, "set_by")
}

const FILE_IS_TRUTH: &str = "note: impairments and pulled cables are the file's: what patchwire \
                             impair, cut or mend changed outside it is listed as a difference, \
                             and up puts the file's back (the file is the truth)";

#[test]
fn file_loss_acts_on_one_direction_changes_in_place_and_the_file_is_the_truth() {
    let lab = Lab::new(
        "f",
        &format!("{TWO}      impair:\n        r1:eth1: {{loss: 10%}}\n"),
    );
    let (plan, _) = lab.plan();
    assert!(
        plan.as_array()
            .unwrap()
            .iter()
            .any(|c| c["change"] == "impair"
                && c["endpoint"] == "r1:eth1"
                && c["impairment"] == "loss 10%"
                && c["was"].is_null()),
        "{plan}"
    );
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(shown(&lab), [("r1.eth1".into(), "loss 10%".into())]);
    let (r1, r2) = (node(&lab.name, "r1"), node(&lab.name, "r2"));
    let n = 10_000;
    assert_binomial(
        "r1 -> r2 at 10%",
        u64::from(n) - exchange(&r1, &r2, n),
        u64::from(n),
        10.0,
    );
    assert_eq!(exchange(&r2, &r1, n), u64::from(n), "r2 -> r1 is untouched");
    // Nothing left to do.
    assert_eq!(lab.plan().0, serde_json::json!([]));

    // The file's loss changed: in place.
    let before = states(&lab);
    lab.write(&format!(
        "{TWO}      impair:\n        r1:eth1: {{loss: 1%}}\n"
    ));
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([{"change": "impair", "port": "r1.eth1", "endpoint": "r1:eth1",
            "impairment": "loss 1%", "was": "loss 10%"}])
    );
    // The file itself changed it (the port's record says up set it): nothing done outside.
    assert!(!notes.contains(FILE_IS_TRUTH), "{notes}");
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(
        before,
        states(&lab),
        "ifindexes or carrier counters changed"
    );
    assert_binomial(
        "r1 -> r2 at 1%",
        u64::from(n) - exchange(&r1, &r2, n),
        u64::from(n),
        1.0,
    );

    // Set outside the file: a difference, and up puts the file's back.
    patchwire(&["impair", "--lab", lab.path(), "r2:eth1", "--loss", "50%"]).ok();
    patchwire(&["impair", "--lab", lab.path(), "r1:eth1", "--corrupt", "5%"]).ok();
    assert_eq!(
        set_by(&lab),
        [
            ("r1.eth1".into(), "command".into()),
            ("r2.eth1".into(), "command".into())
        ]
    );
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([
            {"change": "unimpair", "port": "r2.eth1", "endpoint": "r2:eth1", "was": "loss 50%",
                "by_command": true},
            {"change": "impair", "port": "r1.eth1", "endpoint": "r1:eth1",
                "impairment": "loss 1%", "was": "loss 1% corrupt 5%", "by_command": true},
        ])
    );
    assert!(notes.contains(FILE_IS_TRUTH), "{notes}");
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    for line in [
        "- impair what r2:eth1 sends (r2.eth1): loss 50% (set by patchwire impair, not in the file)",
        "~ impair what r1:eth1 sends (r1.eth1): loss 1% corrupt 5% (set by patchwire impair) -> \
         loss 1%",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(shown(&lab), [("r1.eth1".into(), "loss 1%".into())]);
    assert_eq!(set_by(&lab), [("r1.eth1".into(), "file".into())]);
    assert_eq!(
        before,
        states(&lab),
        "ifindexes or carrier counters changed"
    );
    assert_eq!(exchange(&r2, &r1, 2_000), 2_000, "r2 -> r1 untouched again");

    // Removed from the file: removed from the port, said as the file's own change.
    lab.write(TWO);
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([{"change": "unimpair", "port": "r1.eth1", "endpoint": "r1:eth1",
            "was": "loss 1%"}])
    );
    assert!(!notes.contains(FILE_IS_TRUTH), "{notes}");
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(
        text.contains("- impair what r1:eth1 sends (r1.eth1): loss 1% (no longer in the file)"),
        "{text}"
    );
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(shown(&lab), []);
    assert!(
        !common::run(
            "tc",
            &[
                "-n",
                &lab.panel(),
                "filter",
                "show",
                "dev",
                "r1.eth1",
                "ingress"
            ]
        )
        .contains("pw-impair")
    );
    assert_eq!(before, states(&lab));
}

fn wait_carrier(netns: &str, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = common::ip_in(netns, "-o link show dev eth1");
        if line.contains("NO-CARRIER") != want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{netns} eth1: carrier {}: {line}",
            if want { "never came" } else { "stayed" }
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn state_down_pulls_the_cable_until_the_file_puts_it_back() {
    let lab = Lab::new("f", &format!("{TWO}      state: down\n"));
    let (r1, r2) = (format!("{}-r1", lab.name), format!("{}-r2", lab.name));
    // A new lab: nothing outside the file to speak of.
    assert!(!lab.plan().1.contains(FILE_IS_TRUTH));
    patchwire(&["up", lab.path()]).ok();
    wait_carrier(&r1, false);
    wait_carrier(&r2, false);
    assert_eq!(
        lab.plan().0,
        serde_json::json!([]),
        "up twice changes nothing"
    );
    // Mended outside the file: plan lists the cut again, up pulls it again.
    patchwire(&["mend", "--lab", lab.path(), "r1:eth1"]).ok();
    wait_carrier(&r1, true);
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([{"change": "cut", "ports": ["r1.eth1", "r2.eth1"],
            "endpoints": ["r1:eth1", "r2:eth1"]}])
    );
    assert!(notes.contains(FILE_IS_TRUTH), "{notes}");
    patchwire(&["up", lab.path()]).ok();
    wait_carrier(&r1, false);
    wait_carrier(&r2, false);
    // Removed from the file: carrier back, the ports kept; the file's own change (its pull
    // is recorded as the file's), so nothing to say about commands.
    let ifindex = state(&lab.panel(), "r1.eth1").0;
    lab.write(TWO);
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([{"change": "mend", "ports": ["r1.eth1", "r2.eth1"],
            "endpoints": ["r1:eth1", "r2:eth1"]}])
    );
    assert!(!notes.contains(FILE_IS_TRUTH), "{notes}");
    patchwire(&["up", lab.path()]).ok();
    wait_carrier(&r1, true);
    wait_carrier(&r2, true);
    assert_eq!(ifindex, state(&lab.panel(), "r1.eth1").0);
    assert_eq!(lab.plan().0, serde_json::json!([]));
    // Cut outside the file: plan lists the mend, said to be patchwire cut's.
    patchwire(&["cut", "--lab", lab.path(), "r2:eth1"]).ok();
    wait_carrier(&r1, false);
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([{"change": "mend", "ports": ["r1.eth1", "r2.eth1"],
            "endpoints": ["r1:eth1", "r2:eth1"], "by_command": true}])
    );
    assert!(notes.contains(FILE_IS_TRUTH), "{notes}");
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(
        text.contains(
            "~ mend r1:eth1 <-> r2:eth1: cut by patchwire cut; the file does not pull this \
             cable, so its carrier comes back"
        ),
        "{text}"
    );
    patchwire(&["up", lab.path()]).ok();
    wait_carrier(&r1, true);
    wait_carrier(&r2, true);
}

#[test]
fn a_delay_in_the_file_needs_netem_found_by_a_real_probe() {
    let lab = Lab::new(
        "f",
        &format!("{TWO}      impair:\n        both: {{delay: 10ms, loss: 1%}}\n"),
    );
    let has_netem = patchwire::impair::netem_available().unwrap();
    if has_netem {
        patchwire(&["up", lab.path()]).ok();
        assert!(
            common::run(
                "tc",
                &["-n", &lab.panel(), "qdisc", "show", "dev", "r2.eth1"]
            )
            .contains("netem")
        );
        return;
    }
    let refusal = |at: &str, endpoints: &str| {
        format!(
            "{}:{at}: the delay, jitter or reordering of {endpoints} needs the netem qdisc, and \
             this kernel has no sch_netem (load it with `modprobe sch_netem`, or use a kernel \
             that builds it: every distribution kernel does); loss, corruption, duplication and \
             rate work without it",
            lab.path()
        )
    };
    // At the link's `impair` key.
    let message = refusal("8:7", "r1:eth1, r2:eth1");
    patchwire(&["plan", lab.path()]).fails_with(&message);
    patchwire(&["up", lab.path()]).fails_with(&message);
    // One line per link; a delay from the defaults is refused at `defaults.impair`.
    lab.write(&format!(
        "defaults: {{impair: {{jitter: 0}}}}\n{TWO}      impair:\n        r1:eth1: {{delay: 50ms}}\n    \
         - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n      impair: {{both: {{reorder: 1%, delay: 5ms}}}}\n"
    ));
    let message = format!(
        "{}\n{}",
        refusal("9:7", "r1:eth1"),
        refusal("12:7", "r1:eth2, r2:eth2")
    );
    patchwire(&["plan", lab.path()]).fails_with(&message);
    patchwire(&["up", lab.path()]).fails_with(&message);
    lab.write(&format!("defaults: {{impair: {{delay: 1ms}}}}\n{TWO}"));
    patchwire(&["plan", lab.path()]).fails_with(&refusal("1:12", "r1:eth1, r2:eth1"));
    // Nothing was made.
    assert!(
        !common::run("ip", &["netns", "list"]).contains(&lab.panel()),
        "up made the panel before refusing"
    );
}

#[test]
fn a_hub_member_is_impaired_and_pulled_from_the_file_alone() {
    let lab = Lab::new(
        "f",
        "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    sw: {kind: hub}\n  links:\n    \
         - endpoints: [\"r1:eth1\", \"sw:p1\"]\n      impair: {both: {loss: 50%}}\n    \
         - endpoints: [\"r2:eth1\", \"sw:p2\"]\n",
    );
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(shown(&lab), [("r1.eth1".into(), "loss 50%".into())]);
    let (r1, r2) = (node(&lab.name, "r1"), node(&lab.name, "r2"));
    let n = 10_000;
    assert_binomial(
        "r1 -> hub at 50%",
        u64::from(n) - exchange(&r1, &r2, n),
        u64::from(n),
        50.0,
    );
    assert_eq!(exchange(&r2, &r1, 2_000), 2_000, "r2 -> r1 is untouched");
    assert_eq!(lab.plan().0, serde_json::json!([]));
    // The member's cable pulled: that member alone loses carrier.
    lab.write(
        "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    sw: {kind: hub}\n  links:\n    \
         - endpoints: [\"r1:eth1\", \"sw:p1\"]\n      state: down\n    \
         - endpoints: [\"r2:eth1\", \"sw:p2\"]\n",
    );
    let (plan, _) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([
            {"change": "unimpair", "port": "r1.eth1", "endpoint": "r1:eth1", "was": "loss 50%"},
            {"change": "cut", "ports": ["r1.eth1"], "endpoints": ["r1:eth1"]},
        ])
    );
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(
        text.contains("~ cut r1:eth1 (state: down): r1:eth1 sees NO-CARRIER\n"),
        "{text}"
    );
    patchwire(&["up", lab.path()]).ok();
    wait_carrier(&r1.name, false);
    assert!(!common::ip_in(&r2.name, "-o link show dev eth1").contains("NO-CARRIER"));
    assert_eq!(
        lab.plan().0,
        serde_json::json!([]),
        "up twice changes nothing"
    );
    assert_eq!(shown(&lab), []);
}

/// A lab's `up` changing an impairment whose program step fails in the kernel
/// (`PATCHWIRE_IMPAIR_FAULT=program`): the rate's qdisc step is undone, the panel's qdiscs and
/// filters are exactly as before, and the next `up` without the fault sets it.
#[test]
fn a_failed_program_step_leaves_the_panel_as_it_was() {
    let lab = Lab::new(
        "r",
        &format!("{TWO}      impair:\n        r1:eth1: {{loss: 5%, rate: 10mbit}}\n"),
    );
    patchwire(&["up", lab.path()]).ok();
    let panel = ManuallyDrop::new(TestNs { name: lab.panel() });
    let before = panel.snapshot();
    lab.write(&format!(
        "{TWO}      impair:\n        r1:eth1: {{loss: 10%, rate: 20mbit}}\n"
    ));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["up", lab.path()])
        .env("PATCHWIRE_IMPAIR_FAULT", "program")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "impairing the frames r1:eth1 sends (r1.eth1): updating the record of r1.eth1's \
             impairment: No such device"
        ),
        "{stderr}"
    );
    assert_eq!(
        panel.snapshot(),
        before,
        "the failed change left something behind"
    );
    assert_eq!(
        shown(&lab),
        [("r1.eth1".into(), "loss 5% rate 10mbit burst 16384b".into())]
    );
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(
        shown(&lab),
        [("r1.eth1".into(), "loss 10% rate 20mbit burst 25000b".into())]
    );
}

/// `plan -j`'s impairment changes (none when the file's zeros mean nothing).
fn impair_changes(plan: &serde_json::Value) -> Vec<serde_json::Value> {
    plan.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "impair" || c["change"] == "unimpair")
        .cloned()
        .collect()
}

/// A zero means "nothing" in `defaults.impair` as in a link's own `impair:`: nothing refused,
/// nothing installed (no tbf of rate 0 on the exit, no gemodel of 0%).
#[test]
fn zeros_in_the_defaults_and_in_a_link_mean_nothing() {
    let lab = Lab::new("z", TWO);
    for zero in [
        "rate: 0",
        "loss: 0",
        "corrupt: 0",
        "reorder: 0",
        "duplicate: 0",
        "jitter: 0",
        "delay: 0",
        "loss-burst: 0",
        "rate: 0, loss: 0, delay: 0, jitter: 0, corrupt: 0",
        "loss: 0, loss-burst: 0",
    ] {
        lab.write(&format!("defaults: {{impair: {{{zero}}}}}\n{TWO}"));
        let (plan, notes) = lab.plan();
        assert_eq!(
            impair_changes(&plan),
            Vec::<serde_json::Value>::new(),
            "{zero}: {notes}"
        );
        lab.write(&format!(
            "{TWO}      impair:\n        r1:eth1: {{{zero}}}\n        both: {{{zero}}}\n"
        ));
        let (plan, notes) = lab.plan();
        assert_eq!(
            impair_changes(&plan),
            Vec::<serde_json::Value>::new(),
            "{zero}: {notes}"
        );
    }
    // Over a default: the link's zero removes the default's rate, the defaults' zero nothing.
    lab.write(&format!(
        "defaults: {{impair: {{rate: 0, loss: 0}}}}\n{TWO}      impair:\n        r1:eth1: {{rate: 0}}\n    \
         - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n"
    ));
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(shown(&lab), []);
    for dev in ["r1.eth1", "r2.eth1", "r1.eth2", "r2.eth2"] {
        let qdiscs = common::run("tc", &["-n", &lab.panel(), "qdisc", "show", "dev", dev]);
        assert!(!qdiscs.contains("tbf"), "{dev}: {qdiscs}");
    }
    assert_eq!(lab.plan().0, serde_json::json!([]));
}

/// A rate's bucket holds at least one frame of the link: the default grows with the MTU, a
/// burst given smaller is refused by `plan` and by `up` before anything is made, at its place.
#[test]
fn a_burst_smaller_than_a_frame_is_refused_and_the_default_holds_one() {
    let lab = Lab::new(
        "b",
        &format!("{TWO}      impair:\n        r1:eth1: {{rate: 1mbit, burst: 1b}}\n"),
    );
    let message = format!(
        "{}:9:39: impair: r1:eth1: a burst of 1 bytes is less than one frame of this link (1514 \
         bytes: mtu 1500 with its Ethernet header): tbf would drop every full-size frame",
        lab.path()
    );
    patchwire(&["plan", lab.path()]).fails_with(&message);
    patchwire(&["up", lab.path()]).fails_with(&message);
    assert!(
        !common::run("ip", &["netns", "list"]).contains(&lab.panel()),
        "up made the panel before refusing"
    );
    lab.write(&format!(
        "{TWO}      mtu: 65535\n      impair:\n        r1:eth1: {{rate: 1mbit}}\n"
    ));
    let (plan, _) = lab.plan();
    assert_eq!(
        impair_changes(&plan),
        [
            serde_json::json!({"change": "impair", "port": "r1.eth1", "endpoint": "r1:eth1",
            "impairment": "rate 1mbit burst 65549b"})
        ]
    );
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(
        shown(&lab),
        [("r1.eth1".into(), "rate 1mbit burst 65549b".into())]
    );
    assert_eq!(lab.plan().0, serde_json::json!([]));
}

/// A file's mistakes in `impair:` and `flap:` are named at their place, in the file's words.
#[test]
fn mistakes_in_impair_and_flap_are_named_at_their_place() {
    let lab = Lab::new("m", TWO);
    let refused = |body: String, message: &str| {
        lab.write(&body);
        patchwire(&["plan", lab.path()]).fails_with(&format!("{}:{message}", lab.path()));
    };
    refused(
        format!(
            "{TWO}      impair:\n        r1:eth1: {{loss: 1%}}\n        r1:eth1: {{loss: 2%}}\n"
        ),
        "10:9: r1:eth1 appears twice in impair",
    );
    refused(
        format!("{TWO}      impair:\n        r1:eth1: {{loss: 1%, loss: 2%}}\n"),
        "9:29: key `loss` appears twice in r1:eth1's impairment",
    );
    refused(
        format!("{TWO}      flap: {{down: 1s, up: 2s, seed: 99999999999999999999999}}\n"),
        "8:38: flap: seed \"99999999999999999999999\" is not a whole number from 0 to \
         18446744073709551615",
    );
    refused(
        format!("{TWO}      flap: {{down: 1s-, up: 2s}}\n"),
        "8:20: flap: down: \"1s-\" is a range without its upper bound: give both ends, like \
         1s-3s",
    );
}

/// Changing a link's `datapath:` hooks its ports again: an impairment equal to the file's is
/// no change to list (nor a note of changes made outside the file), and it still holds after.
#[test]
fn a_datapath_change_keeps_an_equal_impairment_unlisted() {
    let imp = "      impair:\n        r1:eth1: {loss: 10%, rate: 10mbit}\n";
    let lab = Lab::new("d", &format!("{TWO}{imp}"));
    patchwire(&["up", lab.path()]).ok();
    lab.write(&format!("{TWO}      datapath: ebpf\n{imp}"));
    let (plan, notes) = lab.plan();
    assert_eq!(
        plan,
        serde_json::json!([{"change": "wire", "a": "r1.eth1", "b": "r2.eth1",
            "endpoints": ["r1:eth1", "r2:eth1"], "datapath": "ebpf"}])
    );
    assert!(!notes.contains(FILE_IS_TRUTH), "{notes}");
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(
        shown(&lab),
        [("r1.eth1".into(), "loss 10% rate 10mbit burst 16384b".into())]
    );
    assert_eq!(lab.plan().0, serde_json::json!([]));
}

/// `impair`, `cut`, `mend` and `impair show` with `--lab` find the lab by the file's name, as
/// `plan` and `up` do: a copy of the file brought up is the same lab.
#[test]
fn a_copy_of_the_file_finds_the_running_lab() {
    let lab = Lab::new("c", TWO);
    patchwire(&["up", lab.path()]).ok();
    let copy = Lab {
        name: lab.name.clone(),
        path: lab.path.with_extension("copy.yaml"),
        hosts: Vec::new(),
        extra: Vec::new(),
    };
    std::fs::copy(&lab.path, &copy.path).unwrap();
    let copy = ManuallyDrop::new(copy);
    patchwire(&["impair", "--lab", copy.path(), "r1:eth1", "--loss", "5%"]).ok();
    assert_eq!(shown(&copy), [("r1.eth1".into(), "loss 5%".into())]);
    patchwire(&["cut", "--lab", copy.path(), "r1:eth1"]).ok();
    wait_carrier(&format!("{}-r2", lab.name), false);
    patchwire(&["mend", "--lab", copy.path(), "r1:eth1"]).ok();
    wait_carrier(&format!("{}-r2", lab.name), true);
    // A file whose lab does not run: named with its file.
    let other = copy.path.with_extension("other.yaml");
    std::fs::write(&other, TWO.replace("LAB", &format!("{}x", lab.name))).unwrap();
    patchwire(&["impair", "show", "--lab", other.to_str().unwrap()]).fails_with(&format!(
        "lab {}x (from {}) does not run on this host (patchwire show --labs lists them; \
         patchwire up {} starts it)",
        lab.name,
        other.display(),
        other.display()
    ));
    let _ = std::fs::remove_file(other);
    let _ = std::fs::remove_file(&copy.path);
}

/// `show --lab` and `show -n PANEL` say a pulled cable is cut, and by whom: `state: down` is
/// what the file asks (health ok, `cut_by: file`), `patchwire cut` a difference (degraded, with
/// the command that puts it back) — not a hold of a watch that no longer runs.
#[test]
fn show_says_a_cut_cable_is_cut_and_by_whom() {
    let lab = Lab::new(
        "s",
        &format!("{TWO}      state: down\n    - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n"),
    );
    patchwire(&["up", lab.path()]).ok();
    patchwire(&["cut", "--lab", lab.path(), "r2:eth2"]).ok();
    let shown = patchwire(&["-j", "show", "--lab", lab.path()]).ok().json();
    let fields = |i: usize| {
        (
            shown[i]["health"].clone(),
            shown[i]["cable"].clone(),
            shown[i]["cut_by"].clone(),
            shown[i]["problems"].clone(),
        )
    };
    assert_eq!(
        fields(0),
        (
            "ok".into(),
            "cut".into(),
            "file".into(),
            serde_json::json!([])
        )
    );
    let mend = format!(
        "r1:eth2, r2:eth2 cut by patchwire cut: patchwire mend --lab {0} r1:eth2 puts it back \
         (or patchwire up {0})",
        lab.path()
    );
    assert_eq!(
        fields(1),
        (
            "degraded".into(),
            "cut".into(),
            "command".into(),
            serde_json::json!([mend])
        )
    );
    let text = patchwire(&["show", "--lab", lab.path()])
        .ok()
        .stdout
        .clone();
    assert!(
        text.contains("  ok\n    x cut (state: down in the file)\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  degraded\n    ! {mend}\n")),
        "{text}"
    );
    assert!(!text.contains("held down"), "{text}");
    let panel = lab.panel();
    let plain = patchwire(&["-j", "-n", &panel, "show"]).ok().json();
    assert_eq!(
        plain[0]["problems"],
        serde_json::json!([
            format!(
                "r1.eth1 is down: its cable is cut (patchwire -n {panel} mend r1.eth1 puts it back)"
            ),
            format!(
                "r2.eth1 is down: its cable is cut (patchwire -n {panel} mend r2.eth1 puts it back)"
            ),
        ])
    );
}

/// `plan` says who loses carrier when the file pulls a cable: both ends of a wire, every
/// member of a hub segment.
#[test]
fn plan_says_who_a_pulled_cable_takes_carrier_from() {
    let lab = Lab::new(
        "p",
        &format!(
            "{TWO}      state: down\n    - endpoints: [\"r1:eth2\", \"r2:eth2\", \"r2:eth3\"]\n      \
             state: down\n"
        ),
    );
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(
        text.contains("~ cut r1:eth1 <-> r2:eth1 (state: down): both ends see NO-CARRIER\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "~ cut r1:eth2, r2:eth2, r2:eth3 (state: down): every member sees NO-CARRIER\n"
        ),
        "{text}"
    );
}

/// A hub node's member pulled by the file: that member's link is cut (health ok), the other
/// members' links say nothing of it.
#[test]
fn show_says_a_hub_members_cut_on_its_own_link_only() {
    let lab = Lab::new(
        "u",
        "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    sw: {kind: hub}\n  links:\n    \
         - endpoints: [\"r1:eth1\", \"sw:p1\"]\n      state: down\n    \
         - endpoints: [\"r2:eth1\", \"sw:p2\"]\n",
    );
    patchwire(&["up", lab.path()]).ok();
    let shown = patchwire(&["-j", "show", "--lab", lab.path()]).ok().json();
    let fields = |i: usize| {
        (
            shown[i]["health"].clone(),
            shown[i]["cable"].clone(),
            shown[i]["cut_by"].clone(),
            shown[i]["problems"].clone(),
        )
    };
    let none = serde_json::Value::Null;
    assert_eq!(
        fields(0),
        (
            "ok".into(),
            "cut".into(),
            "file".into(),
            serde_json::json!([])
        )
    );
    assert_eq!(
        fields(1),
        ("ok".into(), none.clone(), none, serde_json::json!([]))
    );
}

/// `impair --lab FILE NODE:IF` naming nothing is a usage error; a change that leaves nothing
/// set removes the impairment, so `plan` has no empty one to list as a difference forever;
/// refusals name endpoints, not panel ports; `impair show` marks what a command set outside
/// the file (its `set_by` in -j), and leaves the file's unmarked.
#[test]
fn impair_in_a_lab_removes_what_is_left_with_nothing_and_speaks_in_endpoints() {
    let lab = Lab::new(
        "n",
        &format!("{TWO}      impair:\n        r2:eth1: {{loss: 1%}}\n"),
    );
    patchwire(&["up", lab.path()]).ok();
    let file = lab.path();
    let run = patchwire(&["impair", "--lab", file, "r1:eth1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: impair r1:eth1: no impairment given: name what to set (--loss, --loss-burst, \
             --corrupt, --duplicate, --delay, --jitter, --distribution, --reorder, --rate, \
             --burst; 0 removes one) or --clear to remove them all; patchwire impair show --lab \
             {file} lists what is set\n"
        )),
        "{}",
        run.stderr
    );
    let run = patchwire(&["-j", "impair", "--lab", file, "r1:eth1", "--both"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.json()["error"].is_string(), "{}", run.stdout);
    assert_eq!(shown(&lab), [("r2.eth1".into(), "loss 1%".into())]);

    // Set, then zeroed: removed, and the lab is as its file says again.
    patchwire(&["impair", "--lab", file, "r1:eth1", "--loss", "5%"]).ok();
    let text = patchwire(&["impair", "--lab", file, "r1:eth1", "--loss", "0"])
        .ok()
        .stdout
        .clone();
    assert_eq!(
        text,
        "r1:eth1: nothing left set, impairments removed (as --clear does)\n"
    );
    assert_eq!(lab.plan().0, serde_json::json!([]));
    // With --both, the file's direction left with nothing is removed too (a difference now).
    let text = patchwire(&["impair", "--lab", file, "r1:eth1", "--both", "--loss", "0"])
        .ok()
        .stdout
        .clone();
    assert_eq!(
        text,
        "r1:eth1: nothing was impaired (unchanged)\n\
         r2:eth1: nothing left set, impairments removed (as --clear does)\n"
    );
    assert_eq!(shown(&lab), []);
    patchwire(&["up", lab.path()]).ok();

    // A refusal names the endpoints, as the rest of the output does.
    patchwire(&[
        "impair", "--lab", file, "r1:eth1", "--rate", "1mbit", "--burst", "100b",
    ])
    .fails_with(
        "impairing r1:eth1: a burst of 100 bytes is less than one frame of r2:eth1 (1514 \
             bytes with its Ethernet header): tbf would drop every full-size frame",
    );

    // `impair show`: the command's direction marked, the file's not.
    patchwire(&["impair", "--lab", file, "r1:eth1", "--corrupt", "2%"]).ok();
    let text = patchwire(&["impair", "show", "--lab", file])
        .ok()
        .stdout
        .clone();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(
        lines,
        [
            format!(
                "r1:eth1 -> r2:eth1: corrupt 2% (set by patchwire impair: patchwire up {file} \
                 puts the file's back)"
            ),
            "r2:eth1 -> r1:eth1: loss 1%".to_string(),
        ]
    );
    assert_eq!(
        set_by(&lab),
        [
            ("r1.eth1".into(), "command".into()),
            ("r2.eth1".into(), "file".into())
        ]
    );
}

/// A `kind: hub` node's side of a link is in the file but has no panel port: `cut`, `mend`
/// and `impair` with it name the member endpoint to use instead; a hub member's refusal names
/// it as an endpoint.
#[test]
fn a_hub_nodes_side_names_the_member_to_use() {
    let lab = Lab::new(
        "h",
        "name: LAB\ntopology:\n  nodes:\n    h1: {}\n    h2: {}\n    sw: {kind: hub}\n  links:\n    \
         - endpoints: [\"h1:eth1\", \"sw:p1\"]\n    \
         - endpoints: [\"h2:eth1\", \"sw:p2\"]\n",
    );
    patchwire(&["up", lab.path()]).ok();
    let file = lab.path();
    let hub_side = format!(
        "sw:p2 is the hub node's side of its link in {file} (sw is kind: hub, with no port of \
         its own in lab {}): name the member endpoint of that link instead: h2:eth1",
        lab.name
    );
    for command in ["cut", "mend"] {
        patchwire(&[command, "--lab", file, "sw:p2"]).fails_with(&hub_side);
    }
    patchwire(&["impair", "--lab", file, "sw:p2", "--loss", "1%"]).fails_with(&hub_side);
    // Not in the file at all: the endpoints there are.
    patchwire(&["cut", "--lab", file, "sw:p9"]).fails_with(&format!(
        "sw:p9 is no endpoint of lab {} on this host (its endpoints: h1:eth1, h2:eth1)",
        lab.name
    ));
    patchwire(&["impair", "--lab", file, "h1:eth1", "--rate", "1mbit"]).fails_with(
        "h1:eth1 is a hub member: its frames leave by every other member, so a rate or delay \
         has no single port to live on; loss, corruption and duplication work",
    );
    // The member named works.
    patchwire(&["cut", "--lab", file, "h2:eth1"]).ok();
    wait_carrier(&lab.ns("h2"), false);
    patchwire(&["mend", "--lab", file, "h2:eth1"]).ok();
    wait_carrier(&lab.ns("h2"), true);
}

/// A cable the file pulls whose ports existed before and whose cable is in: `mend` leaves no
/// record, so `plan` says both reasons under the cut; a lab made from nothing says neither.
#[test]
fn plan_says_why_a_cable_the_file_pulls_is_in() {
    let pulled = format!("{TWO}    - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n      state: down\n");
    let lab = Lab::new("w", &pulled);
    let why = "    its cable is in: mended outside the file (patchwire mend), or state: down is \
               new in the file\n";
    let cut = "~ cut r1:eth2 <-> r2:eth2 (state: down): both ends see NO-CARRIER\n";
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(text.contains(cut) && !text.contains(why), "{text}");
    patchwire(&["up", lab.path()]).ok();
    // Put back by mend: the cut again, with both reasons.
    patchwire(&["mend", "--lab", lab.path(), "r1:eth2"]).ok();
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(text.contains(&format!("{cut}{why}")), "{text}");
    patchwire(&["up", lab.path()]).ok();
    assert_eq!(lab.plan().0, serde_json::json!([]));
    // state: down new in the file on a cable that is in: the same words.
    lab.write(&format!(
        "{TWO}    - endpoints: [\"r1:eth2\", \"r2:eth2\"]\n"
    ));
    patchwire(&["up", lab.path()]).ok();
    lab.write(&pulled);
    let text = patchwire(&["plan", lab.path()]).ok().stdout.clone();
    assert!(text.contains(&format!("{cut}{why}")), "{text}");
}
