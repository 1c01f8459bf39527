//! `patchwire impair`, `cut` and `mend` as commands (privileged): what each call changes and
//! refuses, all or nothing, under a lock; what `impair show` and the help say; usage errors as
//! JSON. The frames' accuracy is tests/impair.rs'. The wire is `common::impair`'s.

mod common;

use common::impair::*;
use common::{TestNs, patchwire};

/// `patchwire -n W impair ARGS` with the program step made to fail in the kernel
/// (`PATCHWIRE_IMPAIR_FAULT=program`: its last request goes to an interface that cannot exist).
fn impair_failing_at_program(lab: &Lab, args: &[&str]) -> common::Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_patchwire"))
        .args(["-n", &lab.w.name, "impair"])
        .args(args)
        .env("PATCHWIRE_IMPAIR_FAULT", "program")
        .output()
        .expect("run patchwire");
    common::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Applying an impairment is a qdisc step (tbf on the exit) then a program step (the program
/// attached, or its map and record changed on the entry): when the program step fails, the
/// qdisc step is undone and the kernel holds exactly what it held before — a first impairment
/// (nothing left: no tbf, no filter) and a change of one (the old rate and loss back).
#[test]
fn a_failed_program_step_undoes_the_qdisc_step() {
    let _shared = shared();
    let lab = lab();
    let before = lab.w.snapshot();
    impair_failing_at_program(&lab, &["pa", "--rate", "10mbit", "--loss", "5%"])
        .fails_with("attaching the impairment program to pa: No such device");
    assert_eq!(
        lab.w.snapshot(),
        before,
        "a first impairment left something behind"
    );
    assert_eq!(lab.listed("pa").0, None);

    lab.impair(&["pa", "--rate", "10mbit", "--loss", "5%"]);
    let before = lab.w.snapshot();
    assert!(before.contains("\"kind\":\"tbf\""), "{before}");
    impair_failing_at_program(&lab, &["pa", "--rate", "20mbit", "--loss", "10%"])
        .fails_with("updating the record of pa's impairment: No such device");
    assert_eq!(
        lab.w.snapshot(),
        before,
        "a changed impairment was not put back"
    );
    let (listed, _) = lab.listed("pa");
    assert_eq!(
        listed.unwrap()["summary"],
        "loss 5% rate 10mbit burst 16384b"
    );
    // Without the fault, the same change goes through.
    lab.impair(&["pa", "--rate", "20mbit", "--loss", "10%"]);
    assert_ne!(lab.w.snapshot(), before);
}

/// A usage error (exit 2) whose stderr says `message`.
fn usage_error(run: &common::Run, message: &str) {
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains(message), "{}", run.stderr);
}

#[test]
fn a_share_too_small_to_keep_is_refused_and_later_changes_still_work() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    let before = lab.w.snapshot();
    let tiny = "is less than 0.0001%, the smallest share patchwire keeps (one frame in a \
                million): give 0 or at least 0.0001%";
    for (flag, value) in [
        ("--loss", "0.0000001%"),
        ("--corrupt", "0.00001"),
        ("--duplicate", "0.00009%"),
        ("--loss-burst", "0.00000001%/20%"),
        ("--loss-burst", "1%/0.00001%"),
    ] {
        let shown = value.split('/').find(|v| v.starts_with("0.0000")).unwrap();
        usage_error(
            &patchwire(&["-n", w, "impair", "pa", flag, value]),
            &format!("\"{shown}\" {tiny}"),
        );
    }
    assert_eq!(
        before,
        lab.w.snapshot(),
        "refusals leave the kernel as it was"
    );
    // The smallest share is kept and read back as itself; later changes keep working.
    lab.impair(&["pa", "--loss", "0.0001%"]);
    lab.impair(&["pa", "--duplicate", "0.00012%"]);
    let set = lab.impair(&["pa", "--corrupt", "1%"]);
    assert_eq!(
        set["directions"][0]["direction"]["summary"],
        "loss 0.0001% corrupt 1% duplicate 0.0001%"
    );
}

/// Sets the MTU of interfaces (a jumbo cable: 20000).
fn set_mtu(ns: &TestNs, devs: &[&str], mtu: u32) {
    for dev in devs {
        ns.ip(&format!("link set dev {dev} mtu {mtu}"));
    }
}

#[test]
fn the_default_burst_holds_a_full_frame_and_json_shows_it() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    set_mtu(&lab.na, &["a"], 20000);
    set_mtu(&lab.w, &["pa", "pb"], 20000);
    set_mtu(&lab.nb, &["b"], 20000);
    let set = lab.impair(&["pa", "--rate", "1mbit"]);
    let direction = &set["directions"][0]["direction"];
    assert_eq!(direction["summary"], "rate 1mbit burst 20014b");
    // The burst in effect is in JSON whether it was given or not.
    assert_eq!(direction["impairment"]["burst_bytes"], 20014);
    let tbf = lab.w.tc("-j qdisc show dev pb");
    let tbf: serde_json::Value = serde_json::from_str(&tbf).unwrap();
    assert_eq!(tbf[0]["kind"], "tbf", "{tbf}");
    assert_eq!(tbf[0]["options"]["burst"], 20014, "{tbf}");
    // A rate change recomputes the default (it was not given); a burst given is kept.
    let set = lab.impair(&["pa", "--rate", "10mbit"]);
    assert_eq!(
        set["directions"][0]["direction"]["summary"],
        "rate 10mbit burst 20014b"
    );
    let before = lab.w.snapshot();
    patchwire(&["-n", w, "impair", "pa", "--burst", "16384b"]).fails_with(
        "impairing pa: a burst of 16384 bytes is less than one frame of pb (20014 bytes with its \
         Ethernet header): tbf would drop every full-size frame",
    );
    assert_eq!(before, lab.w.snapshot(), "the refusal changed the kernel");
    let set = lab.impair(&["pa", "--burst", "40000b"]);
    assert_eq!(
        set["directions"][0]["direction"]["impairment"]["burst_bytes"],
        40000
    );
}

#[test]
fn both_changes_both_directions_or_neither() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    // pa's frames leave by pb (MTU 1500), pb's by pa (MTU 20000): a 16 KiB burst fits only one.
    set_mtu(&lab.na, &["a"], 20000);
    set_mtu(&lab.w, &["pa"], 20000);
    lab.impair(&["pa", "--loss", "1%"]);
    let before = lab.w.snapshot();
    patchwire(&[
        "-n", w, "impair", "pa", "--both", "--rate", "1mbit", "--burst", "16384b",
    ])
    .fails_with(
        "impairing pb: a burst of 16384 bytes is less than one frame of pa (20014 bytes with its \
         Ethernet header): tbf would drop every full-size frame",
    );
    assert_eq!(before, lab.w.snapshot(), "exit 1 changed a direction");
    assert_eq!(lab.shown("pa")["summary"], "loss 1%");
    assert!(lab.listed("pb").0.is_none());
    let set = lab.impair(&["pa", "--both", "--rate", "1mbit"]);
    let summaries: Vec<&str> = set["directions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["direction"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        ["loss 1% rate 1mbit burst 16384b", "rate 1mbit burst 20014b"]
    );
}

#[test]
fn two_calls_at_once_on_one_port_both_land() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.clone();
    for round in 1..=10 {
        let (loss, corrupt) = (format!("{round}%"), format!("{}%", round + 20));
        let calls: Vec<_> = [("--loss", loss.clone()), ("--corrupt", corrupt.clone())]
            .into_iter()
            .map(|(flag, value)| {
                let w = w.clone();
                std::thread::spawn(move || {
                    patchwire(&["-n", &w, "impair", "pa", flag, &value]).ok();
                })
            })
            .collect();
        for call in calls {
            call.join().unwrap();
        }
        assert_eq!(
            lab.shown("pa")["summary"],
            format!("loss {loss} corrupt {corrupt}"),
            "round {round}"
        );
    }
    // The lock file goes with its last holder.
    assert!(
        !std::fs::read_dir("/run/patchwire")
            .unwrap()
            .flatten()
            .any(|e| {
                let inode = std::fs::metadata(format!("/run/netns/{w}"))
                    .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                    .unwrap_or(0);
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("impair-") && name.ends_with(&format!("-{inode}.lock"))
            }),
        "the impairment lock file was left behind"
    );
}

#[test]
fn impair_show_suggests_commands_that_work() {
    let _timing = shared();
    // A plain wire given with -n: the suggestion carries it.
    let lab = lab();
    let w = lab.w.name.as_str();
    patchwire(&["-n", w, "cut", "pa"]).ok();
    let shown = patchwire(&["-n", w, "impair", "show"]).ok().stdout.clone();
    assert_eq!(
        shown,
        format!(
            "no impairments in netns {w}\npa: cable cut (patchwire -n {w} mend pa puts it back)\n\
             pb: cable cut (patchwire -n {w} mend pb puts it back)\n"
        )
    );
    // In a lab: endpoints as NODE:IF, mend with --lab; a cut the file makes is the file's.
    let two = "name: LAB\ntopology:\n  nodes:\n    r1: {}\n    r2: {}\n    r3: {}\n    r4: {}\n  \
               links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n    \
               - endpoints: [\"r3:eth1\", \"r4:eth1\"]\n      state: down\n";
    let lab = lab_up(two);
    let file = lab.path();
    patchwire(&["impair", "--lab", file, "r1:eth1", "--loss", "1%"]).ok();
    patchwire(&["cut", "--lab", file, "r1:eth1"]).ok();
    let text = patchwire(&["impair", "show", "--lab", file])
        .ok()
        .stdout
        .clone();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(
        lines,
        [
            // Set by a command, not the file: marked, with what puts the file's back.
            format!(
                "r1:eth1 -> r2:eth1: loss 1% (set by patchwire impair: patchwire up {file} puts \
                 the file's back)"
            ),
            format!("r1:eth1: cable cut (patchwire mend --lab {file} r1:eth1 puts it back)"),
            format!("r2:eth1: cable cut (patchwire mend --lab {file} r2:eth1 puts it back)"),
            format!("r3:eth1: cable cut (state: down in {file})"),
            format!("r4:eth1: cable cut (state: down in {file})"),
        ]
    );
    let json = patchwire(&["-j", "impair", "show", "--lab", file])
        .ok()
        .json();
    let d = &json["directions"][0];
    assert_eq!(
        (&d["port"], &d["endpoint"], &d["to"], &d["to_endpoint"]),
        (
            &serde_json::json!("r1.eth1"),
            &serde_json::json!("r1:eth1"),
            &serde_json::json!("r2.eth1"),
            &serde_json::json!("r2:eth1")
        )
    );
    assert_eq!(
        json["cuts"][0],
        serde_json::json!({"port": "r1.eth1", "endpoint": "r1:eth1", "from_file": false,
            "mend": format!("patchwire mend --lab {file} r1:eth1")})
    );
    assert_eq!(json["cuts"][2]["from_file"], true);
    // The suggested command does what it says.
    let mended = patchwire(&["mend", "--lab", file, "r1:eth1"])
        .ok()
        .stdout
        .clone();
    assert_eq!(mended, "r1:eth1, r2:eth1: mended: up again\n");
}

#[test]
fn mend_has_its_own_help() {
    let help = patchwire(&["mend", "--help"]);
    assert_eq!(
        help.stdout.lines().next(),
        Some("Put back the cable `cut` pulled: the nodes on it get carrier again.")
    );
    let all = patchwire(&["--help"]).stdout;
    let line = all
        .lines()
        .find(|l| l.trim_start().starts_with("mend "))
        .unwrap_or_else(|| panic!("no mend in {all}"));
    assert!(line.contains("Put back the cable"), "{line}");
}

#[test]
fn loss_burst_refuses_empty_fields_and_distribution_needs_a_jitter() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    let before = lab.w.snapshot();
    for value in ["1%//50%", "1%/20%/"] {
        usage_error(
            &patchwire(&["-n", w, "impair", "pa", "--loss-burst", value]),
            &format!(
                "\"{value}\" has an empty field: give P[/R[/1-H[/1-K]]] in percent, e.g. 1%/20%"
            ),
        );
    }
    patchwire(&["-n", w, "impair", "pa", "--distribution", "normal"])
        .fails_with("impairing pa: a distribution shapes a jitter: give --jitter too");
    assert_eq!(
        before,
        lab.w.snapshot(),
        "refusals leave the kernel as it was"
    );
}

#[test]
fn a_call_that_changes_no_qdisc_sends_none() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    let set = lab.impair(&["pa", "--rate", "10mbit"]);
    assert_eq!(
        set["directions"][0]["changes"],
        serde_json::json!(["tbf on pb", "impairment program on pa"])
    );
    let set = lab.impair(&["pa", "--loss", "2%"]);
    assert_eq!(
        set["directions"][0]["changes"],
        serde_json::json!(["parameters of pa's impairment program"])
    );
    let set = lab.impair(&["pa", "--loss", "2%"]);
    assert_eq!(set["directions"][0]["changes"], serde_json::json!([]));
    let text = patchwire(&["-n", w, "impair", "pa", "--loss", "2%"])
        .ok()
        .stdout
        .clone();
    assert_eq!(
        text,
        "pa -> pb: loss 2% rate 10mbit burst 16384b (unchanged)\n"
    );
}

#[test]
fn usage_errors_with_json_are_json() {
    let run = patchwire(&["-j", "impair", "pa", "--loss", "101%"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.json(),
        serde_json::json!({"error": "invalid value '101%' for '--loss <PERCENT>': \"101%\" is \
            more than 100%: give a percentage from 0 to 100 like 10%, 1.5% or 0.01%"})
    );
    let run = patchwire(&["impair", "--json", "pa", "--loss-burst", "1%//2%"]);
    assert_eq!(run.code, 2);
    assert!(run.json()["error"].is_string(), "{}", run.stdout);
    // Without -j, clap's text as before; --help prints help whatever the flags.
    let run = patchwire(&["impair", "pa", "--loss", "101%"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("error: invalid value '101%'"),
        "{}",
        run.stderr
    );
    let help = patchwire(&["-j", "impair", "--help"]);
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.starts_with("Impair the frames"),
        "{}",
        help.stdout
    );
}

#[test]
fn cli_and_file_take_the_same_numbers_and_messages_say_what_happened() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    let set = lab.impair(&["pa", "--rate", "1e9"]);
    assert_eq!(
        set["directions"][0]["direction"]["summary"],
        "rate 1gbit burst 1250000b"
    );
    // impair show takes -s (its counters print anyway).
    patchwire(&["-n", w, "-s", "impair", "show"]).ok();
    lab.w.ip("link add name lone type veth peer name lone2");
    patchwire(&["-n", w, "mend", "lone"]).fails_with(&format!(
        "lone is on no wire or hub in netns {w}: there is no cable to mend"
    ));
    lab.w.ip("link del dev lone");
    patchwire(&["-n", w, "cut", "pa"]).ok();
    let out = patchwire(&["-n", w, "unlink", "pa"]).ok().stdout.clone();
    assert!(
        out.contains("released: pa (its cable was cut) is up again")
            && out.contains("released: pb (its cable was cut) is up again"),
        "{out}"
    );
}

/// `impair PORT` naming no impairment (and no --clear) would change nothing: a usage error
/// naming the options and `impair show`, as JSON with -j, the kernel untouched. A change that
/// leaves nothing set (`--loss 5%`, then `--loss 0`) removes the impairment as `--clear` does —
/// no empty program left behind — per direction with `--both`.
#[test]
fn naming_nothing_is_a_usage_error_and_a_change_to_nothing_removes_the_impairment() {
    let _timing = shared();
    let lab = lab();
    let w = lab.w.name.as_str();
    let unimpaired = lab.w.snapshot();
    let message = format!(
        "impair pa: no impairment given: name what to set (--loss, --loss-burst, --corrupt, \
         --duplicate, --delay, --jitter, --distribution, --reorder, --rate, --burst; 0 removes \
         one) or --clear to remove them all; patchwire -n {w} impair show lists what is set"
    );
    for extra in [&[][..], &["--both"][..]] {
        let mut args = vec!["-n", w, "impair", "pa"];
        args.extend_from_slice(extra);
        usage_error(&patchwire(&args), &format!("error: {message}\n"));
        args.insert(0, "-j");
        let run = patchwire(&args);
        assert_eq!((run.code, run.stderr.as_str()), (2, ""), "{}", run.stdout);
        assert_eq!(run.json(), serde_json::json!({ "error": message }));
    }
    assert_eq!(
        lab.w.snapshot(),
        unimpaired,
        "a usage error changed the kernel"
    );

    // One direction: set, then zeroed — nothing left, removed.
    lab.impair(&["pa", "--loss", "5%"]);
    let text = patchwire(&["-n", w, "impair", "pa", "--loss", "0"])
        .ok()
        .stdout
        .clone();
    assert_eq!(
        text,
        "pa: nothing left set, impairments removed (as --clear does)\n"
    );
    assert_eq!(lab.listed("pa").0, None);
    assert_eq!(
        lab.w.snapshot(),
        unimpaired,
        "a change to nothing left something behind"
    );
    let text = patchwire(&["-n", w, "impair", "pa", "--loss", "0"])
        .ok()
        .stdout
        .clone();
    assert_eq!(text, "pa: nothing was impaired (unchanged)\n");

    // Both directions: each one that is left with nothing is removed, the other kept.
    lab.impair(&["pa", "--both", "--loss", "5%", "--rate", "10mbit"]);
    lab.impair(&["pb", "--corrupt", "1%"]);
    let done = lab.impair(&["pa", "--both", "--loss", "0", "--rate", "0"]);
    assert_eq!(done["cleared"], serde_json::json!(["pa"]));
    assert_eq!(
        done["directions"][0]["direction"]["summary"], "corrupt 1%",
        "{done}"
    );
    assert_eq!(lab.listed("pa").0, None);
    assert_eq!(lab.shown("pb")["summary"], "corrupt 1%");
    let text = patchwire(&["-n", w, "impair", "pa", "--both", "--corrupt", "0"])
        .ok()
        .stdout
        .clone();
    assert_eq!(
        text,
        "pa: nothing was impaired (unchanged)\n\
         pb: nothing left set, impairments removed (as --clear does)\n"
    );
    assert_eq!(lab.w.snapshot(), unimpaired);
}
