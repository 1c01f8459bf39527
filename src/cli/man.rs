//! `patchwire man [DIR]`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use super::{Cli, Exit, print_json};

/// Write the manual pages (roff): the main page on stdout, or every page into DIR.
///
/// Generated from the same definitions as --help. With DIR, one page per command and
/// subcommand: patchwire.1, patchwire-link.1, patchwire-mirror.1, patchwire-mirror-add.1, ...,
/// and the lab file format, patchwire-lab.5 (DIR is created if missing; the paths written are
/// printed, one a line; a section-5 page belongs in man5/). Read one with
/// `man -l DIR/patchwire-link.1`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
patchwire man | man -l -\n  \
patchwire man /usr/local/share/man/man1")]
pub struct Args {
    /// Directory to write every page into.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<Exit> {
    super::lab::refuse_netns(cli, "man");
    let pages = pages();
    let Some(dir) = &args.dir else {
        let (_, main) = pages.first().expect("the main page comes first");
        std::io::stdout().write_all(main)?;
        return Ok(Exit::Ok);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, page) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    if cli.json {
        print_json(&serde_json::json!({ "pages": written }))?;
    } else {
        for path in written {
            println!("{}", path.display());
        }
    }
    Ok(Exit::Ok)
}

/// Every page as (file name, roff), the main page first, then each subcommand depth-first,
/// then the lab file format, patchwire-lab(5).
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building gives each subcommand its display name ("patchwire-mirror-add") and its usage
    // line ("patchwire mirror add").
    command.build();
    let mut pages = Vec::new();
    collect(&command, &mut pages);
    pages.push(("patchwire-lab.5".into(), lab_page().into_bytes()));
    pages
}

/// patchwire-lab(5): the lab file format, written here (clap knows commands, not file
/// formats) around the same examples docs/labs.md shows and the checks use.
fn lab_page() -> String {
    use patchwire::lab::file;
    let example = |text: &str| {
        let lines: Vec<String> = text.lines().map(roff_line).collect();
        format!(".PP\n.RS 4\n.nf\n{}\n.fi\n.RE\n", lines.join("\n"))
    };
    format!(
        r#".TH patchwire-lab 5 "" "patchwire {version}" "patchwire manual"
.SH NAME
patchwire-lab \- the lab file: nodes, links, mirrors and hosts of a patchwire lab
.SH SYNOPSIS
.nf
name: \fILAB\fR
[hosts: {{\fIHOST\fR: {{address: \fIIP\fR}}, ...}}]
[defaults: {{mtu: \fIN\fR, tx\-checksum: on|off|unset, datapath: tc|ebpf}}]
[vxlan: {{port: \fIPORT\fR}}]
topology:
  nodes: {{\fINODE\fR: {{...}}, ...}}
  links: [{{endpoints: [\fINODE\fR:\fIIF\fR, ...], ...}}, ...]
  mirrors: [{{name: \fIM\fR, from: [\fINODE\fR:\fIIF\fR, ...], to: \fINODE\fR:\fIIF\fR, ...}}, ...]
.fi
.SH DESCRIPTION
A lab file is one YAML document that describes a whole lab: the nodes (network namespaces and
qemu VMs), the links that join their interfaces as if by cables (two endpoints make a wire,
three or more a hub segment), the mirrors that copy what crosses some endpoints to an analyzer,
and, for a lab spread over several machines, the hosts.
.BR "patchwire up" ,
.BR plan ,
.BR down ,
.B graph
and
.B "show \-\-lab"
read it; \fIFILE\fR may be \fB\-\fR for stdin.
It is containerlab's topology format with patchwire's keys added: a containerlab file runs as
it is, its container nodes through podman or docker (docs/containerlab.md maps every key).
\fB${{VAR}}\fR and \fB${{VAR:\-default}}\fR are expanded from the environment before the file is
read, as containerlab does; an unset variable without a default stays as written and is named
in a note. Every key not listed below or in docs/containerlab.md is refused, with a known key
of the same place suggested; a file's unknown keys, vendor nodes and undefined nodes are
reported together. Keys accepted but not acted on are named once each in a note.
.SH TOP-LEVEL KEYS
.TP
.B name
The lab's name, 1\-32 characters from A\-Z a\-z 0\-9 _ \-. Required.
.TP
.B hosts
For a lab over several machines: \fINAME\fR: {{address: \fIIP\fR}} per host, in order. A
node without \fBhost\fR is on the first host.
.TP
.B hosts.NAME.address
The host's underlay address, IPv4 or IPv6 (not unspecified or multicast); no two hosts share
one. Required for each host.
.TP
.B prefix
containerlab's container name prefix: none gives clab\-\fILAB\fR\-\fINODE\fR, "" gives
\fINODE\fR, __lab\-name gives \fILAB\fR\-\fINODE\fR, any other
\fIPREFIX\fR\-\fILAB\fR\-\fINODE\fR.
.TP
.B mgmt
containerlab's management network of container nodes: network (default clab), ipv4\-subnet
(default 172.20.20.0/24), ipv6\-subnet (default 3fff:172:20:20::/64), bridge, mtu.
.TP
.B settings
containerlab's lab settings (certificate authority and the like): accepted and named in a
note; patchwire does nothing with them.
.TP
.B defaults.mtu
MTU of every link that sets none, 68\-65535 (default 1500; 9500, containerlab's, in a file
named *.clab.yml or using containerlab's keys).
.TP
.B defaults.tx\-checksum
TX checksum offload of the lab's interfaces: on, off or unset (default: each interface keeps
its own setting).
.TP
.B defaults.datapath
How wires move frames: tc (u32 + mirred, the default) or ebpf (a cls_bpf program).
.TP
.B defaults.impair
An impairment (see IMPAIRMENT KEYS) of every direction of every link between nodes; a link's
\fBimpair\fR merges over it key by key (a zero removes a default).
.TP
.B vxlan.port
UDP port of cross-host links, 1\-65535 (default 4789).
.TP
.B topology.nodes
\fINODE\fR: {{...}} per node; an empty entry is a namespace the lab creates, named
\fILAB\fR\-\fINODE\fR. Node names: 1\-32 characters from A\-Z a\-z 0\-9 _ \-.
.TP
.B topology.links
A list of links.
.TP
.B topology.mirrors
A list of mirrors.
.TP
.B topology.defaults
.TQ
.B topology.kinds
.TQ
.B topology.groups
containerlab's node definitions (defaults; one entry per kind and per group), inherited
node > group > kind > defaults: scalars from the
first level that sets them, env, labels and sysctls merged key by key, binds, exec, env\-files,
devices and cap\-add appended.
.SH NODE KEYS
.TP
.B kind
namespace (the default): a network namespace, its endpoints ordinary interfaces; vm: a qemu
VM, its endpoints persistent taps the lab makes; hub: every link to the node joins one
transparent segment; containerlab's linux (a container with an image, a namespace without;
a node with an image and no kind is linux), ext\-container (a container started by something
else, found by the node's name), bridge (an existing Linux bridge named as the node), host
(the host's namespace). Vendor kinds are refused, every such node in one message.
.TP
.B host
The host the node is on, one of \fBhosts\fR.
.TP
.B netns
An existing namespace instead of one the lab creates: a name under /run/netns, an absolute path
such as /proc/\fIPID\fR/ns/net, or {{pid: \fIPID\fR}}. Not for a vm; two nodes cannot share
a namespace.
.TP
.B owner
vm only: the user (name or uid) that may open the taps, for an unprivileged qemu.
.TP
.B group
vm: the group (name or gid) that may open the taps; other nodes: containerlab's group.
.TP
.B vnet\-hdr
vm only: the taps carry a virtio\-net header (qemu vnet_hdr=on; default true).
.TP
.B queues
vm only: queues per tap, 1\-256 (default 1); qemu needs queues=\fIN\fR with mq=on and
vectors=2\fIN\fR+2.
.TP
.B image
.TQ
.B cmd
.TQ
.B entrypoint
.TQ
.B env
.TQ
.B env\-files
.TQ
.B binds
.TQ
.B exec
containerlab's container keys (also ports, user, labels, network\-mode, cpu, memory, sysctls,
devices, cap\-add, privileged, mgmt\-ipv4, mgmt\-ipv6, hostname): a container named by
\fBprefix\fR, run by the runtime, its namespace under /run/netns by that name; cmd and
entrypoint split as a shell would; env\-files and the host side of binds relative to the
file's folder; exec run in the container once its links are wired.
.SH LINK KEYS
.TP
.B endpoints
Two or more endpoints, each \fINODE\fR:\fIIF\fR (split at the first colon; \fIIF\fR at
most 15 bytes) or containerlab's {{node: \fINODE\fR, interface: \fIIF\fR, mac:
\fIMAC\fR}} (a unicast MAC, each once in the file). An endpoint is in one link, once.
host:\fIIF\fR, mgmt\-net:\fIIF\fR and macvlan:\fIIF\fR are containerlab's single-ended
links unless the file defines a node of that name. Required, but for single-ended types.
.TP
.B mtu
The link's MTU, 68\-65535 (default \fBdefaults.mtu\fR); at most 65521 when an endpoint is on
a vm (a tap's largest). A link between hosts is a VXLAN tunnel that adds 50 bytes (70 over
IPv6): on a 1500\-byte underlay its MTU is at most 1450.
.TP
.B tx\-checksum
on, off or unset, as in \fBdefaults\fR.
.TP
.B vni
The VXLAN VNI of a cross-host link, 1\-16777215, different for each link (default: chosen by
the lab).
.TP
.B datapath
tc or ebpf, for a two-endpoint link (hubs are always tc).
.TP
.B type
containerlab's: veth (the default), or host, mgmt\-net, macvlan, vxlan, vxlan\-stitch, dummy,
each with one \fBendpoint\fR and its own keys: host\-interface (host, mgmt\-net, macvlan),
mode (macvlan: bridge, vepa, private, passthru, source), remote, vni, dst\-port (default
14789) and parent\-interface (vxlan, vxlan\-stitch).
.TP
.B vars
.TQ
.B labels
.TQ
.B ipv4
.TQ
.B ipv6
containerlab's: accepted and named in a note.
.TP
.B impair
Impairments of the frames the link carries, by the endpoint that sends them:
"\fINODE\fR:\fIIF\fR": {{loss: 1%}} acts on what that node sends out of that interface
(patchwire impair \-\-lab \fIFILE\fR \fINODE\fR:\fIIF\fR), both: {{...}} on every endpoint's;
per endpoint \fBdefaults.impair\fR, then both, then its own entry, key by key. A hub member
takes loss, loss\-burst, corrupt and duplicate only. plan lists what differs from the kernel,
what patchwire impair set outside the file included; up puts the file's back, in place (the
file is the truth).
.TP
.B state
up (the default), or down: the cable is pulled, both nodes see NO\-CARRIER until the file
says otherwise.
.TP
.B flap
A cable pulled and put back on a schedule while patchwire watch \-\-lab \fIFILE\fR runs:
{{down: 2s, up: 10s}}, or ranges drawn with a seed {{down: 1s\-3s, up: 5s\-20s, seed: 42}}
(the same seed, the same schedule); count: \fIN\fR pulls at most. Not with state: down.
.SH IMPAIRMENT KEYS
.TP
.B loss
Frames lost independently, a percentage (1%, 0.5).
.TP
.B loss\-burst
Frames lost in bursts (Gilbert\-Elliott): \fIP\fR/\fIR\fR[/\fI1\-H\fR[/\fI1\-K\fR]] in
percent; 1%/20% loses bursts of 5 on average. Instead of loss.
.TP
.B corrupt
.TQ
.B duplicate
A percentage of frames with one bit flipped, sent twice.
.TP
.B delay
.TQ
.B jitter
50ms, 1.5ms, 200us (netem: refused by plan, naming sch_netem, where the kernel has none);
jitter needs a delay.
.TP
.B distribution
The jitter's: uniform (the default), normal or pareto.
.TP
.B reorder
A percentage of frames sent at once, ahead of delayed ones (netem; needs a delay).
.TP
.B rate
.TQ
.B burst
A rate in bit/s (10mbit, 1gbit; 1mbps is bytes/s; tbf) and its bucket (32kbit, 64kb;
default 10 ms at the rate, at least 16 KiB).
.SH MIRROR KEYS
.TP
.B name
1\-15 characters from A\-Z a\-z 0\-9 _ . \-, different for each mirror. Required.
.TP
.B from
Endpoints of links whose frames are copied. Required.
.TP
.B to
The analyzer's endpoint: in no link and not in \fBfrom\fR; the lab makes it like any
endpoint and sends it the copies only. Required.
.TP
.B direction
tx (what the node sends out of the interface), rx (what it receives on it) or both (the
default).
.TP
.B vlan
Only frames of these VLANs: "100,200\-210", or one number.
.TP
.B output\-vlan
RSPAN: the copies leave \fBto\fR tagged with this VLAN ID, 1\-4094.
.TP
.B filter
Only frames matching this tcpdump expression; libpcap compiles it when the file is read.
.SH LIMITS
A lab file is UTF\-8 text of at most 4 MiB and nests at most 64 levels; both are checked
before the YAML is parsed. A FIFO or device is read in bounds: one that stays silent for 10 s
is an error. YAML anchors and aliases work; merge keys (<<) do not.
.SH ERRORS
The file is checked before anything is made, and each error names its place:
.PP
.RS 4
.nf
\fIFILE\fR:\fILINE\fR:\fICOL\fR: what is wrong
.fi
.RE
.PP
What needs the running system (does a namespace exist, does an MTU fit the underlay, which host
this is) is checked when the lab is planned.
.SH EXAMPLES
A lab on one machine, with every key but the multi-host ones:
{one}.PP
A lab over two machines:
{two}.SH SEE ALSO
.BR patchwire (1),
.BR patchwire\-up (1),
.BR patchwire\-plan (1),
.BR patchwire\-down (1),
.BR patchwire\-graph (1),
.BR patchwire\-show (1);
docs/labs.md in patchwire's sources.
"#,
        version = env!("CARGO_PKG_VERSION"),
        one = example(file::example()),
        two = example(file::example_multi_host()),
    )
}

/// A line of text as roff shows it verbatim (inside .nf): backslashes and hyphens escaped, a
/// leading dot or quote made plain text.
fn roff_line(line: &str) -> String {
    let text = line.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

fn collect(command: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
    let man = clap_mangen::Man::new(command.clone())
        .source(format!("patchwire {}", env!("CARGO_PKG_VERSION")))
        .manual("patchwire manual");
    let mut page = Vec::new();
    man.render(&mut page)
        .expect("rendering into memory cannot fail");
    pages.push((man.get_filename(), page));
    for sub in command.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            collect(sub, pages);
        }
    }
}
