//! Capture's filter policy: the program a ring runs when no filter is given. The compiler of
//! tcpdump expressions (libpcap) lives in [`crate::bpf::pcap`], with the instruction type
//! [`crate::bpf::classic::SockFilter`], so that mirrors and labs below capture use it too.

use crate::bpf::classic::SockFilter;

/// The one-instruction program that accepts every frame, cut to `snaplen` bytes.
pub fn accept_all(snaplen: u32) -> Vec<SockFilter> {
    const BPF_RET_K: u16 = 0x06;
    vec![SockFilter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: snaplen,
    }]
}
