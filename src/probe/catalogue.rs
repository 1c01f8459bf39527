//! The transparency probe's frame catalogue.
//!
//! A wire must pass every frame unchanged. This module owns the set of test
//! frames — the ones Linux bridges typically swallow (link-local control
//! protocols) plus awkward edge cases (tags, sizes, odd destinations) — and
//! the token scheme that lets the probe recognise its own frames on the far
//! side. Headers are realistic so a real peer or bridge treats each frame as
//! the real thing, but values are chosen to be harmless if one does.

use serde::Serialize;

/// One kind of probe frame. The declaration order is the kind index carried
/// in tokens, so new kinds must only ever be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameKind {
    /// LACPDU (802.3ad slow protocol) to 01:80:c2:00:00:02.
    Lacp,
    /// STP configuration BPDU (802.3/LLC) to 01:80:c2:00:00:00.
    StpBpdu,
    /// LLDPDU to 01:80:c2:00:00:0e.
    Lldp,
    /// 802.3x PAUSE (MAC control) to 01:80:c2:00:00:01.
    Pause,
    /// 802.1X EAPOL-Start to 01:80:c2:00:00:03.
    Eapol,
    /// 01:80:c2:00:00:0x other than the protocols above (here ...:08).
    ReservedMac,
    /// 802.1Q tagged frame (VID 100, PCP 3).
    Dot1q,
    /// 802.1ad double-tagged frame (S-VID 200, C-VID 300).
    #[serde(rename = "qinq")]
    QinQ,
    /// Unicast to a MAC address nobody owns.
    ForeignUnicast,
    /// Broadcast with a non-ARP ethertype.
    Broadcast,
    /// IPv6 packet to ff02::1 (33:33:00:00:00:01).
    Ipv6Multicast,
    /// Minimum-size 60-byte frame.
    Minimum,
    /// Maximum-size frame for the path MTU (MTU + 14 bytes).
    Jumbo,
}

impl FrameKind {
    /// Every kind, in declaration (token index) order.
    pub const ALL: [FrameKind; 13] = [
        FrameKind::Lacp,
        FrameKind::StpBpdu,
        FrameKind::Lldp,
        FrameKind::Pause,
        FrameKind::Eapol,
        FrameKind::ReservedMac,
        FrameKind::Dot1q,
        FrameKind::QinQ,
        FrameKind::ForeignUnicast,
        FrameKind::Broadcast,
        FrameKind::Ipv6Multicast,
        FrameKind::Minimum,
        FrameKind::Jumbo,
    ];

    /// Short, stable kebab-case name (also the serde representation).
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Lacp => "lacp",
            FrameKind::StpBpdu => "stp-bpdu",
            FrameKind::Lldp => "lldp",
            FrameKind::Pause => "pause",
            FrameKind::Eapol => "eapol",
            FrameKind::ReservedMac => "reserved-mac",
            FrameKind::Dot1q => "dot1q",
            FrameKind::QinQ => "qinq",
            FrameKind::ForeignUnicast => "foreign-unicast",
            FrameKind::Broadcast => "broadcast",
            FrameKind::Ipv6Multicast => "ipv6-multicast",
            FrameKind::Minimum => "minimum",
            FrameKind::Jumbo => "jumbo",
        }
    }

    /// One-line human description.
    pub fn description(self) -> &'static str {
        match self {
            FrameKind::Lacp => "LACPDU (802.3ad slow protocol) to 01:80:c2:00:00:02",
            FrameKind::StpBpdu => "STP configuration BPDU (802.3/LLC) to 01:80:c2:00:00:00",
            FrameKind::Lldp => "LLDPDU to 01:80:c2:00:00:0e",
            FrameKind::Pause => "802.3x PAUSE (MAC control) to 01:80:c2:00:00:01",
            FrameKind::Eapol => "802.1X EAPOL-Start to 01:80:c2:00:00:03",
            FrameKind::ReservedMac => "frame to reserved group address 01:80:c2:00:00:08",
            FrameKind::Dot1q => "802.1Q tagged frame (VID 100, PCP 3)",
            FrameKind::QinQ => "802.1ad double-tagged frame (S-VID 200, C-VID 300)",
            FrameKind::ForeignUnicast => "unicast to a MAC nobody owns",
            FrameKind::Broadcast => "broadcast, non-ARP ethertype",
            FrameKind::Ipv6Multicast => "IPv6 packet to ff02::1 (33:33:00:00:00:01)",
            FrameKind::Minimum => "minimum-size 60-byte frame",
            FrameKind::Jumbo => "maximum-size frame for the path MTU",
        }
    }

    /// True when the destination is in 01:80:c2:00:00:0x, the range 802.1D
    /// bridges must not forward by default.
    pub fn is_link_local(self) -> bool {
        matches!(
            self,
            FrameKind::Lacp
                | FrameKind::StpBpdu
                | FrameKind::Lldp
                | FrameKind::Pause
                | FrameKind::Eapol
                | FrameKind::ReservedMac
        )
    }

    /// Index carried in the token (position in `ALL`).
    fn index(self) -> u16 {
        self as u16
    }

    fn from_index(index: u16) -> Option<FrameKind> {
        FrameKind::ALL.get(usize::from(index)).copied()
    }
}

/// A built probe frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFrame {
    /// Which kind of frame it is.
    pub kind: FrameKind,
    /// The whole frame as sent, Ethernet header first, no FCS.
    pub bytes: Vec<u8>,
}

const TOKEN_LEN: usize = 16;
const TOKEN_MAGIC: &[u8; 2] = b"PW";
/// Ethernet minimum frame size without FCS.
const MIN_FRAME: usize = 60;
const ETH_HLEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
/// Smallest and largest MTU for which a sane jumbo frame can be built:
/// at least the 60-byte minimum frame, at most a 65535-byte frame.
const MIN_MTU: u32 = (MIN_FRAME - ETH_HLEN) as u32;
const MAX_MTU: u32 = 65535 - ETH_HLEN as u32;

/// IEEE 802.1 local experimental ethertype: no stack will act on it.
const ETHERTYPE_EXPERIMENTAL: u16 = 0x88b5;
const ETHERTYPE_SLOW: u16 = 0x8809;
const ETHERTYPE_LLDP: u16 = 0x88cc;
const ETHERTYPE_MAC_CONTROL: u16 = 0x8808;
const ETHERTYPE_EAPOL: u16 = 0x888e;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_IPV6: u16 = 0x86dd;

const DST_STP: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00];
const DST_PAUSE: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x01];
const DST_SLOW: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x02];
const DST_EAPOL: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];
const DST_PROVIDER_BRIDGE: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x08];
const DST_LLDP: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];
const DST_BROADCAST: [u8; 6] = [0xff; 6];
const DST_IPV6_ALL_NODES: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
/// Locally administered unicast that no interface should own, so a learning
/// bridge floods it and no host accepts it.
const DST_FOREIGN: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];

/// One frame of each kind in `FrameKind::ALL` order, sent from `src_mac`,
/// each carrying a token made of `run_nonce`, "PW", the kind index and
/// sequence 0. `mtu` is the path's L3 MTU; the jumbo frame is 14 + mtu bytes
/// (`mtu` is clamped to 46..=65521 so the frame stays within 60..=65535).
pub fn catalogue(src_mac: [u8; 6], run_nonce: [u8; 8], mtu: u32) -> Vec<ProbeFrame> {
    FrameKind::ALL
        .iter()
        .map(|&kind| {
            let token = make_token(run_nonce, kind, 0);
            ProbeFrame {
                kind,
                bytes: build(kind, src_mac, &token, mtu),
            }
        })
        .collect()
}

/// If `frame` carries a token with this nonce, the kind it was built for.
/// The token is searched anywhere in the frame, so it is still found if a
/// device added or removed a tag in front of it.
pub fn find_token(frame: &[u8], run_nonce: [u8; 8]) -> Option<FrameKind> {
    let mut prefix = [0u8; 10];
    prefix[..8].copy_from_slice(&run_nonce);
    prefix[8..].copy_from_slice(TOKEN_MAGIC);
    frame
        .windows(TOKEN_LEN)
        .filter(|w| w.starts_with(&prefix))
        .find_map(|w| FrameKind::from_index(u16::from_be_bytes([w[10], w[11]])))
}

/// nonce(8) | "PW" | kind index (u16 BE) | sequence (u32 BE).
fn make_token(nonce: [u8; 8], kind: FrameKind, seq: u32) -> [u8; TOKEN_LEN] {
    let mut t = [0u8; TOKEN_LEN];
    t[..8].copy_from_slice(&nonce);
    t[8..10].copy_from_slice(TOKEN_MAGIC);
    t[10..12].copy_from_slice(&kind.index().to_be_bytes());
    t[12..].copy_from_slice(&seq.to_be_bytes());
    t
}

fn build(kind: FrameKind, src: [u8; 6], token: &[u8; TOKEN_LEN], mtu: u32) -> Vec<u8> {
    match kind {
        FrameKind::Lacp => lacp(src, token),
        FrameKind::StpBpdu => stp_bpdu(src, token),
        FrameKind::Lldp => lldp(src, token),
        FrameKind::Pause => pause(src, token),
        FrameKind::Eapol => eapol(src, token),
        FrameKind::ReservedMac => plain(DST_PROVIDER_BRIDGE, src, token, MIN_FRAME),
        FrameKind::Dot1q => dot1q(src, token),
        FrameKind::QinQ => qinq(src, token),
        FrameKind::ForeignUnicast => plain(DST_FOREIGN, src, token, MIN_FRAME),
        FrameKind::Broadcast => plain(DST_BROADCAST, src, token, MIN_FRAME),
        FrameKind::Ipv6Multicast => ipv6_multicast(src, token),
        FrameKind::Minimum => plain(DST_FOREIGN, src, token, MIN_FRAME),
        FrameKind::Jumbo => jumbo(src, token, mtu),
    }
}

fn eth_header(dst: [u8; 6], src: [u8; 6], type_or_len: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&type_or_len.to_be_bytes());
    f
}

fn pad_to(f: &mut Vec<u8>, len: usize) {
    if f.len() < len {
        f.resize(len, 0);
    }
}

/// Experimental-ethertype frame: header, token, zero padding to `len`.
fn plain(dst: [u8; 6], src: [u8; 6], token: &[u8; TOKEN_LEN], len: usize) -> Vec<u8> {
    let mut f = eth_header(dst, src, ETHERTYPE_EXPERIMENTAL);
    f.extend_from_slice(token);
    pad_to(&mut f, len);
    f
}

/// 802.3ad LACPDU: 110 bytes after the Ethernet header, 124 in total. The
/// token sits in the 50 reserved bytes after the terminator TLV.
fn lacp(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    let mut f = eth_header(DST_SLOW, src, ETHERTYPE_SLOW);
    f.extend_from_slice(&[0x01, 0x01]); // subtype LACP, version 1
    // Actor: active + aggregatable but not in sync, so a real LACP peer never
    // starts collecting/distributing towards us.
    f.extend_from_slice(&lacp_port_info(
        0x01, 0x8000, src, 0x0001, 0x00ff, 0x0001, 0x05,
    ));
    f.extend_from_slice(&lacp_port_info(0x02, 0, [0; 6], 0, 0, 0, 0)); // partner unknown
    f.extend_from_slice(&[0x03, 0x10]); // collector TLV, length 16
    f.extend_from_slice(&[0x00, 0x00]); // collector max delay
    f.extend_from_slice(&[0; 12]); // reserved
    f.extend_from_slice(&[0x00, 0x00]); // terminator TLV
    f.extend_from_slice(token); // first 16 of the 50 reserved bytes
    pad_to(&mut f, ETH_HLEN + 110);
    f
}

/// Actor (type 1) or partner (type 2) information TLV, 20 bytes.
fn lacp_port_info(
    tlv_type: u8,
    sys_prio: u16,
    system: [u8; 6],
    key: u16,
    port_prio: u16,
    port: u16,
    state: u8,
) -> Vec<u8> {
    let mut t = vec![tlv_type, 0x14];
    t.extend_from_slice(&sys_prio.to_be_bytes());
    t.extend_from_slice(&system);
    t.extend_from_slice(&key.to_be_bytes());
    t.extend_from_slice(&port_prio.to_be_bytes());
    t.extend_from_slice(&port.to_be_bytes());
    t.push(state);
    t.extend_from_slice(&[0; 3]); // reserved
    t
}

/// 802.1D configuration BPDU in an 802.3 (length) frame with LLC 42/42/03.
/// The length field covers LLC + BPDU only; the token is in the padding.
fn stp_bpdu(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    const LLC_AND_BPDU: u16 = 3 + 35;
    // Worst valid bridge priority, so a real STP bridge never elects us root.
    let bridge_id = {
        let mut id = [0u8; 8];
        id[..2].copy_from_slice(&0xf000u16.to_be_bytes());
        id[2..].copy_from_slice(&src);
        id
    };
    let mut f = eth_header(DST_STP, src, LLC_AND_BPDU);
    f.extend_from_slice(&[0x42, 0x42, 0x03]); // LLC DSAP, SSAP, UI
    f.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x00]); // proto id, version, type config, flags
    f.extend_from_slice(&bridge_id); // root id
    f.extend_from_slice(&0u32.to_be_bytes()); // root path cost
    f.extend_from_slice(&bridge_id); // sender bridge id
    f.extend_from_slice(&0x8001u16.to_be_bytes()); // port id
    // Timers in 1/256 s: message age 0, max age 20, hello 2, forward delay 15.
    for secs in [0u16, 20, 2, 15] {
        f.extend_from_slice(&(secs << 8).to_be_bytes());
    }
    f.extend_from_slice(token);
    pad_to(&mut f, MIN_FRAME);
    f
}

/// LLDPDU: Chassis ID, Port ID, TTL, an organisation-specific TLV holding
/// the token, End.
fn lldp(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    // Locally administered OUI-like value: cannot collide with a vendor's TLVs.
    const ORG_OUI: [u8; 3] = [0x02, 0x50, 0x57];
    let mut f = eth_header(DST_LLDP, src, ETHERTYPE_LLDP);
    lldp_tlv(&mut f, 1, &[&[0x04], &src]); // chassis ID, subtype MAC address
    lldp_tlv(&mut f, 2, &[&[0x07], b"patchwire-probe"]); // port ID, locally assigned
    lldp_tlv(&mut f, 3, &[&20u16.to_be_bytes()]); // TTL: short, it is only a probe
    lldp_tlv(&mut f, 127, &[&ORG_OUI, &[0x01], token]); // org-specific, subtype 1
    lldp_tlv(&mut f, 0, &[]); // End of LLDPDU
    pad_to(&mut f, MIN_FRAME);
    f
}

/// Append an LLDP TLV: 7-bit type, 9-bit length, then the value parts.
fn lldp_tlv(f: &mut Vec<u8>, tlv_type: u16, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    debug_assert!(len < 512);
    f.extend_from_slice(&((tlv_type << 9) | len as u16).to_be_bytes());
    for p in parts {
        f.extend_from_slice(p);
    }
}

/// 802.3x PAUSE. Quanta 0 ("resume") is a valid PAUSE frame that stops
/// nothing if a real MAC ever acts on it.
fn pause(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    let mut f = eth_header(DST_PAUSE, src, ETHERTYPE_MAC_CONTROL);
    f.extend_from_slice(&0x0001u16.to_be_bytes()); // opcode PAUSE
    f.extend_from_slice(&0x0000u16.to_be_bytes()); // pause quanta
    f.extend_from_slice(token);
    pad_to(&mut f, MIN_FRAME);
    f
}

/// 802.1X EAPOL-Start (version 2, type 1, body length 0), token in padding.
fn eapol(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    let mut f = eth_header(DST_EAPOL, src, ETHERTYPE_EAPOL);
    f.extend_from_slice(&[0x02, 0x01, 0x00, 0x00]);
    f.extend_from_slice(token);
    pad_to(&mut f, MIN_FRAME);
    f
}

/// Tag Control Information: 3-bit PCP, DEI 0, 12-bit VID.
fn tci(pcp: u16, vid: u16) -> [u8; 2] {
    ((pcp << 13) | (vid & 0x0fff)).to_be_bytes()
}

/// 802.1Q tag VID 100 PCP 3. Padded to 64 so the frame is still >= 60 bytes
/// if a device strips the tag.
fn dot1q(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    let mut f = eth_header(DST_FOREIGN, src, ETHERTYPE_VLAN);
    f.extend_from_slice(&tci(3, 100));
    f.extend_from_slice(&ETHERTYPE_EXPERIMENTAL.to_be_bytes());
    f.extend_from_slice(token);
    pad_to(&mut f, MIN_FRAME + VLAN_TAG_LEN);
    f
}

/// 802.1ad S-tag VID 200 over 802.1Q C-tag VID 300; padded for both tags.
fn qinq(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    let mut f = eth_header(DST_FOREIGN, src, ETHERTYPE_QINQ);
    f.extend_from_slice(&tci(0, 200));
    f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
    f.extend_from_slice(&tci(0, 300));
    f.extend_from_slice(&ETHERTYPE_EXPERIMENTAL.to_be_bytes());
    f.extend_from_slice(token);
    pad_to(&mut f, MIN_FRAME + 2 * VLAN_TAG_LEN);
    f
}

/// IPv6 fd00::1 -> ff02::1 with next header 59 (no next header), so stacks
/// accept and discard it without replying. The payload is the token.
fn ipv6_multicast(src: [u8; 6], token: &[u8; TOKEN_LEN]) -> Vec<u8> {
    const SRC_IP: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST_IP: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut f = eth_header(DST_IPV6_ALL_NODES, src, ETHERTYPE_IPV6);
    f.extend_from_slice(&0x6000_0000u32.to_be_bytes()); // version 6, class 0, flow 0
    f.extend_from_slice(&(TOKEN_LEN as u16).to_be_bytes()); // payload length
    f.push(59); // next header: none
    f.push(1); // hop limit: link-local only
    f.extend_from_slice(&SRC_IP);
    f.extend_from_slice(&DST_IP);
    f.extend_from_slice(token);
    // 14 + 40 + 16 = 70 bytes: no Ethernet padding, so the length is exact.
    f
}

/// Exactly 14 + mtu bytes: token first, then a non-zero pattern so that
/// corruption in the middle of a large frame is visible.
fn jumbo(src: [u8; 6], token: &[u8; TOKEN_LEN], mtu: u32) -> Vec<u8> {
    let len = ETH_HLEN + mtu.clamp(MIN_MTU, MAX_MTU) as usize;
    let mut f = eth_header(DST_FOREIGN, src, ETHERTYPE_EXPERIMENTAL);
    f.extend_from_slice(token);
    // 251 is prime, so the pattern does not line up with power-of-two strides.
    let fill = (f.len()..len).map(|i| (i % 251) as u8 + 1);
    f.extend(fill);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 6] = [0x02, 0x70, 0x77, 0x00, 0x00, 0x01];
    const NONCE: [u8; 8] = [0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04];

    fn frame(kind: FrameKind, mtu: u32) -> Vec<u8> {
        catalogue(SRC, NONCE, mtu)
            .into_iter()
            .find(|f| f.kind == kind)
            .unwrap()
            .bytes
    }

    #[test]
    fn one_frame_per_kind_in_order() {
        let kinds: Vec<_> = catalogue(SRC, NONCE, 1500).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, FrameKind::ALL.to_vec());
        for (i, k) in FrameKind::ALL.iter().enumerate() {
            assert_eq!(usize::from(k.index()), i);
        }
    }

    #[test]
    fn every_kind_round_trips_through_find_token() {
        for mtu in [1500, 9000] {
            for f in catalogue(SRC, NONCE, mtu) {
                assert_eq!(
                    find_token(&f.bytes, NONCE),
                    Some(f.kind),
                    "{}",
                    f.kind.name()
                );
            }
        }
    }

    #[test]
    fn other_nonce_or_no_token_yields_none() {
        let other = [0x11; 8];
        for f in catalogue(SRC, NONCE, 1500) {
            assert_eq!(find_token(&f.bytes, other), None, "{}", f.kind.name());
        }
        assert_eq!(find_token(&[], NONCE), None);
        assert_eq!(find_token(&[0u8; 60], NONCE), None);
    }

    #[test]
    fn sizes() {
        for mtu in [1500u32, 9000] {
            let all = catalogue(SRC, NONCE, mtu);
            assert!(all.iter().all(|f| f.bytes.len() >= 60));
            assert_eq!(frame(FrameKind::Minimum, mtu).len(), 60);
            assert_eq!(frame(FrameKind::Jumbo, mtu).len(), 14 + mtu as usize);
        }
        assert_eq!(frame(FrameKind::Lacp, 1500).len(), 124);
        assert_eq!(frame(FrameKind::Jumbo, 1500).len(), 1514);
        // Absurd MTUs are clamped rather than producing runt or giant frames.
        assert_eq!(frame(FrameKind::Jumbo, 10).len(), 60);
        assert_eq!(frame(FrameKind::Jumbo, u32::MAX).len(), 65535);
    }

    #[test]
    fn destination_macs() {
        let expect = |k: FrameKind| -> [u8; 6] {
            match k {
                FrameKind::Lacp => DST_SLOW,
                FrameKind::StpBpdu => DST_STP,
                FrameKind::Lldp => DST_LLDP,
                FrameKind::Pause => DST_PAUSE,
                FrameKind::Eapol => DST_EAPOL,
                FrameKind::ReservedMac => DST_PROVIDER_BRIDGE,
                FrameKind::Broadcast => DST_BROADCAST,
                FrameKind::Ipv6Multicast => DST_IPV6_ALL_NODES,
                _ => DST_FOREIGN,
            }
        };
        for f in catalogue(SRC, NONCE, 1500) {
            assert_eq!(f.bytes[..6], expect(f.kind), "{}", f.kind.name());
            assert_eq!(f.bytes[6..12], SRC);
            let link_local = f.bytes[..5] == [0x01, 0x80, 0xc2, 0, 0] && f.bytes[5] <= 0x0f;
            assert_eq!(f.kind.is_link_local(), link_local, "{}", f.kind.name());
        }
        assert_eq!(DST_FOREIGN[0] & 0x03, 0x02, "locally administered unicast");
    }

    #[test]
    fn protocol_headers() {
        let lacp = frame(FrameKind::Lacp, 1500);
        assert_eq!(lacp[12..16], [0x88, 0x09, 0x01, 0x01]);
        assert_eq!(lacp[16..18], [0x01, 0x14]); // actor TLV
        assert_eq!(lacp[36..38], [0x02, 0x14]); // partner TLV
        assert_eq!(lacp[56..58], [0x03, 0x10]); // collector TLV
        assert_eq!(lacp[72..74], [0x00, 0x00]); // terminator

        let stp = frame(FrameKind::StpBpdu, 1500);
        assert_eq!(stp[12..17], [0x00, 0x26, 0x42, 0x42, 0x03]);
        assert_eq!(stp[17..20], [0, 0, 0]); // proto id, version, config BPDU

        let lldp = frame(FrameKind::Lldp, 1500);
        assert_eq!(lldp[12..14], [0x88, 0xcc]);
        assert_eq!(lldp[14..16], [0x02, 0x07]); // chassis ID, len 7
        assert_eq!(lldp[lldp.len() - 2..], [0, 0]); // ends with End TLV (no padding needed)

        let pause = frame(FrameKind::Pause, 1500);
        assert_eq!(pause[12..16], [0x88, 0x08, 0x00, 0x01]);

        let eapol = frame(FrameKind::Eapol, 1500);
        assert_eq!(eapol[12..18], [0x88, 0x8e, 0x02, 0x01, 0x00, 0x00]);

        let q = frame(FrameKind::Dot1q, 1500);
        assert_eq!(q[12..18], [0x81, 0x00, 0x60, 0x64, 0x88, 0xb5]);

        let qq = frame(FrameKind::QinQ, 1500);
        assert_eq!(
            qq[12..22],
            [0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x01, 0x2c, 0x88, 0xb5]
        );

        let v6 = frame(FrameKind::Ipv6Multicast, 1500);
        assert_eq!(v6[12..14], [0x86, 0xdd]);
        assert_eq!(v6[14] >> 4, 6);
        let payload_len = u16::from_be_bytes([v6[18], v6[19]]) as usize;
        assert_eq!(payload_len, v6.len() - 14 - 40);
        assert_eq!(v6[20], 59);
        assert_eq!(v6[38], 0xff);
    }

    #[test]
    fn names_are_unique_and_match_serde() {
        let mut names: Vec<_> = FrameKind::ALL.iter().map(|k| k.name()).collect();
        for k in FrameKind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
            assert!(!k.description().is_empty());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FrameKind::ALL.len());
    }
}
