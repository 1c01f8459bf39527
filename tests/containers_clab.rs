//! Container nodes running containerlab's own files and what they ask of a runtime, on podman
//! and docker (the runtimes and image of tests/containers.rs, in `common::containers`; the
//! management network's are tests/containers_mgmt.rs): `network-mode: container:`, containers
//! adopted or refused, runtime failures per node, shell images and `exec:` without a shell,
//! the runtime that holds a lab, namespaces never taken, `exec:` changes, `show` unable to tell
//! another runtime's container from a gone one, host-network containers.

mod common;
use common::containers::*;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use patchwire::lab::{self, Options};
use patchwire::runtime::{self, Choice, ContainerSpec, Kind};

/// The network namespace of a running container (its first process's), as (dev, inode).
fn netns_of(rt: &Rt, name: &str) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (pid, _) = rt.started(name);
    let m = std::fs::metadata(format!("/proc/{pid}/ns/net")).unwrap();
    (m.dev(), m.ino())
}

/// `network-mode: container:NODE` naming a node of the lab is that node's container (started
/// first); `container:OTHER` that is no node of the lab is passed on as written. The node that
/// shares a namespace is wired there; when the node it shares with is made again, so is it.
fn network_mode_container_names_a_node(rt: &Rt) {
    let lab = rt.lab_name("n");
    let n = rt.n;
    let other = format!("pwt-other{n}");
    rt.ok(&[
        "run",
        "-d",
        "--name",
        &other,
        "--network",
        "none",
        IMAGE,
        "sleep",
        "100000",
    ]);
    let a = spec(&lab, "a");
    let mut b = spec(&lab, "b");
    b.network_mode = Some("container:a".into());
    let mut c = spec(&lab, "c");
    c.network_mode = Some(format!("container:{other}"));
    let d = spec(&lab, "d");
    let nodes = |a: &ContainerSpec| {
        vec![
            ("a", a.clone(), vec!["echo a ran".to_string()]),
            (
                "b",
                b.clone(),
                vec![format!("ip addr add 198.18.{}.1/24 dev eth1", n + 1)],
            ),
            ("c", c.clone(), vec![]),
            (
                "d",
                d.clone(),
                vec![format!("ip addr add 198.18.{}.2/24 dev eth1", n + 1)],
            ),
        ]
    };
    let file = lab_file(rt, &lab, &[("b:eth1", "d:eth1")], nodes(&a));
    let up = lab::up_with(&file, None, &rt.options()).unwrap();
    assert!(up.exec.iter().all(|e| e.exit == 0), "{:?}", up.exec);
    // a and b share a namespace: each node's commands ran, each once.
    assert_eq!(
        up.exec.iter().map(|e| e.node.as_str()).collect::<Vec<_>>(),
        ["a", "b", "d"]
    );
    assert!(
        lab::up_with(&file, None, &rt.options())
            .unwrap()
            .exec
            .is_empty()
    );
    assert_eq!(netns_of(rt, &b.name), netns_of(rt, &a.name));
    assert_eq!(netns_of(rt, &c.name), netns_of(rt, &other));
    assert!(registered_as_running(rt, &b.name));
    // b's eth1 is in a's namespace: a reaches d through it.
    assert!(ping(rt, &a.name, &format!("198.18.{}.2", n + 1)));

    // a changed: a and b are made again, b after a and in its new namespace.
    let mut a2 = a.clone();
    a2.env.insert("CHANGED".into(), "1".into());
    let changed = lab_file(rt, &lab, &[("b:eth1", "d:eth1")], nodes(&a2));
    let plan = lab::plan_with(&changed, None, &rt.options()).unwrap();
    let shown: Vec<serde_json::Value> = plan.changes[..2]
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(
        shown,
        [
            serde_json::json!({"change": "recreate-container", "node": "a", "container": a.name,
                               "why": "its definition in the file changed"}),
            serde_json::json!({"change": "recreate-container", "node": "b", "container": b.name,
                               "why": format!("it shares the network namespace of {}, which is \
                                               made again", a.name)}),
        ]
    );
    lab::up_with(&changed, None, &rt.options()).unwrap();
    assert_eq!(netns_of(rt, &b.name), netns_of(rt, &a.name));
    assert!(ping(rt, &a.name, &format!("198.18.{}.2", n + 1)));
    assert_eq!(
        change_names(
            &lab::plan_with(&changed, None, &rt.options())
                .unwrap()
                .changes
        ),
        Vec::<String>::new()
    );
    lab::down_with(&changed, None, &rt.options()).unwrap();
    let network = changed.mgmt.as_ref().unwrap().name.clone();
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    assert!(rt.started(&other).0 > 0, "the other container runs on");
}

#[test]
fn podman_network_mode_container_names_a_node() {
    network_mode_container_names_a_node(&Rt::new(Kind::Podman));
}

#[test]
fn docker_network_mode_container_names_a_node() {
    network_mode_container_names_a_node(&Rt::new(Kind::Docker));
}

/// A runtime wrapper that, on `run`, first makes the container itself: as the `run` of an `up`
/// killed a moment before would, finishing on its own after the next `up` listed the
/// containers. With `racy-foreign` in the work folder, it makes a container of that name
/// without the lab's labels instead (someone else's). The id it made goes to `racy.id`.
fn racy_wrapper(rt: &Rt) -> PathBuf {
    let w = rt.work.display();
    let real = rt.wrapper.display();
    let path = rt.work.join("racy");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = run ]; then\n  if [ -f {w}/racy-foreign ]; then\n    \
             name=; prev=\n    for a in \"$@\"; do [ \"$prev\" = --name ] && name=\"$a\"; \
             prev=\"$a\"; done\n    {real} create --name \"$name\" {IMAGE} sleep 100000 > \
             {w}/racy.id\n  else\n    shift 2\n    {real} create \"$@\" > {w}/racy.id\n    set \
             -- run --detach \"$@\"\n  fi\nfi\nexec {real} \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The container of a node, as the runtime reports it (must exist).
fn container(rt: &Rt, name: &str) -> runtime::Container {
    rt.runtime().inspect(name).unwrap().expect(name)
}

/// A container under a node's name: someone else's (no lab labels) is refused, naming it and
/// how to remove it, before anything changes — whether it was there when `up` began or
/// appeared while it ran; the lab's own, as the file says, is adopted: a stopped one is
/// started again (same container), one made by another `up`'s `run` meanwhile is kept.
fn existing_containers_are_adopted_or_refused(rt: &Rt) {
    let lab = rt.lab_name("o");
    let n = rt.n;
    let (a, b, c) = (spec(&lab, "a"), spec(&lab, "b"), spec(&lab, "c"));
    let exec = |i: u32| vec![format!("ip addr add 198.18.{}.{i}/24 dev eth1", n + 1)];
    let two = vec![("a", a.clone(), exec(1)), ("b", b.clone(), exec(2))];
    let file = lab_file(rt, &lab, &[("a:eth1", "b:eth1")], two.clone());
    let network = file.mgmt.as_ref().unwrap().name.clone();
    let rm = format!("{} rm -f {}", rt.kind, a.name);
    let refusal = |node: &str, name: &str, rm: &str| {
        format!(
            "node {node}: container {name} exists and is not this lab's (it has no \
             patchwire.lab={lab} and patchwire.node={node} labels): remove it ({rm}) if it is not \
             needed, or make node {node} a kind: ext-container to wire it as it is"
        )
    };

    // Someone else's container under a's name, there before `up`.
    rt.ok(&["create", "--name", &a.name, IMAGE, "sleep", "100000"]);
    let e = lab::up_with(&file, None, &rt.options()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("test.clab.yml: {}", refusal("a", &a.name, &rm))
    );
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    assert!(!Path::new(&format!("/run/netns/{lab}.panel")).exists());
    rt.ok(&["rm", "-f", &a.name]);

    // The lab's own, stopped: started again, the same container, its links made anew.
    lab::up_with(&file, None, &rt.options()).unwrap();
    let id = container(rt, &a.name).id;
    rt.ok(&["stop", "-t", "0", &a.name]);
    let plan = lab::plan_with(&file, None, &rt.options()).unwrap();
    assert_eq!(
        serde_json::to_value(&plan.changes[0]).unwrap(),
        serde_json::json!({"change": "start-container", "node": "a", "container": a.name})
    );
    assert_eq!(
        lab::ContainerChange::StartContainer {
            node: "a".into(),
            container: a.name.clone()
        }
        .to_string(),
        format!(
            "~ container {} (node a): started again, it was not running",
            a.name
        )
    );
    let up = lab::up_with(&file, None, &rt.options()).unwrap();
    assert_eq!(container(rt, &a.name).id, id, "the same container");
    assert!(registered_as_running(rt, &a.name));
    assert_eq!(up.exec.len(), 1, "a's exec ran again in its new namespace");
    assert!(ping(rt, &a.name, &format!("198.18.{}.2", n + 1)));

    // c made by another `run` between the listing and ours (as the file says): adopted.
    let racy = Options {
        runtime: Choice::Only(rt.kind),
        program: Some(racy_wrapper(rt)),
    };
    let mut three = two.clone();
    three.push(("c", c.clone(), vec![]));
    let with_c = lab_file(rt, &lab, &[("a:eth1", "b:eth1")], three.clone());
    lab::up_with(&with_c, None, &racy).unwrap();
    let made = std::fs::read_to_string(rt.work.join("racy.id")).unwrap();
    let found = container(rt, &c.name);
    assert_eq!(found.id, made.trim(), "the container the other run made");
    assert!(found.running && registered_as_running(rt, &c.name));
    assert_eq!(
        change_names(
            &lab::plan_with(&with_c, None, &rt.options())
                .unwrap()
                .changes
        ),
        Vec::<String>::new()
    );

    // d: someone else's container appears under its name meanwhile: refused, naming it.
    std::fs::write(rt.work.join("racy-foreign"), "").unwrap();
    let d = spec(&lab, "d");
    let mut four = three.clone();
    four.push(("d", d.clone(), vec![]));
    let with_d = lab_file(rt, &lab, &[("a:eth1", "b:eth1")], four);
    let e = lab::up_with(&with_d, None, &racy).unwrap_err();
    let rm_d = format!("{} rm -f {}", rt.kind, d.name);
    assert_eq!(
        e.to_string(),
        format!(
            "test.clab.yml: {} (the lab is partly changed: run patchwire up again once that is \
             fixed, or patchwire down)",
            refusal("d", &d.name, &rm_d)
        )
    );
    assert!(
        container(rt, &d.name).labels.is_empty(),
        "left to its owner"
    );
    rt.ok(&["rm", "-f", &d.name]);
    lab::down_with(&with_d, None, &rt.options()).unwrap();
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_existing_containers_are_adopted_or_refused() {
    existing_containers_are_adopted_or_refused(&Rt::new(Kind::Podman));
}

#[test]
fn docker_existing_containers_are_adopted_or_refused() {
    existing_containers_are_adopted_or_refused(&Rt::new(Kind::Docker));
}

/// Images and the runtime's failures: `plan` says which image is not here (`up` has the
/// runtime pull it, as containerlab's default policy); `up` names each node the runtime failed
/// on a line of its own, where the node is written, with the runtime's words after.
fn runtime_failures_are_named_per_node(rt: &Rt) {
    let lab = rt.lab_name("i");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\ntopology:\n  \
         nodes:\n    e: {{kind: linux, image: localhost/pwt-missing-e:none, cmd: sleep 1}}\n    \
         f: {{kind: linux, image: localhost/pwt-missing-f:none, cmd: sleep 1}}\n    g: {{kind: \
         linux, image: {IMAGE}, cmd: sleep 100000}}\n"
    );
    let path = rt.work.join("images.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for node in ["e", "f"] {
        let line = format!(
            "+ container clab-{lab}-{node} (node {node}, image localhost/pwt-missing-{node}:none: \
             not here, up has the runtime pull it)\n"
        );
        assert!(stdout.contains(&line), "{line} in {stdout}");
    }
    let line = format!("+ container clab-{lab}-g (node g, image {IMAGE})\n");
    assert!(stdout.contains(&line), "{line} in {stdout}");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("patchwire: "))
        .expect("an error");
    let failed: Vec<&str> = lines[first..]
        .iter()
        .map(|l| l.trim_start_matches("patchwire: "))
        .filter(|l| l.starts_with(path))
        .collect();
    assert_eq!(failed.len(), 2, "{stderr}");
    for (line, (node, at)) in failed.iter().zip([("e", "7:5"), ("f", "8:5")]) {
        let start = format!(
            "{path}:{at}: node {node}: {}: starting container clab-{lab}-{node}: ",
            rt.kind
        );
        assert!(line.starts_with(&start), "{start} in {stderr}");
        assert!(
            line.len() > start.len(),
            "the runtime's words follow: {line}"
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some(
            "(the lab is partly changed: run patchwire up again once that is fixed, or patchwire \
             down)"
        )
    );
    assert!(container(rt, &format!("clab-{lab}-g")).running);
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_runtime_failures_are_named_per_node() {
    runtime_failures_are_named_per_node(&Rt::new(Kind::Podman));
}

#[test]
fn docker_runtime_failures_are_named_per_node() {
    runtime_failures_are_named_per_node(&Rt::new(Kind::Docker));
}

/// An image whose default command is a shell (alpine, debian without `cmd:`) keeps running:
/// containers get a terminal and open stdin, as containerlab makes them. Its `exec:` commands
/// are split into words and run without a shell, as containerlab runs them; one that does not
/// split is refused when the file is read, at the list item that writes it.
fn shell_images_stay_up_and_exec_runs_without_a_shell(rt: &Rt) {
    let lab = rt.lab_name("s");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let image = "localhost/pw-busybox:sh";
    rt.ok(&[
        "import",
        "--change",
        r#"CMD ["/bin/sh"]"#,
        image_tar().to_str().unwrap(),
        image,
    ]);
    let text = |exec: &str| {
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n\
             topology:\n  nodes:\n    s:\n      kind: linux\n      image: {image}\n      \
             exec:\n        - {exec}\n"
        )
    };
    let path = rt.work.join("shell.clab.yml");
    std::fs::write(&path, text(r#""echo 'a""#)).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "patchwire: {path}:11:11: node s: exec `echo 'a`: cannot split it into words (an \
             unbalanced quote, a trailing backslash, or nothing at all); exec commands are split \
             as a shell would and run without one, as containerlab runs them\n"
        )
    );
    std::fs::write(path, text(r#""echo a; echo \"$ZZZ\" > /tmp/z""#)).unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.ends_with("exec s: echo a; echo \"$ZZZ\" > /tmp/z\n  s| a; echo $ZZZ > /tmp/z\n"),
        "{stdout}"
    );
    let name = format!("clab-{lab}-s");
    assert!(container(rt, &name).running);
    assert!(registered_as_running(rt, &name));
    // No shell ran the words: nothing was written.
    assert!(
        !rt.cli(&["exec", &name, "test", "-e", "/tmp/z"])
            .status
            .success()
    );
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_shell_images_stay_up_and_exec_runs_without_a_shell() {
    shell_images_stay_up_and_exec_runs_without_a_shell(&Rt::new(Kind::Podman));
}

#[test]
fn docker_shell_images_stay_up_and_exec_runs_without_a_shell() {
    shell_images_stay_up_and_exec_runs_without_a_shell(&Rt::new(Kind::Docker));
}

/// The CLI in `rt`'s namespace with both runtimes answering (podman's and docker's wrappers)
/// and no `-r`.
fn patchwire_both(
    rt: &Rt,
    podman: &Rt,
    docker: &Rt,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", rt.ns.name))
        .arg(env!("CARGO_BIN_EXE_patchwire"))
        .args(args)
        .env("PATCHWIRE_PODMAN", &podman.wrapper)
        .env("PATCHWIRE_DOCKER", &docker.wrapper)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Without `-r`, with docker and podman both answering, `plan`, `up` and `down` use the
/// runtime that holds the lab's containers (podman here, although docker answers first); a lab
/// with containers in both is refused, naming both and `-r`.
#[test]
fn commands_follow_the_runtime_that_holds_the_lab() {
    let podman = Rt::new(Kind::Podman);
    let docker = Rt::new(Kind::Docker);
    let lab = podman.lab_name("h");
    docker.adopt_lab(&lab);
    let n = podman.n;
    let network = format!("pwt-net{n}-2");
    let text = format!(
        "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\ntopology:\n  \
         nodes:\n    a: {{kind: linux, image: {IMAGE}, cmd: sleep 100000}}\n"
    );
    let path = podman.work.join("held.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = podman.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let both = |args: &[&str]| patchwire_both(&podman, &podman, &docker, args);
    let (code, stdout, stderr) = both(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: the kernel matches the file\n"));
    let (code, stdout, stderr) = both(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: up to date, nothing changed\n"));
    let filter = format!("label=patchwire.lab={lab}");
    assert_eq!(docker.ok(&["ps", "-a", "-q", "--filter", &filter]), "");
    // A container of the lab's in docker too: which runtime is the lab's is the user's to say.
    docker.ok(&[
        "run",
        "--detach",
        "--name",
        "pwt-other",
        "--label",
        &format!("patchwire.lab={lab}"),
        "--label",
        "patchwire.node=z",
        IMAGE,
        "sleep",
        "100000",
    ]);
    let refusal = format!(
        "patchwire: lab {lab} has containers in both docker (pwt-other) and podman \
         (clab-{lab}-a): say which runtime is the lab's with -r docker or -r podman (patchwire \
         down -r RUNTIME FILE removes the other's)\n"
    );
    for command in [
        &["plan", path][..],
        &["up", path],
        &["down", path],
        &["down", "--name", &lab],
    ] {
        let (code, stdout, stderr) = both(command);
        assert_eq!(code, Some(1), "{command:?}: {stdout}{stderr}");
        assert_eq!(stderr, refusal, "{command:?}");
    }
    let (code, stdout, stderr) = docker.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(docker.ok(&["ps", "-a", "-q", "--filter", &filter]), "");
    // Only podman holds it again: a `down` without -r removes podman's (by name: no file).
    let (code, stdout, stderr) = both(&["down", "--name", &lab]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("removed container clab-{lab}-a\n")),
        "{stdout}"
    );
    assert_eq!(leftovers(&podman, &lab, &network), Vec::<String>::new());
}

/// A network namespace that is not the lab's under a container's name (`ip netns add`, with
/// a veth in it): `plan` and `up` refuse before anything changes, naming it and what to do;
/// `down` never deletes one (the registration swapped for someone else's after `up`).
fn foreign_namespaces_are_never_taken(rt: &Rt) {
    let lab = rt.lab_name("d");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    // Named like a test namespace, so a failed test's leftovers are found; the file's
    // `prefix: ""` makes it the container's name.
    let decoy = TestNs::new();
    let name = decoy.name.clone();
    run(
        "ip",
        &[
            "-n", &name, "link", "add", "pwtd0", "type", "veth", "peer", "name", "pwtd1",
        ],
    );
    let text = format!(
        "name: {lab}\nprefix: \"\"\nmgmt:\n  network: {network}\n  ipv4-subnet: \
         198.18.{n}.0/24\ntopology:\n  nodes:\n    {name}: {{kind: linux, image: {IMAGE}, cmd: \
         sleep 100000}}\n"
    );
    let path = rt.work.join("decoy.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let refusal = format!(
        "patchwire: {path}:8:5: node {name}: netns {name} exists (/run/netns/{name}) and is not \
         lab {lab}'s registration of container {name} (not its namespace, no \
         patchwire.ctr.{lab} mark on its loopback): up would put the container's namespace in \
         its place; delete it (ip netns delete {name}) if it is not needed, or give the node \
         another name (or the file a prefix:)\n"
    );
    let veths = |ns: &str| run("ip", &["-n", ns, "-o", "link", "show", "type", "veth"]);
    for command in ["plan", "up"] {
        let (code, stdout, stderr) = rt.patchwire(&[command, path]);
        assert_eq!(code, Some(1), "{command}: {stdout}{stderr}");
        assert_eq!(stderr, refusal, "{command}");
        assert!(veths(&name).contains("pwtd0"), "{command}");
        assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
    }
    // The namespace gone, up makes the container and registers its namespace.
    run("ip", &["netns", "delete", &name]);
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(registered_as_running(rt, &name));
    assert_eq!(
        rt.patchwire(&["plan", path]).1,
        format!("lab {lab}: the kernel matches the file\n")
    );
    // Someone else's namespace in its place: refused again; down leaves it.
    run("ip", &["netns", "delete", &name]);
    run("ip", &["netns", "add", &name]);
    run(
        "ip",
        &[
            "-n", &name, "link", "add", "pwtd0", "type", "veth", "peer", "name", "pwtd1",
        ],
    );
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(stderr, refusal);
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "removed netns {lab}.panel\nremoved container {name}\nremoved network {network} \
             (the lab had made it)\n"
        )
    );
    assert_eq!(
        stderr,
        format!(
            "note: netns {name} is not lab {lab}'s registration of container {name} (not its \
             namespace, no patchwire.ctr.{lab} mark): left as it is\n"
        )
    );
    assert!(veths(&name).contains("pwtd0"));
}

#[test]
fn podman_foreign_namespaces_are_never_taken() {
    foreign_namespaces_are_never_taken(&Rt::new(Kind::Podman));
}

#[test]
fn docker_foreign_namespaces_are_never_taken() {
    foreign_namespaces_are_never_taken(&Rt::new(Kind::Docker));
}

/// `exec:` is part of a node's definition: commands changed, the node is made again and runs
/// the new ones. Commands a killed `up` did not get to run are listed by `plan` and run by
/// `up` as a change (not "nothing changed").
fn exec_changes_and_pending_exec_are_changes(rt: &Rt) {
    let lab = rt.lab_name("x");
    let n = rt.n;
    let network = format!("pwt-net{n}-2");
    let text = |word: &str| {
        format!(
            "name: {lab}\nmgmt:\n  network: {network}\n  ipv4-subnet: 198.18.{n}.0/24\n\
             topology:\n  nodes:\n    a:\n      kind: linux\n      image: {IMAGE}\n      cmd: \
             sleep 100000\n      exec:\n        - echo {word}\n"
        )
    };
    let path = rt.work.join("exec.clab.yml");
    std::fs::write(&path, text("one")).unwrap();
    let path = path.to_str().unwrap();
    let name = format!("clab-{lab}-a");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("exec a: echo one\n  a| one\n"), "{stdout}");
    // As an `up` killed after the wiring leaves it: the commands' mark not on the loopback.
    run(
        "ip",
        &[
            "-n",
            &name,
            "link",
            "property",
            "del",
            "dev",
            "lo",
            "altname",
            "patchwire.exec-done",
        ],
    );
    let pending =
        format!("~ exec: node a: commands not run yet in container {name} (up runs them)\n");
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&pending), "{stdout}");
    let before = rt.started(&name);
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&pending), "{stdout}");
    assert!(stdout.ends_with("exec a: echo one\n  a| one\n"), "{stdout}");
    assert_eq!(rt.started(&name), before);
    assert_eq!(
        rt.patchwire(&["plan", path]).1,
        format!("lab {lab}: the kernel matches the file\n")
    );
    // The commands changed: the node is made again, and runs them.
    std::fs::write(path, text("two")).unwrap();
    let recreated = format!("~ container {name} (node a): recreated, its exec: commands changed\n");
    let (code, stdout, stderr) = rt.patchwire(&["plan", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&recreated), "{stdout}");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with(&recreated), "{stdout}");
    assert!(stdout.ends_with("exec a: echo two\n  a| two\n"), "{stdout}");
    assert_ne!(rt.started(&name).0, before.0);
    assert!(registered_as_running(rt, &name));
    assert_eq!(
        rt.patchwire(&["plan", path]).1,
        format!("lab {lab}: the kernel matches the file\n")
    );
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(leftovers(rt, &lab, &network), Vec::<String>::new());
}

#[test]
fn podman_exec_changes_and_pending_exec_are_changes() {
    exec_changes_and_pending_exec_are_changes(&Rt::new(Kind::Podman));
}

#[test]
fn docker_exec_changes_and_pending_exec_are_changes() {
    exec_changes_and_pending_exec_are_changes(&Rt::new(Kind::Docker));
}

/// `show --lab` asking a runtime that holds none of the lab's containers (only podman
/// answers; the lab is docker's, at a socket of its own) while a process runs in each node's
/// registered namespace: it says it cannot tell, and names `-r docker`, instead of calling
/// the containers gone and advising an `up` that would make them twice.
#[test]
fn show_cannot_tell_a_container_of_another_runtime_from_a_gone_one() {
    let podman = Rt::new(Kind::Podman);
    let docker = Rt::new(Kind::Docker);
    let lab = docker.lab_name("o");
    let n = docker.n;
    let text = format!(
        "name: {lab}\nmgmt:\n  network: pwt-net{n}-2\n  ipv4-subnet: 198.18.{n}.0/24\n\
         topology:\n  nodes:\n    a: {{kind: linux, image: {IMAGE}, cmd: sleep 100000}}\n"
    );
    let path = docker.work.join("other.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = docker.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", docker.ns.name))
        .arg(env!("CARGO_BIN_EXE_patchwire"))
        .args(["show", "--lab", path])
        .env("PATCHWIRE_PODMAN", &podman.wrapper)
        .env("PATCHWIRE_DOCKER", "/nonexistent/docker")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let unknown = format!(
        "! node a: container clab-{lab}-a: not found in podman; its namespace is registered and a \
         process runs in it — is it in another runtime? patchwire show --lab {path} -r docker\n"
    );
    assert!(stdout.ends_with(&unknown), "{stdout}");
    assert!(!stdout.contains("is gone"), "{stdout}");
    let (code, stdout, stderr) = docker.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

/// A `network-mode: host` container is registered as the host's namespace: `up` never marks
/// the host's loopback as the lab's registration, and `down` leaves the host's namespace.
fn host_network_containers_leave_the_hosts_loopback_alone(rt: &Rt) {
    let lab = rt.lab_name("k");
    let n = rt.n;
    let text = format!(
        "name: {lab}\nmgmt:\n  network: pwt-net{n}-2\n  ipv4-subnet: 198.18.{n}.0/24\n\
         topology:\n  nodes:\n    h: {{kind: linux, image: {IMAGE}, cmd: sleep 100000, \
         network-mode: host}}\n"
    );
    let path = rt.work.join("hostnet.clab.yml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lo = run("ip", &["-n", &rt.ns.name, "-d", "link", "show", "lo"]);
    assert!(!lo.contains("patchwire.ctr"), "{lo}");
    let (code, stdout, stderr) = rt.patchwire(&["up", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("lab {lab}: up to date, nothing changed\n"));
    let (code, stdout, stderr) = rt.patchwire(&["down", path]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(Path::new(&format!("/run/netns/{}", rt.ns.name)).exists());
}

#[test]
fn podman_host_network_containers_leave_the_hosts_loopback_alone() {
    host_network_containers_leave_the_hosts_loopback_alone(&Rt::new(Kind::Podman));
}

#[test]
fn docker_host_network_containers_leave_the_hosts_loopback_alone() {
    host_network_containers_leave_the_hosts_loopback_alone(&Rt::new(Kind::Docker));
}
