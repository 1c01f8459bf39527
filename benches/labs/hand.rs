//! (a) and (b): the lab built by hand — bare `ip -batch`, and a tc + bridge script.

use super::*;

pub(crate) struct HandRun {
    pub(crate) up: Duration,
    /// What the up time is made of, in order.
    pub(crate) phases: Vec<(&'static str, Duration)>,
    pub(crate) settle: Duration,
    /// 200 `ip -n NODE -batch` processes that only read lo: the process share of "nodes up".
    pub(crate) processes: Duration,
    pub(crate) delete: Duration,
    pub(crate) cleanup: Duration,
}

/// Runs `commands` (one a line) through `ip` or `tc` with `-batch`, `chunk` lines a process.
pub(crate) fn batch(
    scratch: &Scratch,
    tool: &str,
    netns: Option<&str>,
    commands: &[String],
    chunk: usize,
) -> Result<Duration> {
    let mut took = Duration::ZERO;
    for (i, part) in commands.chunks(chunk).enumerate() {
        let file = scratch.file(&format!("{tool}-{i}.batch"), &(part.join("\n") + "\n"))?;
        let mut command = Command::new(tool);
        if let Some(netns) = netns {
            command.args(["-n", netns]);
        }
        command.arg("-batch").arg(&file);
        let start = Instant::now();
        run(&mut command)?;
        took += start.elapsed();
    }
    Ok(took)
}

pub(crate) fn by_hand(
    lab: &Lab,
    scratch: &Scratch,
    probe: &Probe,
    script: bool,
) -> Result<HandRun> {
    let topology = &lab.topology;
    // Only the ip and tc processes are timed, not writing their batch files.
    let mut namespaces = vec![
        format!("netns add {}", lab.panel),
        format!(
            "netns exec {} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
             net.ipv6.conf.default.disable_ipv6=1",
            lab.panel
        ),
    ];
    namespaces.extend((0..NODES).map(|i| format!("netns add {}", lab.node_netns(i))));
    let mut pairs: Vec<String> = topology
        .endpoints()
        .map(|e| {
            format!(
                "link add {} type veth peer name {} netns {}",
                e.port(),
                e.interface,
                lab.node_netns(e.node)
            )
        })
        .collect();
    let bridges: Vec<String> = (0..topology.hubs.len())
        .map(|h| format!("brh{h}"))
        .collect();
    let mut tc = Vec::new();
    if script {
        for (h, hub) in topology.hubs.iter().enumerate() {
            pairs.push(format!("link add {} type bridge", bridges[h]));
            for member in hub {
                pairs.push(format!(
                    "link set dev {} master {}",
                    member.port(),
                    bridges[h]
                ));
            }
        }
        for [a, b] in &topology.wires {
            let (a, b) = (a.port(), b.port());
            tc.push(format!("qdisc add dev {a} clsact"));
            tc.push(format!("qdisc add dev {b} clsact"));
            for (from, to) in [(&a, &b), (&b, &a)] {
                tc.push(format!(
                    "filter add dev {from} ingress pref {WIRE_PRIO} protocol all u32 match u32 0 0 \
                     action mirred egress redirect dev {to}"
                ));
            }
        }
    }
    let mut panel_up = vec!["link set dev lo up".to_string()];
    panel_up.extend(
        topology
            .endpoints()
            .map(|e| format!("link set dev {} up", e.port())),
    );
    if script {
        panel_up.extend(bridges.iter().map(|b| format!("link set dev {b} up")));
    }
    let mut node_up: Vec<Vec<String>> = (0..NODES)
        .map(|_| vec!["link set dev lo up".to_string()])
        .collect();
    for e in topology.endpoints() {
        node_up[e.node].push(format!("link set dev {} up", e.interface));
    }
    let delete: Vec<String> = std::iter::once(lab.panel.clone())
        .chain((0..NODES).map(|i| lab.node_netns(i)))
        .map(|n| format!("netns del {n}"))
        .collect();

    let mut phases = Vec::new();
    phases.push((
        "namespaces",
        batch(scratch, "ip", None, &namespaces, CREATE_CHUNK)?,
    ));
    phases.push((
        if script { "veths+bridges" } else { "veths" },
        batch(scratch, "ip", Some(&lab.panel), &pairs, CREATE_CHUNK)?,
    ));
    if script {
        phases.push((
            "tc wires",
            batch(scratch, "tc", Some(&lab.panel), &tc, usize::MAX)?,
        ));
    }
    phases.push((
        "panel up",
        batch(scratch, "ip", Some(&lab.panel), &panel_up, usize::MAX)?,
    ));
    let mut nodes = Duration::ZERO;
    for (i, commands) in node_up.iter().enumerate() {
        nodes += batch(
            scratch,
            "ip",
            Some(&lab.node_netns(i)),
            commands,
            usize::MAX,
        )?;
    }
    phases.push(("nodes up (200 ip)", nodes));
    // The processes only: writing the batch files is left out.
    let up = phases.iter().map(|(_, took)| *took).sum();

    let ports = panel_ports(lab)?;
    ensure!(
        ports == PORTS,
        "{}: the panel holds {ports} ports, expected {PORTS}",
        if script { "(b)" } else { "(a)" }
    );
    if script {
        check_script(lab)?;
    }
    let settle = settle(lab, PORTS + if script { HUBS } else { 0 })?;
    // What the 200 processes of "nodes up" cost by themselves: the same processes reading
    // their node's lo instead.
    let look = vec!["link show dev lo".to_string()];
    let mut processes = Duration::ZERO;
    for i in 0..NODES {
        processes += batch(scratch, "ip", Some(&lab.node_netns(i)), &look, 1)?;
    }

    let start = Instant::now();
    batch(scratch, "ip", None, &delete, usize::MAX)?;
    let delete = start.elapsed();
    let cleanup = probe.await_cleanup(lab)?;
    Ok(HandRun {
        up,
        phases,
        settle,
        processes,
        delete,
        cleanup,
    })
}

/// (b) made 2,000 clsact qdiscs, the first and last wire redirect both ways, and 160 ports
/// are bridge ports.
pub(crate) fn check_script(lab: &Lab) -> Result<()> {
    let qdiscs = run(Command::new("tc").args(["-n", &lab.panel, "qdisc", "show"]))?;
    let clsact = qdiscs
        .lines()
        .filter(|l| l.starts_with("qdisc clsact"))
        .count();
    ensure!(
        clsact == 2 * WIRES,
        "(b): the panel holds {clsact} clsact qdiscs, expected {}",
        2 * WIRES
    );
    for [a, b] in [&lab.topology.wires[0], &lab.topology.wires[WIRES - 1]] {
        let (a, b) = (a.port(), b.port());
        for (from, to) in [(&a, &b), (&b, &a)] {
            let filters = run(Command::new("tc")
                .args(["-n", &lab.panel, "filter", "show", "dev", from, "ingress"]))?;
            ensure!(
                filters.contains(&format!("Egress Redirect to device {to})")),
                "(b): {from} does not redirect to {to}:\n{filters}"
            );
        }
    }
    let links = ip(&["-n", &lab.panel, "-o", "link", "show"])?;
    let members = links.lines().filter(|l| l.contains(" master brh")).count();
    ensure!(
        members == HUBS * HUB_MEMBERS,
        "(b): {members} bridge ports, expected {}",
        HUBS * HUB_MEMBERS
    );
    Ok(())
}
