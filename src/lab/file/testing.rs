//! Helpers of the lab file's unit tests.

use super::*;

pub(super) fn lab(text: &str) -> LabFile {
    parse("t1.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn err(text: &str) -> String {
    match parse("t1.yaml", text) {
        Ok(lab) => panic!("accepted: {lab:?}"),
        Err(e) => e.to_string(),
    }
}

pub(super) fn ep(text: &str) -> Endpoint {
    Endpoint::parse(text).unwrap()
}

pub(super) fn namespace() -> NodeSpec {
    NodeSpec {
        kind: NodeKind::Namespace,
        host: None,
        netns: None,
    }
}

pub(super) fn link(
    endpoints: &[&str],
    mtu: u32,
    tx_checksum: Option<bool>,
    line: usize,
) -> LinkSpec {
    LinkSpec {
        endpoints: endpoints.iter().map(|e| ep(e)).collect(),
        mtu,
        tx_checksum,
        vni: None,
        datapath: crate::wire::Datapath::Tc,
        kind: LinkKind::Veth,
        macs: Default::default(),
        impair: Default::default(),
        down: false,
        flap: None,
        line,
        netem_at: None,
        column: 5,
    }
}

/// Two nodes r1 and r2, then the given links (from line 6 on).
pub(super) fn two_nodes(links: &str) -> String {
    format!("name: t1\ntopology:\n  nodes:\n    r1: {{}}\n    r2: {{}}\n  links:\n{links}")
}
