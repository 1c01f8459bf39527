//! The lab: its topology, the files that describe it (whole and edited), and the guard that
//! takes it down.

use super::*;

/// `NODE:IF`: node n(node), interface `interface`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) node: usize,
    pub(crate) interface: String,
}

impl Endpoint {
    pub(crate) fn new(node: usize, number: usize) -> Self {
        Endpoint {
            node,
            interface: format!("eth{number}"),
        }
    }

    /// The panel port patchwire makes for it (`NODE.IF`: at most 10 bytes here, never hashed).
    pub(crate) fn port(&self) -> String {
        format!("n{}.{}", self.node, self.interface)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}:{}", self.node, self.interface)
    }
}

#[derive(Clone)]
pub(crate) struct Topology {
    pub(crate) wires: Vec<[Endpoint; 2]>,
    pub(crate) hubs: Vec<Vec<Endpoint>>,
}

impl Topology {
    pub(crate) fn new() -> Self {
        let mut next = vec![0usize; NODES];
        let mut take = |node: usize| {
            next[node] += 1;
            Endpoint::new(node, next[node])
        };
        let mut wires = Vec::with_capacity(WIRES);
        for d in OFFSETS {
            for i in 0..NODES {
                wires.push([take(i), take((i + d) % NODES)]);
            }
        }
        let hubs = (0..HUBS)
            .map(|h| (0..HUB_MEMBERS).map(|j| take(h + HUBS * j)).collect())
            .collect();
        Topology { wires, hubs }
    }

    /// The same lab with the second endpoint of the given wires moved to a fresh interface of
    /// the same node (ethN above any the node has).
    pub(crate) fn repoint(&self, wires: impl IntoIterator<Item = usize>) -> Self {
        let mut next = vec![0usize; NODES];
        for e in self.endpoints() {
            let n: usize = e.interface["eth".len()..].parse().expect("ethN");
            next[e.node] = next[e.node].max(n);
        }
        let mut edited = self.clone();
        for k in wires {
            let node = edited.wires[k][1].node;
            next[node] += 1;
            edited.wires[k][1] = Endpoint::new(node, next[node]);
        }
        edited
    }

    pub(crate) fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.wires
            .iter()
            .flat_map(|w| w.iter())
            .chain(self.hubs.iter().flatten())
    }

    pub(crate) fn yaml(&self, name: &str) -> String {
        let mut out = format!(
            "# {NODES} nodes, {WIRES} wires, {HUBS} hubs of {HUB_MEMBERS} (benches/labs.rs)\n\
             name: {name}\ntopology:\n  nodes:\n"
        );
        for i in 0..NODES {
            let _ = writeln!(out, "    n{i}: {{}}");
        }
        out.push_str("  links:\n");
        for link in self
            .wires
            .iter()
            .map(|w| w.as_slice())
            .chain(self.hubs.iter().map(Vec::as_slice))
        {
            let quoted: Vec<String> = link.iter().map(|e| format!("\"{e}\"")).collect();
            let _ = writeln!(out, "    - endpoints: [{}]", quoted.join(", "));
        }
        out
    }
}

pub(crate) struct Files {
    pub(crate) base: PathBuf,
    /// EDIT_SMALL wires re-pointed.
    pub(crate) small: PathBuf,
    /// EDIT_LARGE more re-pointed, on top of `small`.
    pub(crate) large: PathBuf,
}

pub(crate) struct Lab {
    pub(crate) name: String,
    pub(crate) panel: String,
    pub(crate) topology: Topology,
    pub(crate) files: Files,
}

impl Lab {
    pub(crate) fn new(scratch: &Scratch) -> Result<Self> {
        let name = format!("pwb{}", std::process::id());
        let topology = Topology::new();
        ensure!(
            topology.endpoints().count() == PORTS,
            "the lab has {PORTS} endpoints"
        );
        // Wires 0, 100, … 900 first; then 5, 15, … 995: other wires, spread over the lab.
        let small = topology.repoint((0..EDIT_SMALL).map(|i| i * WIRES / EDIT_SMALL));
        let large =
            small.repoint((0..EDIT_LARGE).map(|i| i * WIRES / EDIT_LARGE + WIRES / EDIT_LARGE / 2));
        let files = Files {
            base: scratch.file("lab.yaml", &topology.yaml(&name))?,
            small: scratch.file("lab-edit10.yaml", &small.yaml(&name))?,
            large: scratch.file("lab-edit110.yaml", &large.yaml(&name))?,
        };
        Ok(Lab {
            panel: format!("{name}.panel"),
            name,
            topology,
            files,
        })
    }

    pub(crate) fn node_netns(&self, node: usize) -> String {
        format!("{}-n{node}", self.name)
    }

    /// The namespaces named after this lab that exist now.
    pub(crate) fn namespaces(&self) -> Result<Vec<String>> {
        let (node, panel) = (format!("{}-", self.name), format!("{}.", self.name));
        Ok(ip(&["netns", "list"])?
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&node) || n.starts_with(&panel))
            .map(str::to_string)
            .collect())
    }
}

/// Takes the lab down at the end, also on error or panic: `patchwire down`, then whatever
/// namespace under the lab's name is left (the ones (a) and (b) make).
pub(crate) struct Guard<'a> {
    pub(crate) lab: &'a Lab,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .arg("down")
            .arg(&self.lab.files.base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        for name in self.lab.namespaces().unwrap_or_default() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}
