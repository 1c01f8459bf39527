//! End to end with a real runtime: Debian's podman 4.3 with its CNI network backend runs a
//! container (busybox from a local root filesystem: nothing is pulled) on a network whose
//! conflist chains the reference bridge plugin (host-local IPAM) and patchwire-cni. podman
//! calls the plugins itself — ADD when the container starts, DEL when it is removed — and a
//! real qemu opens the tap patchwire-cni made in the container's namespace, as Kata's would.
//!
//! Everything podman touches stays inside what the test made: the runtime's network namespace
//! (the bridge, ip_forward) is a test namespace, and podman runs in a private mount namespace
//! held by one helper process, in which /run is a tmpfs (runc state, podman's netns pins),
//! /var/lib/cni (libcni's result cache, not configurable in podman 4.3) is a directory of the
//! test's, and /sys is that namespace's own sysfs with the cgroup mounts kept. (`ip netns exec`
//! remounts /sys without /sys/fs/cgroup, and runc then fails.)

mod common;
use common::qemu::*;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use patchwire::probe;

const NETWORK: &str = "pwnet";

/// The runtime's world: a network namespace, a workspace, and the process holding the private
/// mount namespace every podman call joins. Dropping it removes every container, the holder
/// and the workspace.
struct Runtime {
    host: TestNs,
    work: PathBuf,
    holder: Child,
    made_var_lib_cni: bool,
}

impl Runtime {
    fn start() -> Runtime {
        for program in ["podman", "runc", "conmon", "nsenter", "unshare"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {program}")])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{program} missing: scripts/test installs podman, runc and util-linux"
            );
        }
        let host = TestNs::new();
        let work = std::env::temp_dir().join(format!("{}-podman", host.name));
        let _ = std::fs::remove_dir_all(&work);
        for dir in [
            "plugins",
            "net.d",
            "root",
            "runroot",
            "tmp",
            "ipam",
            "cni-cache",
            "cg",
        ] {
            std::fs::create_dir_all(work.join(dir)).unwrap();
        }
        // The plugin directory: the reference plugins and patchwire-cni (the built binary).
        for entry in
            std::fs::read_dir("/usr/lib/cni").expect("/usr/lib/cni: containernetworking-plugins")
        {
            let path = entry.unwrap().path();
            std::os::unix::fs::symlink(&path, work.join("plugins").join(path.file_name().unwrap()))
                .unwrap();
        }
        std::os::unix::fs::symlink(common::bin(), work.join("plugins/patchwire-cni")).unwrap();
        let w = work.to_str().unwrap().to_string();
        std::fs::write(
            work.join(format!("net.d/{NETWORK}.conflist")),
            serde_json::json!({
                "cniVersion": "1.0.0",
                "name": NETWORK,
                "plugins": [
                    {"type": "bridge", "bridge": "pwbr0", "isGateway": true, "ipMasq": false,
                     "ipam": {"type": "host-local", "dataDir": format!("{w}/ipam"),
                              "ranges": [[{"subnet": "198.18.44.0/24", "gateway": "198.18.44.1"}]]}},
                    {"type": "patchwire-cni", "tapName": "tap0"}
                ]
            })
            .to_string(),
        )
        .unwrap();
        std::fs::write(
            work.join("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{w}/events.log\"\nruntime = \"runc\"\ntmp_dir = \"{w}/tmp\"\n\
                 [network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{w}/plugins\"]\n\
                 network_config_dir = \"{w}/net.d\"\ndefault_network = \"{NETWORK}\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            work.join("enter.sh"),
            format!(
                "set -e\nmount --bind {w}/cni-cache /var/lib/cni\nmount -t tmpfs -o mode=0755 pw-run /run\n\
                 mount --rbind /sys/fs/cgroup {w}/cg\nmount -t sysfs sysfs /sys\n\
                 mount --rbind {w}/cg /sys/fs/cgroup\numount -l {w}/cg\ntouch {w}/ready\nexec \"$@\"\n"
            ),
        )
        .unwrap();
        // The root filesystem: busybox-static and the applets the container uses.
        let rootfs = work.join("rootfs");
        for dir in ["bin", "etc", "proc", "sys", "dev", "tmp", "run"] {
            std::fs::create_dir_all(rootfs.join(dir)).unwrap();
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .expect("/bin/busybox: scripts/test installs busybox-static");
        for applet in ["sh", "sleep"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        // The bind mount over /var/lib/cni needs the directory to exist.
        let made_var_lib_cni = !Path::new("/var/lib/cni").exists();
        if made_var_lib_cni {
            std::fs::create_dir_all("/var/lib/cni").unwrap();
        }
        let holder = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", host.name))
            .args(["--", "unshare", "--mount", "--propagation", "private", "--"])
            .args(["timeout", "-s", "KILL", "300", "/bin/sh"])
            .arg(work.join("enter.sh"))
            .args(["sleep", "300"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the mount namespace holder");
        let mut runtime = Runtime {
            host,
            work,
            holder,
            made_var_lib_cni,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !runtime.work.join("ready").exists() {
            if let Ok(Some(status)) = runtime.holder.try_wait() {
                panic!("the mount namespace holder exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "mount namespace holder not ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        runtime
    }

    /// `podman ARGS` inside the runtime's namespaces, with the test's own storage and config.
    fn podman(&self, args: &[&str]) -> std::process::Output {
        let w = self.work.to_str().unwrap();
        // SAFETY: getrlimit writes into the struct we pass and has no other effect.
        let hard = unsafe {
            let mut limit = std::mem::zeroed::<libc::rlimit>();
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_max.min(1 << 20)
        };
        let mut command = Command::new("nsenter");
        command
            .args([
                "--target",
                &self.holder.id().to_string(),
                "--mount",
                "--net",
                "--",
            ])
            .args([
                "podman",
                "--root",
                &format!("{w}/root"),
                "--runroot",
                &format!("{w}/runroot"),
            ])
            .args([
                "--tmpdir",
                &format!("{w}/tmp"),
                "--storage-driver",
                "vfs",
                "--runtime",
                "runc",
            ])
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(["--network-config-dir", &format!("{w}/net.d")])
            .env("CONTAINERS_CONF", self.work.join("containers.conf"))
            .stdin(Stdio::null());
        // `run` options go before --rootfs DIR: everything after DIR is the command.
        if args.first() == Some(&"run") {
            command.args(["run", "--ulimit", &format!("nofile={hard}:{hard}")]);
            command
                .args(["--ulimit", "nproc=1000:1000"])
                .args(&args[1..]);
        } else {
            command.args(args);
        }
        command.output().expect("run podman")
    }

    fn podman_ok(&self, args: &[&str]) -> String {
        let output = self.podman(args);
        assert!(
            output.status.success(),
            "podman {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-a", "-f", "-t", "0"]);
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // conmon and podman's cleanup may linger a moment after the containers are gone.
        let marker = self.work.to_string_lossy().into_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !processes_mentioning(&marker).is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
        for pid in processes_mentioning(&marker) {
            // SAFETY: kill(2) on a process whose command line names this test's workspace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.work);
        if self.made_var_lib_cni {
            let _ = std::fs::remove_dir("/var/lib/cni");
        }
    }
}

fn processes_mentioning(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// podman runs a container on bridge -> patchwire-cni: the container's namespace holds eth0
/// wired to tap0; qemu opens tap0 there and the probe catalogue crosses between the bridge's
/// port and the VM both ways; `podman rm` runs DEL, which removes the tap and the wire before
/// the namespace goes; nothing of podman's reaches the machine.
#[test]
fn podman_runs_a_container_whose_network_ends_in_a_wired_tap() {
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let runtime = Runtime::start();
    let rootfs = runtime.work.join("rootfs");
    let id = runtime.podman_ok(&[
        "run",
        "-d",
        "--name",
        "pw-vm",
        "--network",
        NETWORK,
        "--rootfs",
        rootfs.to_str().unwrap(),
        "/bin/sleep",
        "120",
    ]);
    assert!(!id.is_empty());
    let pid = runtime.podman_ok(&["inspect", "-f", "{{.State.Pid}}", "pw-vm"]);
    // A name for the container's namespace, so the test's tools (and qemu) can enter it; it
    // also keeps the namespace alive after podman is done with it, to see what DEL left.
    let pod = TestNs {
        name: format!("{}-pod", runtime.host.name),
    };
    run("ip", &["netns", "attach", &pod.name, &pid]);

    let show = pod.patchwire(&["-j", "show"]).json();
    assert!(is_wire(&show[0], "tap0", "eth0"), "{show}");
    assert!(
        pod.ip("-o addr show dev eth0").contains("198.18.44."),
        "bridge's address kept"
    );

    let udp = UdpPort::open(&pod);
    let mut qemu = Qemu::start(&pod, "tap,id=t0,ifname=tap0,script=no,downscript=no", &[]);
    qemu.wait_ready(&pod, "tap0", "eth0");
    let port_line = runtime.host.ip("-o link show master pwbr0");
    let port = port_line
        .split(": ")
        .nth(1)
        .and_then(|n| n.split('@').next())
        .expect("the bridge has the container's veth")
        .to_string();
    let veth =
        probe::packet_port(&runtime.host.netns(), ifindex(&runtime.host, &port), &port).unwrap();
    let into_vm = probe::run_direction(&veth, &udp, 1500, &port, "qemu").unwrap();
    let from_vm = probe::run_direction(&udp, &veth, 1500, "qemu", &port).unwrap();
    assert!(into_vm.passed(), "{into_vm:#?}");
    assert!(from_vm.passed(), "{from_vm:#?}");
    drop(qemu);

    runtime.podman_ok(&["rm", "-f", "-t", "0", "pw-vm"]);
    // DEL ran (bridge's removed eth0, patchwire-cni's removed tap0 and the wire): the
    // namespace, still alive through the test's name for it, holds nothing but loopback.
    assert_eq!(pod.devices(), ["lo"]);
    assert_eq!(runtime.host.ip("-o link show master pwbr0"), "");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        forwarding,
        "the bridge plugin's ip_forward stayed in the test namespace"
    );
}
