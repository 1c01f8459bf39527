//! Numbered test frames sent through impaired links and counted on the far side, and the
//! binomial bound a count of lost (corrupted, duplicated) frames must keep (shared by
//! tests/impair.rs and tests/lab_impair.rs).

use std::time::{Duration, Instant};

use super::{TestNs, packet_socket};

pub const ETHERTYPE: u16 = 0x88b5;
pub const MAGIC: u32 = 0x7077_696d;

/// A 60-byte frame numbered `seq`: unicast a → b, local experimental ethertype, magic, seq and
/// its complement (so a flipped bit anywhere, the seq included, makes a frame no sent frame
/// is), then a fixed pattern.
pub fn frame(seq: u32) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a];
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&MAGIC.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&(!seq).to_be_bytes());
    f.extend((0..34).map(|i| (i * 7) as u8));
    f
}

/// The seq of a frame exactly as [`frame`] made it, else `None`.
pub fn seq_of(f: &[u8]) -> Option<u32> {
    let seq = u32::from_be_bytes(f.get(18..22)?.try_into().ok()?);
    (f == frame(seq).as_slice()).then_some(seq)
}

/// Sends frames 0..n from `from` (in `from_ns`) and returns every frame read on `to` (in
/// `to_ns`), in order. Sends in batches of 50 and reads each batch back before the next (a
/// veth delivers during the send), so no socket queue overflows whatever the impairment.
pub fn exchange(from_ns: &TestNs, from: &str, to_ns: &TestNs, to: &str, n: u32) -> Vec<Vec<u8>> {
    let tx = packet_socket(from_ns, from);
    let rx = packet_socket(to_ns, to);
    let mut got = Vec::new();
    let started = Instant::now();
    for seq in 0..n {
        tx.send(&frame(seq)).unwrap();
        if seq % 50 == 49 || seq + 1 == n {
            let quiet = Duration::from_millis(if seq + 1 == n { 200 } else { 2 });
            while let Some(f) = rx.recv_until(Instant::now() + quiet).unwrap() {
                got.push(f);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sending took too long"
        );
    }
    got
}

/// ±4.5σ of a binomial count of `n` trials at probability `p`.
pub fn tolerance(n: u64, p: f64) -> f64 {
    4.5 * (n as f64 * p * (1.0 - p)).sqrt()
}

/// `count` of `n` must be within ±4.5σ of n·p (`percent` = p·100); `what` names the check.
pub fn assert_binomial(what: &str, count: u64, n: u64, percent: f64) {
    let p = percent / 100.0;
    let expected = n as f64 * p;
    let bound = tolerance(n, p);
    assert!(
        (count as f64 - expected).abs() <= bound,
        "{what}: {count} of {n}, expected {expected:.0} ± {bound:.1} (4.5σ)"
    );
}
