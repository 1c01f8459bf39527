//! A real Linux guest on a lab's VM tap (issue 18, 15): Debian's 6.1 kernel (the ELF vmlinux
//! that scripts/kernels caches in /var/cache/patchwire-kernels) with a busybox initramfs that
//! loads virtio_net, booted under qemu TCG. Once the guest's driver starts, qemu sets the tap's
//! offloads to the driver's (TX checksum on): `plan`, `show --lab` and `show` leave the tap's
//! offload to the VM instead of reporting a mismatch with the file's `tx-checksum: off`.
//!
//! Ignored in the host suite (it needs the kernel cache, which scripts/kernels fills, and boots
//! a guest for ~8 s): scripts/test runs it after the kernel matrix, with
//! `cargo test --test guest -- --ignored`.

mod common;
use common::*;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KERNEL: &str = "6.1";
const CACHE: &str = "/var/cache/patchwire-kernels";

/// The cached 6.1 kernel's folder (vmlinux, root/lib/modules/VERSION), or a panic naming the
/// command that fills the cache.
fn kernel_dir() -> PathBuf {
    let found = std::fs::read_dir(CACHE).ok().and_then(|entries| {
        entries.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{KERNEL}.")))
                && p.join("vmlinux").exists()
                && p.join("ready").exists()
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "no Debian {KERNEL} kernel in {CACHE}: run scripts/kernels --kernel {KERNEL} once \
             (it downloads and unpacks it)"
        )
    })
}

/// A busybox initramfs that loads virtio_net (and what it needs, in modprobe's order), brings
/// eth0 up, says so on the console and idles.
fn initramfs(kernel: &Path, dir: &Path) -> PathBuf {
    let version = std::fs::read_to_string(kernel.join("version")).unwrap();
    let version = version.trim();
    let root = dir.join("initramfs");
    for sub in ["bin", "lib", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static");
    let mut modules = Vec::new();
    for module in ["virtio_pci", "virtio_net"] {
        let depends = run(
            "modprobe",
            &[
                "-d",
                kernel.join("root").to_str().unwrap(),
                "-S",
                version,
                "--show-depends",
                module,
            ],
        );
        for line in depends.lines() {
            let Some(path) = line.strip_prefix("insmod ") else {
                continue;
            };
            let path = Path::new(path.trim());
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(name.ends_with(".ko"), "compressed module {name}: unpack it");
            if !modules.contains(&name) {
                std::fs::copy(path, root.join("lib").join(&name)).unwrap();
                modules.push(name);
            }
        }
    }
    std::fs::write(root.join("modules"), modules.join("\n") + "\n").unwrap();
    let init = "#!/bin/busybox sh\n\
                /bin/busybox mount -t proc proc /proc\n\
                /bin/busybox mount -t sysfs sysfs /sys\n\
                for m in $(/bin/busybox cat /modules); do /bin/busybox insmod /lib/$m || echo \"guest: insmod $m failed\"; done\n\
                /bin/busybox ip link set eth0 up && echo \"guest: eth0 up\"\n\
                while true; do /bin/busybox sleep 3600; done\n";
    std::fs::write(root.join("init"), init).unwrap();
    run("chmod", &["+x", root.join("init").to_str().unwrap()]);
    let out = dir.join("initramfs.cpio.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && find . | cpio -o -H newc --quiet | gzip -1 > {}",
            root.display(),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "making the initramfs");
    out
}

/// qemu (TCG) booting the guest on `tap` in `netns`, its console in `console`; killed on drop.
struct Guest {
    child: Child,
    console: PathBuf,
}

impl Guest {
    fn boot(kernel: &Path, initrd: &Path, netns: &str, tap: &str, console: PathBuf) -> Guest {
        let child = Command::new("timeout")
            .args(["-s", "KILL", "300"])
            .args(["ip", "netns", "exec", netns, "qemu-system-x86_64"])
            // /dev/kvm here is PVM and hangs a stock kernel: TCG.
            .args(["-accel", "tcg", "-cpu", "max", "-m", "256", "-M", "pc"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot"])
            .args(["-kernel", kernel.join("vmlinux").to_str().unwrap()])
            .args(["-initrd", initrd.to_str().unwrap()])
            .args(["-append", "console=ttyS0 panic=-1 loglevel=4"])
            .args(["-serial", &format!("file:{}", console.display())])
            .args([
                "-netdev",
                &format!("tap,id=n0,ifname={tap},script=no,downscript=no,vnet_hdr=on"),
            ])
            .args(["-device", "virtio-net-pci,netdev=n0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, killed whole on drop: a SIGKILL to `timeout` alone left
            // qemu running, reparented, with no bound left (found burning a core an hour on).
            .process_group(0)
            .spawn()
            .expect("start qemu");
        Guest { child, console }
    }

    /// Waits (bounded) until the guest's virtio_net brought eth0 up.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + patience(Duration::from_secs(90));
        loop {
            let console = std::fs::read_to_string(&self.console).unwrap_or_default();
            if console.contains("guest: eth0 up") {
                return;
            }
            assert!(
                !console.contains("failed"),
                "the guest could not start its driver:\n{console}"
            );
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("qemu exited ({status}):\n{console}");
            }
            assert!(
                Instant::now() < deadline,
                "the guest did not bring eth0 up:\n{console}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        // SAFETY: kill(2) has no memory effects; the group is the one `boot` made for this
        // child (its pid), which is not yet waited for, so the id is not reused.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "boots Debian's 6.1 kernel under qemu TCG; needs scripts/kernels' cache (scripts/test runs it)"]
fn a_booted_guest_owns_its_taps_tx_checksum() {
    require_root();
    let kernel = kernel_dir();
    let name = format!("pwt-{}-g", std::process::id());
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let initrd = initramfs(&kernel, &dir);
    let file = dir.join("lab.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\ntopology:\n  nodes:\n    r1: {{}}\n    vm1: {{kind: vm}}\n  links:\n    \
             - endpoints: [\"r1:eth1\", \"vm1:tap1\"]\n      tx-checksum: off\n"
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    struct Down<'a>(&'a str, &'a Path);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = patchwire(&["down", self.0]);
            let _ = std::fs::remove_dir_all(self.1);
        }
    }
    let _down = Down(file, &dir);
    patchwire(&["up", file]).ok();
    let vm = format!("{name}-vm1");
    let tap_offload = || {
        let wires = patchwire(&["-n", &vm, "-j", "-s", "show"]).json();
        let end = [&wires[0]["a"], &wires[0]["b"]]
            .into_iter()
            .find(|e| e["name"] == "tap1")
            .cloned()
            .unwrap_or_else(|| panic!("no tap1 in {wires}"));
        (end["tx_checksum"].clone(), end["attached"].clone())
    };
    assert_eq!(
        tap_offload(),
        (serde_json::json!(false), serde_json::json!(false)),
        "up turned the tap's TX checksum off, as the file asks"
    );

    let mut guest = Guest::boot(&kernel, &initrd, &vm, "tap1", dir.join("console.log"));
    guest.wait_ready();
    // The guest's driver started: qemu gave the tap the driver's offloads.
    assert_eq!(
        tap_offload(),
        (serde_json::json!(true), serde_json::json!(true)),
        "the guest's virtio_net turned the tap's TX checksum on"
    );
    // The VM's to decide: nothing to change, nothing wrong.
    assert_eq!(
        patchwire(&["-j", "plan", file]).json(),
        serde_json::json!([])
    );
    let show = patchwire(&["-j", "show", "--lab", file]).json();
    assert_eq!(
        show[0]["endpoints"],
        serde_json::json!(["r1:eth1", "vm1:tap1"]),
        "{show}"
    );
    assert_eq!(show[0]["health"], "ok", "{show}");
    assert_eq!(show[0]["problems"], serde_json::json!([]), "{show}");
    let wires = patchwire(&["-n", &vm, "-j", "show"]).json();
    assert_eq!(wires[0]["health"], "ok", "{wires}");
    assert_eq!(wires[0]["problems"], serde_json::json!([]), "{wires}");
    // `up` again leaves the VM's offload alone.
    patchwire(&["up", file]).ok();
    assert_eq!(tap_offload().0, serde_json::json!(true));
}
