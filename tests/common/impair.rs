//! The impairment tests' wire (tests/impair.rs, tests/impair_cli.rs): node `a` (namespace na)
//! ↔ port `pa` — wire — port `pb` ↔ node `b` (namespace nb), the wire in namespace w; the
//! lock that keeps timed tests alone, and `impair show` read back.

use super::frames::{self, frame};
use super::labfile::LabFile;
use super::{TestNs, patchwire, veth};

/// Tests that time things (rates, delays) run alone: they hold this for writing, every other
/// test for reading. Under an emulated guest kernel, frames sent by a neighbouring test would
/// otherwise take the CPU a 10 Mbit/s stream or a ping's timestamp needs.
pub static TIMING: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|e| e.into_inner())
}

pub fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|e| e.into_inner())
}

/// The three namespaces, the wire linked.
pub struct Lab {
    pub na: TestNs,
    pub w: TestNs,
    pub nb: TestNs,
}

pub fn lab() -> Lab {
    lab_with("tc")
}

pub fn lab_with(datapath: &str) -> Lab {
    let (na, w, nb) = (TestNs::new(), TestNs::new(), TestNs::new());
    veth(&na, "a", &w, "pa");
    veth(&w, "pb", &nb, "b");
    patchwire(&["-n", &w.name, "link", "pa", "pb", "--datapath", datapath]).ok();
    Lab { na, w, nb }
}

/// The path `show -j` reports for pa -> pb.
pub fn path_pa_to_pb(lab: &Lab) -> String {
    let show = patchwire(&["-n", &lab.w.name, "-j", "show"]).ok().json();
    let wire = &show[0];
    let key = match wire["a"]["name"] == "pa" {
        true => "a_to_b_path",
        false => "b_to_a_path",
    };
    wire[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {show}"))
        .to_string()
}

impl Lab {
    pub fn impair(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-n", &self.w.name, "-j", "impair"];
        all.extend_from_slice(args);
        patchwire(&all).ok().json()
    }

    /// `impair show -j`'s direction for `port`, if it is listed, and the whole answer.
    pub fn listed(&self, port: &str) -> (Option<serde_json::Value>, serde_json::Value) {
        let shown = patchwire(&["-n", &self.w.name, "-j", "impair", "show"])
            .ok()
            .json();
        let direction = shown["directions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["port"] == port)
            .cloned();
        (direction, shown)
    }

    /// `impair show -j`'s direction for `port`.
    pub fn shown(&self, port: &str) -> serde_json::Value {
        let (direction, shown) = self.listed(port);
        direction.unwrap_or_else(|| panic!("{port} not in {shown}"))
    }

    pub fn counter(&self, port: &str, name: &str) -> u64 {
        self.shown(port)["counters"][name].as_u64().unwrap()
    }
}

/// How many bits a frame differs in from the frame it was sent as (its seq read from the seq
/// field or, if that is the flipped one, from the complement).
pub fn bits_flipped(f: &[u8]) -> u32 {
    let seq = u32::from_be_bytes(f[18..22].try_into().unwrap());
    let complement = !u32::from_be_bytes(f[22..26].try_into().unwrap());
    [seq, complement]
        .iter()
        .map(|s| {
            f.iter()
                .zip(frame(*s))
                .map(|(x, y)| (x ^ y).count_ones())
                .sum::<u32>()
        })
        .min()
        .unwrap()
}

/// Runs the test thread on one CPU: the program's Gilbert–Elliott chain is per CPU, and a
/// veth delivers on the sender's CPU.
pub fn pin_to_one_cpu() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Frames per accuracy check: 10,000 here; fewer only in an emulated kernel guest (every
/// tolerance is computed from the count actually sent).
pub fn frames() -> u32 {
    if super::in_guest() { 4_000 } else { 10_000 }
}

impl Lab {
    pub fn shown_or_zero(&self, port: &str, name: &str) -> u64 {
        self.listed(port)
            .0
            .map_or(0, |d| d["counters"][name].as_u64().unwrap())
    }
}

/// Runs [`frames::exchange`] on one CPU (see [`pin_to_one_cpu`]).
pub fn exchange(from_ns: &TestNs, from: &str, to_ns: &TestNs, to: &str, n: u32) -> Vec<Vec<u8>> {
    pin_to_one_cpu();
    frames::exchange(from_ns, from, to_ns, to, n)
}

/// Brings a lab file up (see [`LabFile`]).
pub fn lab_up(body: &str) -> LabFile {
    let lab = LabFile::new("i", body);
    patchwire(&["up", lab.path()]).ok();
    lab
}
