//! A container runtime of a test's or a benchmark's own, in a network namespace it made: podman
//! with its configuration and storage under a work directory, or a dockerd of its own there;
//! either reached through a wrapper script (shared by tests/containers.rs and
//! benches/containers.rs).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Writes podman's configuration and storage under `work` and the executable `wrapper` that
/// runs podman with them in the namespace `netns` (cgroupfs, runc, CNI networks, vfs storage).
pub fn podman(work: &Path, netns: &str, wrapper: &Path) -> std::io::Result<()> {
    let w = work.display();
    for sub in ["root", "runroot", "tmp", "net.d"] {
        std::fs::create_dir_all(work.join(sub))?;
    }
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let hard = unsafe {
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_max.min(1 << 20)
    };
    std::fs::write(
        work.join("containers.conf"),
        format!(
            "[containers]\ndefault_ulimits = [\"nofile={hard}:{hard}\", \
             \"nproc=1000:1000\"]\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\nevents_logfile_path = \"{w}/events.log\"\n\
             runtime = \"runc\"\ntmp_dir = \"{w}/tmp\"\n[network]\n\
             network_backend = \"cni\"\nnetwork_config_dir = \"{w}/net.d\"\n"
        ),
    )?;
    std::fs::write(
        work.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{w}/root\"\n\
             runroot = \"{w}/runroot\"\n"
        ),
    )?;
    write_wrapper(
        wrapper,
        &format!(
            "#!/bin/sh\nexport CONTAINERS_CONF={w}/containers.conf \
             CONTAINERS_STORAGE_CONF={w}/storage.conf\n\
             exec nsenter --net=/run/netns/{netns} podman \"$@\"\n"
        ),
    )
}

/// Starts a dockerd of its own in the namespace `netns`, everything of it under `work`
/// (its output in dockerd.log and dockerd.err there; no iptables, no default bridge), and
/// writes the executable `wrapper` that runs /usr/bin/docker against it. It may not answer
/// yet when this returns.
pub fn dockerd(work: &Path, netns: &str, wrapper: &Path) -> std::io::Result<Child> {
    let w = work.display();
    let child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(["--", "dockerd"])
        .args(["--data-root", &format!("{w}/root")])
        .args(["--exec-root", &format!("{w}/exec")])
        .args(["--pidfile", &format!("{w}/docker.pid")])
        .args(["-H", &format!("unix://{w}/docker.sock")])
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(work.join("dockerd.log"))?)
        .stderr(std::fs::File::create(work.join("dockerd.err"))?)
        .spawn()?;
    write_wrapper(
        wrapper,
        &format!(
            "#!/bin/sh\nexport DOCKER_HOST=unix://{w}/docker.sock\n\
             exec /usr/bin/docker \"$@\"\n"
        ),
    )?;
    Ok(child)
}

/// Stops a dockerd [`dockerd`] started (SIGTERM, up to 15 s, then SIGKILL) and unmounts what
/// it left mounted under `work` (its data and exec roots).
pub fn stop_dockerd(mut dockerd: Child, work: &Path) {
    // SAFETY: kill(2) on the dockerd this test or benchmark started (nsenter exec'd into it),
    // not yet waited for, so its pid is not reused.
    unsafe { libc::kill(dockerd.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline && matches!(dockerd.try_wait(), Ok(None)) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = dockerd.kill();
    let _ = dockerd.wait();
    unmount_under(work);
}

/// Unmounts, deepest first, whatever is mounted under `work` (a runtime's storage).
pub fn unmount_under(work: &Path) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "grep -o ' {}/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
            work.display()
        ))
        .status();
}

fn write_wrapper(wrapper: &Path, script: &str) -> std::io::Result<()> {
    std::fs::write(wrapper, script)?;
    std::fs::set_permissions(wrapper, std::fs::Permissions::from_mode(0o755))
}
