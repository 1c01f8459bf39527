//! The CNI tests' runtime (tests/cni.rs), as libcni runs a network configuration list: a
//! plugin directory with `patchwire-cni` and Debian's reference plugins, one invocation with the
//! CNI_* environment and the configuration on stdin, a list run ADD in order and CHECK and DEL
//! with the final result; and observers (a namespace's state, a qemu on a tap, a result's
//! interface).

use super::qemu::*;
use super::*;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

pub const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

/// A plugin directory (CNI_PATH) with `patchwire-cni` (a symlink to the built binary, which
/// dispatches on its name) and the reference plugins; also the host-local IPAM's data dir.
pub struct Plugins {
    pub dir: PathBuf,
}

impl Plugins {
    pub fn new(host: &TestNs) -> Plugins {
        let dir = std::env::temp_dir().join(format!("{}-cni", host.name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ipam")).expect("create plugin dir");
        std::os::unix::fs::symlink(super::bin(), dir.join("patchwire-cni")).expect("symlink");
        for plugin in ["bridge", "ptp", "host-local"] {
            let path = PathBuf::from(REFERENCE_PLUGINS).join(plugin);
            assert!(
                path.exists(),
                "{} missing: scripts/test installs containernetworking-plugins",
                path.display()
            );
            std::os::unix::fs::symlink(&path, dir.join(plugin)).expect("symlink");
        }
        Plugins { dir }
    }

    pub fn ipam(&self, subnet: &str) -> Value {
        json!({
            "type": "host-local",
            "subnet": subnet,
            "dataDir": self.dir.join("ipam").to_str().unwrap(),
        })
    }
}

impl Drop for Plugins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one plugin invocation printed and how it exited.
#[derive(Debug)]
pub struct Outcome {
    pub exit: i32,
    pub stdout: String,
    #[allow(dead_code)] // shown by Debug in failure messages
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:?}"))
    }

    /// A spec error: exit 1, and stdout holds exactly the error object.
    pub fn error(&self) -> Value {
        assert_eq!(self.exit, 1, "expected an error: {self:?}");
        let error = self.json();
        let keys: Vec<&String> = error.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["cniVersion", "code", "details", "msg"], "{error}");
        error
    }
}

/// One attachment: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME (and CNI_ARGS).
pub struct Attachment<'a> {
    pub container: &'a str,
    pub netns: String,
    pub ifname: &'a str,
    pub args: Option<&'a str>,
}

impl<'a> Attachment<'a> {
    pub fn new(container: &'a str, pod: &TestNs, ifname: &'a str) -> Self {
        Attachment {
            container,
            netns: format!("/run/netns/{}", pod.name),
            ifname,
            args: None,
        }
    }
}

/// Runs `plugin` from `plugins` inside `host` (the runtime's namespace) with nothing of this
/// process's environment but PATH.
pub fn invoke(
    plugins: &Plugins,
    host: &TestNs,
    plugin: &str,
    command: &str,
    attachment: Option<&Attachment>,
    config: &Value,
) -> Outcome {
    invoke_raw(
        plugins,
        host,
        plugin,
        command,
        attachment,
        config.to_string().as_bytes(),
    )
}

pub fn invoke_raw(
    plugins: &Plugins,
    host: &TestNs,
    plugin: &str,
    command: &str,
    attachment: Option<&Attachment>,
    stdin: &[u8],
) -> Outcome {
    let mut child = Command::new("ip");
    child
        .args(["netns", "exec", &host.name])
        .arg(plugins.dir.join(plugin))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_PATH", &plugins.dir);
    if let Some(a) = attachment {
        child
            .env("CNI_CONTAINERID", a.container)
            .env("CNI_NETNS", &a.netns)
            .env("CNI_IFNAME", a.ifname);
        if let Some(args) = a.args {
            child.env("CNI_ARGS", args);
        }
    }
    let mut child = child
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run plugin");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    Outcome {
        exit: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A network configuration list, run as libcni runs it: ADD in order, each plugin given the
/// previous one's result; CHECK and DEL with the final result, DEL in reverse order.
pub struct Network<'p> {
    pub plugins: &'p Plugins,
    pub host: &'p TestNs,
    pub name: String,
    pub version: &'static str,
    pub list: Vec<Value>,
}

impl Network<'_> {
    /// The request configuration for plugin `i`: its own keys plus name, cniVersion and
    /// prevResult.
    pub fn request(&self, i: usize, prev: Option<&Value>) -> Value {
        let mut config = self.list[i].clone();
        config["name"] = json!(self.name);
        config["cniVersion"] = json!(self.version);
        if let Some(prev) = prev {
            config["prevResult"] = prev.clone();
        }
        config
    }

    pub fn step(&self, i: usize, command: &str, a: &Attachment, prev: Option<&Value>) -> Outcome {
        let kind = self.list[i]["type"].as_str().unwrap().to_string();
        invoke(
            self.plugins,
            self.host,
            &kind,
            command,
            Some(a),
            &self.request(i, prev),
        )
    }

    /// ADD through plugin `i`, which must succeed; returns its result.
    pub fn add_step(&self, i: usize, a: &Attachment, prev: Option<&Value>) -> Value {
        let out = self.step(i, "ADD", a, prev);
        assert_eq!(out.exit, 0, "ADD {}: {out:?}", self.list[i]["type"]);
        out.json()
    }

    pub fn add(&self, a: &Attachment) -> Value {
        let mut result: Option<Value> = None;
        for i in 0..self.list.len() {
            result = Some(self.add_step(i, a, result.as_ref()));
        }
        result.unwrap()
    }

    /// CHECK through the whole list: the first failure, if any.
    pub fn check(&self, a: &Attachment, result: &Value) -> Result<(), (String, Outcome)> {
        for i in 0..self.list.len() {
            let out = self.step(i, "CHECK", a, Some(result));
            if out.exit != 0 {
                return Err((self.list[i]["type"].as_str().unwrap().into(), out));
            }
            assert_eq!(out.stdout, "", "CHECK prints nothing on success");
        }
        Ok(())
    }

    pub fn del_step(&self, i: usize, a: &Attachment, result: Option<&Value>) {
        let out = self.step(i, "DEL", a, result);
        assert_eq!(out.exit, 0, "DEL {}: {out:?}", self.list[i]["type"]);
        assert_eq!(out.stdout, "", "DEL prints nothing on success");
    }

    pub fn del(&self, a: &Attachment, result: Option<&Value>) {
        for i in (0..self.list.len()).rev() {
            self.del_step(i, a, result);
        }
    }
}

/// Everything of a namespace a plugin could change: links with altnames, addresses, qdiscs
/// and filters, and each interface's IPv6 switch. (A re-enabled IPv6 link-local address is
/// "tentative" until DAD finishes: the flag is left out, the address is not.)
/// What the plugin must leave as it was. Carrier and operational state are left out: they are
/// the kernel's, and 6.1 settles a veth whose peer is down from `UNKNOWN` to `LOWERLAYERDOWN`
/// some time after `ip link set up` returns (linkwatch), so a snapshot taken at once differs
/// from one taken later whatever the plugin does.
pub fn state(ns: &TestNs) -> String {
    let mut text = ns.snapshot();
    text.push_str(&ns.ip("-o link show"));
    text.push_str(&ns.ip("-o addr show").replace(" tentative", ""));
    // Read in-process: one `sysctl` exec per interface cost ~70 ms each in the matrix's guests.
    let devices = ns.devices();
    text.push_str(&super::in_netns(&ns.name, || {
        let mut keys = String::new();
        for dev in &devices {
            let path = format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6");
            let value = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("{e}\n"));
            keys.push_str(&format!("net.ipv6.conf.{dev}.disable_ipv6={value}"));
        }
        keys
    }));
    super::without_carrier(&text)
}

/// A qemu with no guest holding `tap` in `pod` (script=no: the plugin wired it already).
pub fn qemu_on(pod: &TestNs, tap: &str) -> (Qemu, UdpPort) {
    let udp = UdpPort::open(pod);
    let netdev = format!("tap,id=t0,ifname={tap},script=no,downscript=no");
    let mut qemu = Qemu::start(pod, &netdev, &[]);
    qemu.wait_ready(pod, tap, "eth0");
    (qemu, udp)
}

pub fn interface<'r>(result: &'r Value, name: &str, sandbox: &str) -> &'r Value {
    result["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name && i["sandbox"] == sandbox)
        .unwrap_or_else(|| panic!("no interface {name} in {sandbox}: {result}"))
}
