//! The Debian package: `scripts/package` builds it (a release build, and cargo-deb installed if
//! missing: minutes on a cold machine), `dpkg -i` installs it on this machine, every file is
//! checked where it belongs, the installed binary runs the demo, and `dpkg -r` then `dpkg -P`
//! leave no file of it behind.
//!
//! It changes the machine, so it refuses — fails, never skips — to run where a patchwire package
//! it did not install is already there, or where a file the package would overwrite already
//! exists. A guard purges its own install also when a check fails; a marker file tells a
//! package left by a killed run of this test (purged and the test goes on) from one installed
//! by somebody else. The package has no maintainer scripts, so installing it starts nothing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

const PACKAGE: &str = "patchwire";
/// Written before this test installs the package, removed once it is purged: a package found
/// installed together with this file was left by a killed run of this test.
const MARKER: &str = "/var/tmp/patchwire-package-test.installed";

fn command(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
fn must(program: &str, args: &[&str]) -> String {
    let output = command(program, args);
    assert!(
        output.status.success(),
        "{program} {} failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// dpkg's status of the patchwire package, or None when dpkg has no trace of it.
fn package_status() -> Option<String> {
    let output = command("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    let status = text(&output.stdout).trim().to_string();
    (output.status.success() && !status.is_empty() && !status.ends_with("not-installed"))
        .then_some(status)
}

fn purge() {
    let output = command("dpkg", &["-P", PACKAGE]);
    if !output.status.success() {
        eprintln!(
            "package test: dpkg -P {PACKAGE} failed: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    }
}

/// This test's own install: purged on drop, also when a check panics.
struct Installed;

impl Installed {
    fn new() -> Installed {
        std::fs::write(
            MARKER,
            "installed by tests/package.rs; purged when the test ends\n",
        )
        .unwrap_or_else(|e| panic!("{MARKER}: {e}"));
        Installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if package_status().is_some() {
            purge();
        }
        if package_status().is_none() {
            let _ = std::fs::remove_file(MARKER);
        }
    }
}

/// Fails (never skips) if a patchwire package is installed that this test did not install.
fn refuse_foreign_package() {
    let Some(status) = package_status() else {
        return;
    };
    if Path::new(MARKER).exists() {
        eprintln!("package test: purging a {PACKAGE} package left by a killed run ({status})");
        purge();
        assert_eq!(
            package_status(),
            None,
            "could not purge the left-over package"
        );
        let _ = std::fs::remove_file(MARKER);
        return;
    }
    panic!(
        "a {PACKAGE} package this test did not install is on this machine (dpkg: {status}). \
         The test installs and purges its own package, so it will not replace that one: \
         remove it (dpkg -P {PACKAGE}) or run the test on another machine"
    );
}

/// The package's entries as `dpkg-deb -c` lists them: (absolute path, is a directory).
fn contents(deb: &Path) -> Vec<(PathBuf, bool)> {
    must("dpkg-deb", &["-c", deb.to_str().unwrap()])
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 6, "dpkg-deb -c line: {line}");
            let path = fields[5].trim_start_matches('.').trim_end_matches('/');
            (PathBuf::from(path), fields[0].starts_with('d'))
        })
        .filter(|(path, _)| !path.as_os_str().is_empty())
        .collect()
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Processes running the installed binary (there must be none: the package starts nothing).
fn installed_binary_processes() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(exe) = std::fs::read_link(entry.path().join("exe"))
            && exe.to_string_lossy().starts_with("/usr/bin/patchwire")
        {
            found.push(format!(
                "{} ({})",
                entry.file_name().to_string_lossy(),
                exe.display()
            ));
        }
    }
    found
}

#[test]
fn debian_package_installs_runs_and_removes_cleanly() {
    common::require_root();
    refuse_foreign_package();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // Build. A release build; on a fresh machine also `cargo install cargo-deb`.
    let started = Instant::now();
    let output = Command::new("timeout")
        .args(["600", "scripts/package"])
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/package");
    let stderr = text(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
    assert!(
        output.status.success(),
        "scripts/package failed ({}):\n{}\n...\n{}",
        output.status,
        text(&output.stdout),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    eprintln!("package test: scripts/package took {:?}", started.elapsed());
    let printed = text(&output.stdout);
    let deb = PathBuf::from(
        printed
            .lines()
            .last()
            .expect("scripts/package printed no path"),
    );
    let arch = must("dpkg", &["--print-architecture"]).trim().to_string();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        deb.file_name().unwrap().to_string_lossy(),
        format!("{PACKAGE}_{version}_{arch}.deb"),
        "package file name"
    );
    assert!(deb.is_file(), "{} is not a file", deb.display());
    let deb_arg = deb.to_str().unwrap();

    // Control: name and version, and no maintainer scripts (nothing enabled or started).
    assert_eq!(
        must("dpkg-deb", &["-f", deb_arg, "Package"]).trim(),
        PACKAGE
    );
    assert_eq!(
        must("dpkg-deb", &["-f", deb_arg, "Version"]).trim(),
        version
    );
    let info = must("dpkg-deb", &["-I", deb_arg]);
    let members: BTreeSet<&str> = info
        .lines()
        .filter(|l| l.contains(" bytes,") && l.contains(" lines"))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    // cargo-deb writes no md5sums; what matters is that no maintainer script is there.
    assert!(
        members.contains("control") && members.is_subset(&BTreeSet::from(["control", "md5sums"])),
        "control members (no preinst/postinst/prerm/postrm/config/triggers): {members:?}\n{info}"
    );

    // Nothing of the package may be on the machine already: dpkg -i would overwrite it.
    let entries = contents(&deb);
    for (path, is_dir) in &entries {
        assert!(
            *is_dir || !exists(path),
            "{} exists and belongs to no {PACKAGE} package: installing would overwrite it and \
             removing would delete it; move it away to run this test",
            path.display()
        );
    }
    let new_dirs: Vec<&PathBuf> = entries
        .iter()
        .filter(|(path, is_dir)| *is_dir && !exists(path))
        .map(|(path, _)| path)
        .collect();

    // Install.
    let installed = Installed::new();
    must("dpkg", &["-i", deb_arg]);
    assert_eq!(
        package_status().as_deref(),
        Some("install ok installed"),
        "dpkg status after dpkg -i"
    );
    let listed: Vec<PathBuf> = must("dpkg", &["-L", PACKAGE])
        .lines()
        .filter(|l| !l.is_empty() && *l != "/.")
        .map(PathBuf::from)
        .collect();
    let files: Vec<&PathBuf> = listed.iter().filter(|p| !p.is_dir()).collect();
    for (path, is_dir) in &entries {
        assert!(
            *is_dir || listed.contains(path),
            "dpkg -L does not list {}",
            path.display()
        );
    }

    // The binary and its other names.
    let bin = Path::new("/usr/bin/patchwire");
    let meta = std::fs::metadata(bin).expect("/usr/bin/patchwire");
    assert!(meta.is_file(), "/usr/bin/patchwire is not a regular file");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o755
    );
    assert_eq!(
        must("/usr/bin/patchwire", &["--version"]).trim(),
        format!("patchwire {version}")
    );
    for (name, subcommand) in [
        ("patchwire-ifup", "qemu-ifup"),
        ("patchwire-ifdown", "qemu-ifdown"),
    ] {
        let path = format!("/usr/bin/{name}");
        let target = std::fs::read_link(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(target, Path::new("patchwire"), "{path} points at");
        // Run under that name it acts as `patchwire qemu-ifup|qemu-ifdown`.
        let help = must(&path, &["--help"]);
        assert!(help.contains(subcommand), "{path} --help:\n{help}");
    }
    // The CNI plugin: run by that name with CNI_COMMAND=VERSION it speaks the CNI protocol.
    let cni = Path::new("/usr/lib/cni/patchwire-cni");
    assert!(
        std::fs::symlink_metadata(cni)
            .expect("/usr/lib/cni/patchwire-cni")
            .is_symlink()
    );
    assert_eq!(
        std::fs::canonicalize(cni).unwrap(),
        Path::new("/usr/bin/patchwire")
    );
    let version = Command::new(cni)
        .env("CNI_COMMAND", "VERSION")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run patchwire-cni");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version
            .contains("\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]"),
        "patchwire-cni VERSION: {version}"
    );

    // Man pages: section 1, gzipped, roff.
    let man: Vec<&&PathBuf> = files
        .iter()
        .filter(|p| p.starts_with("/usr/share/man"))
        .collect();
    assert!(
        man.iter().any(|p| p.ends_with("man1/patchwire.1.gz")),
        "no /usr/share/man/man1/patchwire.1.gz among {man:?}"
    );
    // One page per command: every subcommand --help lists has its own.
    let help = must("/usr/bin/patchwire", &["--help"]);
    let subcommands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(
        subcommands.contains(&"demo"),
        "--help lists no commands:\n{help}"
    );
    for name in &subcommands {
        let page = format!("/usr/share/man/man1/patchwire-{name}.1.gz");
        assert!(
            man.iter().any(|p| p.as_os_str() == page.as_str()),
            "no man page {page} for `patchwire {name}`"
        );
    }
    assert!(
        man.iter()
            .any(|p| p.as_os_str() == "/usr/share/man/man5/patchwire-lab.5.gz"),
        "no /usr/share/man/man5/patchwire-lab.5.gz (the lab file format) among {man:?}"
    );
    for page in &man {
        let page = page.to_str().unwrap();
        assert!(
            page.starts_with("/usr/share/man/man1/") && page.ends_with(".1.gz")
                || page.starts_with("/usr/share/man/man5/") && page.ends_with(".5.gz"),
            "{page} is not a gzipped page of section 1 or 5"
        );
        let roff = must("zcat", &[page]);
        assert!(
            roff.contains(".TH") && roff.to_lowercase().contains("patchwire"),
            "{page} is not a patchwire man page:\n{}",
            roff.chars().take(300).collect::<String>()
        );
    }

    // Completions, each in its shell's place and form.
    for (path, form) in [
        (
            "/usr/share/bash-completion/completions/patchwire",
            "complete",
        ),
        (
            "/usr/share/zsh/vendor-completions/_patchwire",
            "#compdef patchwire",
        ),
        (
            "/usr/share/fish/vendor_completions.d/patchwire.fish",
            "complete -c patchwire",
        ),
    ] {
        let script = read(path);
        assert!(
            script.contains(form) && script.contains("patchwire"),
            "{path} is not a completion script (no {form:?}):\n{}",
            script.chars().take(300).collect::<String>()
        );
    }

    // The unit: in place, pointing at the packaged binary, neither enabled nor running.
    let unit = read("/lib/systemd/system/patchwire-watch.service");
    assert!(
        unit.contains("\nExecStart=/usr/bin/patchwire -j watch\n") && !unit.contains("/usr/local"),
        "unit file:\n{unit}"
    );
    if let Ok(dirs) = std::fs::read_dir("/etc/systemd/system") {
        for dir in dirs.flatten() {
            let enabled = dir.path().join("patchwire-watch.service");
            assert!(!exists(&enabled), "{} exists", enabled.display());
        }
    }
    assert!(!exists(Path::new(
        "/etc/systemd/system/patchwire-watch.service"
    )));
    let running = installed_binary_processes();
    assert!(running.is_empty(), "the package started {running:?}");

    // Documentation, as in the repository.
    for name in ["README.md", "CHANGELOG.md"] {
        assert_eq!(
            read(&format!("/usr/share/doc/patchwire/{name}")),
            read(root.join(name).to_str().unwrap()),
            "/usr/share/doc/patchwire/{name}"
        );
    }
    assert!(exists(Path::new("/usr/share/doc/patchwire/copyright")));

    // The installed binary runs the main job.
    let demo = command("timeout", &["120", "/usr/bin/patchwire", "demo"]);
    let shown = text(&demo.stdout);
    assert!(
        demo.status.success(),
        "/usr/bin/patchwire demo failed ({}):\n{shown}{}",
        demo.status,
        text(&demo.stderr)
    );
    let header = shown.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words == ["bridge", "wire"]
    });
    let lacp = shown
        .lines()
        .any(|l| l.starts_with("lacp ") && l.contains("LOST") && l.contains("ok"));
    let wire_total = shown
        .lines()
        .find_map(|l| l.split("wire: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.split_once('/'))
        .map(|(passed, sent)| (passed.to_string(), sent.to_string()));
    assert!(
        header && lacp && matches!(&wire_total, Some((p, s)) if p == s),
        "demo output has no bridge/wire table with every frame through the wire:\n{shown}"
    );

    // Remove, then purge: nothing of the package is left.
    must("dpkg", &["-r", PACKAGE]);
    let left: Vec<&&PathBuf> = files.iter().filter(|p| exists(p)).collect();
    assert!(left.is_empty(), "dpkg -r left {left:?}");
    let dirs_left: Vec<&&PathBuf> = new_dirs.iter().filter(|p| exists(p)).collect();
    assert!(
        dirs_left.is_empty(),
        "dpkg -r left directories the package made: {dirs_left:?}"
    );
    must("dpkg", &["-P", PACKAGE]);
    assert_eq!(package_status(), None, "dpkg still knows the package");
    let left: Vec<&&PathBuf> = files.iter().filter(|p| exists(p)).collect();
    assert!(left.is_empty(), "dpkg -P left {left:?}");
    drop(installed);
    assert!(!exists(Path::new(MARKER)), "{MARKER} left");
}
