//! Containers through the runtime's CLI: inspect (JSON), list a lab's (by label), create and
//! start, exec, remove.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{CALL_TIMEOUT, ContainerSpec, EXEC_TIMEOUT, Kind, Runtime, RuntimeError, says_missing};

/// A container as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// The runtime's id.
    pub id: String,
    /// Its name (without docker's leading `/`).
    pub name: String,
    /// Whether it runs.
    pub running: bool,
    /// Its first process, while it runs (the network namespace is that process's).
    pub pid: Option<u32>,
    /// When it was last started, as the runtime writes it (RFC 3339).
    pub started_at: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The image it was made from, as asked for.
    pub image: String,
    /// Its addresses on the networks it joined, by network name: (IPv4, IPv6).
    pub addresses: BTreeMap<String, (Option<String>, Option<String>)>,
}

/// What an `exec` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecOutput {
    /// The command's exit status.
    pub exit: i32,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
}

/// A short, stable digest of what a container should be (FNV-1a 64 over the spec's JSON,
/// whose maps are ordered): written into the `patchwire.spec` label, so `up` tells a node whose
/// definition changed (recreated) from one that did not (left running) without a state file.
pub fn spec_hash(spec: &ContainerSpec) -> String {
    digest(&serde_json::to_string(spec).unwrap_or_default())
}

/// FNV-1a 64 of `text`, as 16 hex digits: a short, stable digest for a label.
pub fn digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Runtime {
    /// The container called `name`, or `None` when there is none.
    pub fn inspect(&self, name: &str) -> Result<Option<Container>, RuntimeError> {
        let doing = format!("inspecting container {name}");
        let Some(stdout) = self.inspect_object(&doing, "container", name)? else {
            return Ok(None);
        };
        Ok(self.parse_containers(&doing, &stdout)?.into_iter().next())
    }

    /// Every container (running or not) carrying label `key=value`.
    pub fn list_labelled(&self, key: &str, value: &str) -> Result<Vec<Container>, RuntimeError> {
        let doing = format!("listing the containers labelled {key}={value}");
        let filter = format!("label={key}={value}");
        let ids = self.call(
            &doing,
            &["ps", "-a", "-q", "--filter", &filter],
            CALL_TIMEOUT,
        )?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["container", "inspect", "--format", self.inspect_format()];
        args.extend(&ids);
        let out = self.run(&doing, &args, CALL_TIMEOUT)?;
        // A container removed between the two calls is simply not listed.
        self.parse_containers(&doing, &out.stdout)
    }

    /// A lab's containers (label `patchwire.lab=LAB`).
    pub fn list_lab(&self, lab: &str) -> Result<Vec<Container>, RuntimeError> {
        self.list_labelled(crate::marks::CONTAINER_LAB_LABEL, lab)
    }

    /// podman prints a JSON array; docker 20.10 has no `--format json`: an object per line.
    pub(super) fn inspect_format(&self) -> &'static str {
        match self.kind {
            Kind::Docker => "{{json .}}",
            Kind::Podman => "json",
        }
    }

    /// Reads `inspect` output: podman's JSON array, or docker's one object per line.
    fn parse_containers(&self, doing: &str, text: &str) -> Result<Vec<Container>, RuntimeError> {
        let text = text.trim();
        let values: Vec<Value> = match text.starts_with('[') {
            true => {
                serde_json::from_str(text).map_err(|e| self.answer_error(doing, e.to_string()))?
            }
            false => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .map_err(|e| self.answer_error(doing, e.to_string()))?,
        };
        values
            .iter()
            .map(|v| parse_container(v).ok_or_else(|| self.answer_error(doing, "no Id or Name")))
            .collect()
    }

    /// Creates the container `spec` describes, on `network` (the management network) unless
    /// the spec's `network-mode` says otherwise, and starts it; then inspects it.
    pub fn create_and_start(
        &self,
        spec: &ContainerSpec,
        network: Option<&str>,
    ) -> Result<Container, RuntimeError> {
        self.run_detached(spec, network)?;
        self.inspect(&spec.name)?.ok_or_else(|| {
            self.answer_error(
                &format!("inspecting container {}", spec.name),
                "gone right after it started",
            )
        })
    }

    /// [`Runtime::create_and_start`] without the inspection (`run --detach`: one call, as the
    /// runtime's own users start containers), for callers that inspect many at once
    /// ([`Runtime::inspect_many`]). A container that was created but would not start is
    /// removed again, so a failed `up` leaves none half-made.
    pub fn run_detached(
        &self,
        spec: &ContainerSpec,
        network: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let args = create_args(spec, network);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let doing = format!("starting container {}", spec.name);
        if let Err(e) = self.call(&doing, &args, CALL_TIMEOUT) {
            // Made but not started (the image's command is missing, a bind's source…); a
            // name taken by someone else's container is left to them.
            let taken = matches!(&e, RuntimeError::Failed { stderr, .. } if stderr.contains("already in use"));
            if !taken {
                let _ = self.remove(&spec.name);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Starts the existing container `name` (stopped, or created and never started).
    pub fn start(&self, name: &str) -> Result<(), RuntimeError> {
        let doing = format!("starting container {name}");
        self.call(&doing, &["start", name], CALL_TIMEOUT)
            .map(|_| ())
    }

    /// Whether the image `image` is in the runtime's storage (`run` would pull it otherwise).
    pub fn has_image(&self, image: &str) -> Result<bool, RuntimeError> {
        let doing = format!("looking for image {image}");
        let out = self.run(
            &doing,
            &["image", "inspect", "--format", "{{.Id}}", image],
            CALL_TIMEOUT,
        )?;
        match out.status {
            0 => Ok(true),
            _ if says_missing(&out.stderr) || out.stderr.contains("image not known") => Ok(false),
            status => Err(self.failed(&doing, status, &out.stderr)),
        }
    }

    /// The containers among `names` that exist, in one call.
    pub fn inspect_many(&self, names: &[&str]) -> Result<Vec<Container>, RuntimeError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let doing = format!("inspecting {} containers", names.len());
        let mut args = vec!["container", "inspect", "--format", self.inspect_format()];
        args.extend(names);
        // A name that does not exist makes the call fail, but the others are printed.
        let out = self.run(&doing, &args, CALL_TIMEOUT)?;
        self.parse_containers(&doing, &out.stdout)
    }

    /// The names of every container the runtime has (one call, to tell a name that is free
    /// from one that is taken without asking about each).
    pub fn names(&self) -> Result<std::collections::BTreeSet<String>, RuntimeError> {
        let out = self.call(
            "listing the containers",
            &["ps", "-a", "--format", "{{.Names}}"],
            CALL_TIMEOUT,
        )?;
        Ok(out.split_whitespace().map(String::from).collect())
    }

    /// Removes container `name`, running or not; one that does not exist is fine.
    pub fn remove(&self, name: &str) -> Result<(), RuntimeError> {
        self.remove_many(&[name])
    }

    /// Removes the containers `names`, running or not, in one call (`rm -f`, killed at once:
    /// podman would otherwise give each 10 s to stop, and a `sleep` as the first process
    /// ignores SIGTERM); ones that do not exist are fine. When the call fails, each is tried
    /// alone, so the error names the one that could not be removed.
    pub fn remove_many(&self, names: &[&str]) -> Result<(), RuntimeError> {
        if names.is_empty() {
            return Ok(());
        }
        let mut args = vec!["rm", "-f"];
        if self.kind == Kind::Podman {
            args.extend(["--time", "0"]);
        }
        let one_by_one = names.len() > 1;
        args.extend(names);
        let doing = match names {
            [name] => format!("removing container {name}"),
            _ => format!("removing {} containers", names.len()),
        };
        let out = self.run(&doing, &args, CALL_TIMEOUT)?;
        match out.status {
            0 => Ok(()),
            _ if one_by_one => names.iter().try_for_each(|name| self.remove(name)),
            _ if says_missing(&out.stderr) => Ok(()),
            status => Err(self.failed(&doing, status, &out.stderr)),
        }
    }

    /// Runs the program and arguments `argv` in container `name`, without a shell (as
    /// containerlab runs `exec:` commands: split into words, then executed); `shown` is the
    /// command as written, for messages. The exit status is the command's.
    pub fn exec(
        &self,
        name: &str,
        argv: &[String],
        shown: &str,
    ) -> Result<ExecOutput, RuntimeError> {
        let doing = format!("running `{shown}` in container {name}");
        let mut args = vec!["exec", name];
        args.extend(argv.iter().map(String::as_str));
        let out = self.run(&doing, &args, EXEC_TIMEOUT)?;
        Ok(ExecOutput {
            exit: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// `create` with everything the spec says, in the options both CLIs share.
fn create_args(spec: &ContainerSpec, network: Option<&str>) -> Vec<String> {
    // A terminal and open stdin, as containerlab makes its containers (docker's Tty and
    // OpenStdin, podman's Terminal): an image whose command is a shell (alpine, debian)
    // waits on them instead of exiting at once.
    let mut args: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        "--tty".into(),
        "--interactive".into(),
        "--name".into(),
        spec.name.clone(),
    ];
    let mut opt = |flag: &str, value: &str| {
        args.push(flag.to_string());
        args.push(value.to_string());
    };
    match &spec.network_mode {
        Some(mode) => opt("--network", mode),
        None => {
            opt("--hostname", &spec.hostname);
            if let Some(network) = network {
                opt("--network", network);
            }
            if let Some(ip) = spec.mgmt_ipv4 {
                opt("--ip", &ip.to_string());
            }
            if let Some(ip) = spec.mgmt_ipv6 {
                opt("--ip6", &ip.to_string());
            }
        }
    }
    for (key, value) in &spec.labels {
        opt("--label", &format!("{key}={value}"));
    }
    for (key, value) in &spec.env {
        opt("--env", &format!("{key}={value}"));
    }
    for bind in &spec.binds {
        opt("--volume", bind);
    }
    for port in &spec.ports {
        opt("--publish", port);
    }
    if let Some(user) = &spec.user {
        opt("--user", user);
    }
    if let Some(cpu) = &spec.cpu {
        opt("--cpus", cpu);
    }
    if let Some(memory) = &spec.memory {
        opt("--memory", memory);
    }
    for (key, value) in &spec.sysctls {
        opt("--sysctl", &format!("{key}={value}"));
    }
    for device in &spec.devices {
        opt("--device", device);
    }
    for cap in &spec.cap_add {
        opt("--cap-add", cap);
    }
    // The CLIs take one word after --entrypoint: the rest of it goes before the command.
    let mut rest: Vec<String> = Vec::new();
    if let Some(entrypoint) = &spec.entrypoint
        && let Some((first, more)) = entrypoint.split_first()
    {
        opt("--entrypoint", first);
        rest.extend(more.iter().cloned());
    }
    // As containerlab: node containers are privileged unless the node says `privileged:
    // false` (a router in a container configures its interfaces, routes and sysctls).
    if spec.privileged {
        args.extend(privilege_args(bounding_set()));
    }
    args.push(spec.image.clone());
    args.extend(rest);
    if let Some(cmd) = &spec.cmd {
        args.extend(cmd.iter().cloned());
    }
    args
}

/// The capability names by bit (linux/capability.h), as the runtimes' `--cap-add` takes them.
const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// This process's capability bounding set (CapBnd in /proc/self/status); `None` if unreadable.
fn bounding_set() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// `--privileged`, unless this process's bounding set lacks a capability the runtime knows:
/// a privileged container asks its OCI runtime for all of them, and runc then fails with
/// "unable to apply caps: operation not permitted" (docker does so on a host that is itself a
/// restricted container). Then every capability it holds, named (those every runtime knows,
/// up to AUDIT_READ), and seccomp off: as close to privileged as the host allows.
fn privilege_args(bounding: Option<u64>) -> Vec<String> {
    let all = (1u64 << CAPABILITIES.len()) - 1;
    match bounding {
        Some(set) if set & all != all => {
            let mut args = Vec::new();
            // Up to AUDIT_READ: docker 20.10 refuses the three newer names ("unknown
            // capability"), so they are left out here.
            for (bit, name) in CAPABILITIES.iter().enumerate().take(38) {
                if set & (1 << bit) != 0 {
                    args.push("--cap-add".to_string());
                    args.push((*name).to_string());
                }
            }
            args.push("--security-opt".into());
            args.push("seccomp=unconfined".into());
            args
        }
        _ => vec!["--privileged".into()],
    }
}

fn parse_container(v: &Value) -> Option<Container> {
    let text = |v: &Value| v.as_str().map(String::from);
    let id = text(v.get("Id")?)?;
    let name = text(v.get("Name")?)?.trim_start_matches('/').to_string();
    let state = v.get("State");
    let running = state
        .and_then(|s| s.get("Running"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let pid = state
        .and_then(|s| s.get("Pid"))
        .and_then(Value::as_u64)
        .filter(|p| *p > 0 && running)
        .and_then(|p| u32::try_from(p).ok());
    let started_at = state
        .and_then(|s| s.get("StartedAt"))
        .and_then(text)
        .unwrap_or_default();
    let config = v.get("Config");
    let labels = config
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let image = v
        .get("ImageName")
        .and_then(text)
        .or_else(|| config.and_then(|c| c.get("Image")).and_then(text))
        .unwrap_or_default();
    let nonempty = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let addresses = v
        .pointer("/NetworkSettings/Networks")
        .and_then(Value::as_object)
        .map(|nets| {
            nets.iter()
                .map(|(net, n)| {
                    (
                        net.clone(),
                        (
                            nonempty(n.get("IPAddress")),
                            nonempty(n.get("GlobalIPv6Address")),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Container {
        id,
        name,
        running,
        pid,
        started_at,
        labels,
        image,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "clab-t-a".into(),
            hostname: "a".into(),
            image: "busybox:pw".into(),
            cmd: Some(vec!["sleep".into(), "1000".into()]),
            entrypoint: Some(vec!["/bin/env".into(), "-i".into()]),
            env: [("FOO".to_string(), "bar baz".to_string())].into(),
            binds: vec!["/tmp/x:/x:ro".into()],
            ports: vec![],
            user: None,
            labels: [("patchwire.lab".to_string(), "t".to_string())].into(),
            network_mode: None,
            mgmt_ipv4: Some("198.18.100.5".parse().unwrap()),
            mgmt_ipv6: None,
            cpu: None,
            memory: Some("64m".into()),
            sysctls: BTreeMap::new(),
            devices: vec![],
            cap_add: vec!["NET_ADMIN".into()],
            privileged: true,
        }
    }

    #[test]
    fn create_puts_options_before_the_image_and_the_entrypoints_rest_after() {
        let args = create_args(&spec(), Some("clab")).join(" ");
        assert_eq!(
            args,
            "run --detach --tty --interactive --name clab-t-a --hostname a --network clab --ip 198.18.100.5 --label \
             patchwire.lab=t --env FOO=bar baz --volume /tmp/x:/x:ro --memory 64m --cap-add \
             NET_ADMIN --entrypoint /bin/env PRIVILEGE busybox:pw -i sleep 1000"
                .replace("PRIVILEGE", &privilege_args(bounding_set()).join(" "))
        );
    }

    #[test]
    fn privileged_unless_the_bounding_set_lacks_a_capability() {
        assert_eq!(privilege_args(Some(0x1ff_ffff_ffff)), ["--privileged"]);
        assert_eq!(privilege_args(None), ["--privileged"]);
        // Bit 24 (SYS_RESOURCE) missing: the others, named.
        let args = privilege_args(Some(0x1ff_feff_ffff)).join(" ");
        assert!(args.starts_with("--cap-add CHOWN --cap-add DAC_OVERRIDE"));
        assert!(args.contains("--cap-add SYS_NICE --cap-add SYS_TIME"));
        assert!(!args.contains("SYS_RESOURCE"));
        assert!(args.ends_with("--cap-add AUDIT_READ --security-opt seccomp=unconfined"));
    }

    #[test]
    fn the_spec_hash_follows_the_spec() {
        let a = spec();
        let mut b = spec();
        assert_eq!(spec_hash(&a), spec_hash(&b));
        b.env.insert("X".into(), "1".into());
        assert_ne!(spec_hash(&a), spec_hash(&b));
        assert_eq!(spec_hash(&a).len(), 16);
    }

    #[test]
    fn inspect_output_of_both_runtimes_reads_alike() {
        let podman = r#"[{"Id":"abc","Name":"clab-t-a","State":{"Running":true,"Pid":42,
            "StartedAt":"2026-12-07T02:24:04.1Z"},"ImageName":"localhost/busybox:pw",
            "Config":{"Labels":{"patchwire.lab":"t"},"Image":"busybox:pw"},
            "NetworkSettings":{"Networks":{"clab":{"IPAddress":"198.18.100.5","GlobalIPv6Address":""}}}}]"#;
        let docker = r#"{"Id":"abc","Name":"/clab-t-a","State":{"Running":false,"Pid":0,"StartedAt":"x"},"Config":{"Labels":null,"Image":"busybox:pw"}}"#;
        let p = parse_container(&serde_json::from_str::<Vec<Value>>(podman).unwrap()[0]).unwrap();
        assert_eq!(
            (p.name.as_str(), p.pid, p.running),
            ("clab-t-a", Some(42), true)
        );
        assert_eq!(p.image, "localhost/busybox:pw");
        assert_eq!(p.addresses["clab"], (Some("198.18.100.5".into()), None));
        let d = parse_container(&serde_json::from_str(docker).unwrap()).unwrap();
        assert_eq!(
            (d.name.as_str(), d.pid, d.running),
            ("clab-t-a", None, false)
        );
        assert!(d.labels.is_empty());
    }
}
