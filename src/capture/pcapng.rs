//! The pcapng blocks a capture writes (draft-ietf-opsawg-pcapng): a Section Header, one
//! Interface Description per target (name, description, nanosecond timestamps), an Enhanced
//! Packet per frame with its direction in `epb_flags`, and Interface Statistics at the end.
//! Little-endian, as the machine writes them; every block is whole, so a file cut after any
//! block is valid.

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const ISB: u32 = 0x0000_0005;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const LINKTYPE_ETHERNET: u16 = 1;

const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;
const ISB_STARTTIME: u16 = 2;
const ISB_ENDTIME: u16 = 3;
const ISB_IFRECV: u16 = 4;
const ISB_IFDROP: u16 = 5;

/// `epb_flags` bits 0–1: the direction.
pub const INBOUND: u32 = 1;
/// See [`INBOUND`].
pub const OUTBOUND: u32 = 2;

/// An interface as the file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `if_name`: `NETNS:IF`.
    pub name: String,
    /// `if_description`: what it is ("wire eth1 <-> tap1").
    pub description: String,
    /// The snap length.
    pub snaplen: u32,
}

/// `epb_flags` for a frame: direction (bits 0–1) and reception type (bits 2–4: unicast,
/// multicast, broadcast, promiscuous) from `sll_pkttype`.
pub fn epb_flags(outbound: bool, packet_type: u8) -> u32 {
    let reception = match packet_type {
        0 => 1, // to us: unicast
        1 => 3, // broadcast
        2 => 2, // multicast
        3 => 4, // to another host: seen in promiscuous mode
        _ => 0,
    };
    (if outbound { OUTBOUND } else { INBOUND }) | reception << 2
}

fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Wraps `body` (already padded to 4) as a block of `kind`.
fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let total = (12 + body.len()) as u32;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
}

/// The Section Header Block, naming the writer.
pub fn section_header(out: &mut Vec<u8>) {
    let mut body = Vec::new();
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
    let writer = format!("patchwire {}", env!("CARGO_PKG_VERSION"));
    option(&mut body, SHB_USERAPPL, writer.as_bytes());
    option(&mut body, OPT_END, &[]);
    block(out, SHB, &body);
}

/// An Interface Description Block: Ethernet, nanosecond timestamps.
pub fn interface_description(out: &mut Vec<u8>, interface: &Interface) {
    let mut body = Vec::new();
    body.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&interface.snaplen.to_le_bytes());
    option(&mut body, IF_NAME, interface.name.as_bytes());
    if !interface.description.is_empty() {
        option(&mut body, IF_DESCRIPTION, interface.description.as_bytes());
    }
    option(&mut body, IF_TSRESOL, &[9]);
    option(&mut body, OPT_END, &[]);
    block(out, IDB, &body);
}

/// An Enhanced Packet Block whose packet data is `parts` back to back (a frame and the VLAN
/// tag to put back into it, without copying them together first; pass `[data, &[], &[]]` for
/// one slice).
pub fn enhanced_packet_parts(
    out: &mut Vec<u8>,
    interface_id: u32,
    timestamp_ns: u64,
    original_len: u32,
    parts: [&[u8]; 3],
    flags: u32,
) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let padded = len.next_multiple_of(4);
    let total = (12 + 20 + padded + 8 + 4) as u32;
    out.reserve(total as usize);
    out.extend_from_slice(&EPB.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&interface_id.to_le_bytes());
    out.extend_from_slice(&((timestamp_ns >> 32) as u32).to_le_bytes());
    out.extend_from_slice(&(timestamp_ns as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&original_len.to_le_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
    out.resize(out.len() + padded - len, 0);
    out.extend_from_slice(&EPB_FLAGS.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&OPT_END.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
}

/// What an Interface Statistics Block reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Statistics {
    /// When counting started and ended (ns since the epoch).
    pub start_ns: u64,
    /// See `start_ns`.
    pub end_ns: u64,
    /// Frames the kernel delivered to the capture (dropped ones included).
    pub received: u64,
    /// Frames the kernel dropped because the ring was full.
    pub dropped: u64,
}

/// An Interface Statistics Block.
pub fn interface_statistics(out: &mut Vec<u8>, interface_id: u32, stats: &Statistics) {
    let mut body = Vec::new();
    body.extend_from_slice(&interface_id.to_le_bytes());
    body.extend_from_slice(&((stats.end_ns >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(stats.end_ns as u32).to_le_bytes());
    let split = |ns: u64| {
        let mut v = ((ns >> 32) as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&(ns as u32).to_le_bytes());
        v
    };
    option(&mut body, ISB_STARTTIME, &split(stats.start_ns));
    option(&mut body, ISB_ENDTIME, &split(stats.end_ns));
    option(&mut body, ISB_IFRECV, &stats.received.to_le_bytes());
    option(&mut body, ISB_IFDROP, &stats.dropped.to_le_bytes());
    option(&mut body, OPT_END, &[]);
    block(out, ISB, &body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_whole_and_aligned() {
        let mut out = Vec::new();
        section_header(&mut out);
        interface_description(
            &mut out,
            &Interface {
                name: "lab:eth1".into(),
                description: "wire eth1 <-> tap1".into(),
                snaplen: 262144,
            },
        );
        enhanced_packet_parts(
            &mut out,
            0,
            1_700_000_000_123_456_789,
            61,
            [&[0xaa; 12], &[0x81, 0, 0, 7], &[0xaa; 45]],
            epb_flags(true, 4),
        );
        interface_statistics(&mut out, 0, &Statistics::default());
        // Walk the blocks: each length appears at both ends and is a multiple of 4.
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < out.len() {
            let kind = u32::from_le_bytes(out[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(out[at + 4..at + 8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(out[at + len - 4..at + len], out[at + 4..at + 8]);
            kinds.push(kind);
            at += len;
        }
        assert_eq!(kinds, [SHB, IDB, EPB, ISB]);
        assert_eq!(epb_flags(false, 1), 1 | 3 << 2);
        assert_eq!(epb_flags(true, 4), 2);
    }
}
