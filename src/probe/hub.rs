//! Probing a hub: the catalogue, sent from each member's far side in turn, must arrive byte for
//! byte exactly once at every other member's far side, and never come back to the sender.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::catalogue::{self, ProbeFrame};
use super::{Access, DirectionReport, ProbeError, SETTLE, Verdict, access, judge, random_bytes};
use crate::marks::HUB_RECORD;
use crate::netns::Netns;
use crate::nl::link::Link;
use crate::wire::inventory::{World, hub_record};
use crate::wire::{WireError, missing_interface};

/// The result of probing a hub: every member to every other member.
#[derive(Debug, Clone, Serialize)]
pub struct HubProbeReport {
    /// The hub's name.
    pub hub: String,
    /// The members probed (present ones), in interface-index order.
    pub members: Vec<String>,
    /// Members the hub's filters name that are gone: not probed.
    pub gone: Vec<String>,
    /// The smallest MTU of the members and their far sides; the jumbo frame is this + 14.
    pub mtu: u32,
    /// One per (sender, receiver) pair: each frame kind must arrive once, unchanged.
    pub directions: Vec<DirectionReport>,
    /// Per sender, the probe frames that came back to it (a hub never sends a frame back out
    /// of the member it entered): all zero when the hub is right.
    pub returned: Vec<Returned>,
}

/// How many probe frames came back to the member that sent them.
#[derive(Debug, Clone, Serialize)]
pub struct Returned {
    /// The sending member.
    pub member: String,
    /// How many of its frames it received back (0 for a correct hub).
    pub frames: usize,
}

impl HubProbeReport {
    /// Every frame arrived once, unchanged, at every other member, and none came back.
    pub fn passed(&self) -> bool {
        self.directions.iter().all(DirectionReport::passed)
            && self.returned.iter().all(|r| r.frames == 0)
    }

    /// (frames that arrived as they should, frames expected).
    pub fn tally(&self) -> (usize, usize) {
        let results = self.directions.iter().flat_map(|d| &d.results);
        let total = results.clone().count();
        let good = results.filter(|r| r.verdict == Verdict::Ok).count();
        (good, total)
    }
}

/// Probes the hub `member` is a port of, in `netns`: every member sends, every other member
/// receives.
pub fn probe_hub(netns: Netns, member: &str) -> Result<HubProbeReport, ProbeError> {
    let describe = netns.describe();
    let mut world = World::new(netns)?;
    let view = world.home();
    let Some(link) = view.links_by_name(&[member])?.pop().flatten() else {
        return Err(WireError::Invalid(missing_interface(&view.netns, member)).into());
    };
    let Some((hub, _, _)) = hub_record(&link) else {
        return Err(WireError::Invalid(format!(
            "{member} is not a port of a patchwire hub in {describe} (no {HUB_RECORD}* record)"
        ))
        .into());
    };
    let mut members: Vec<Link> = view
        .all_links()?
        .into_iter()
        .filter(|l| hub_record(l).is_some_and(|(h, _, _)| h == hub))
        .collect();
    members.sort_by_key(|l| l.index);
    let mut gone = Vec::new();
    for member in &members {
        for filter in view.tc(member.index)?.hub_filters() {
            for action in filter.hub_actions() {
                let live = action.to.0 != 0 && members.iter().any(|m| m.index == action.to);
                if !live && !gone.contains(&action.to_name) {
                    gone.push(action.to_name);
                }
            }
        }
    }
    if members.len() < 2 {
        return Err(ProbeError::Unsupported(format!(
            "hub {hub} has fewer than 2 members left ({}); nothing to probe",
            members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut ports: Vec<Access> = Vec::new();
    for member in &members {
        ports.push(access(&mut world, member)?);
    }
    let mtu = members
        .iter()
        .map(|m| m.mtu)
        .chain(ports.iter().map(|p| p.far_mtu))
        .min()
        .unwrap_or(1500);
    let mut directions = Vec::new();
    let mut returned = Vec::new();
    for (sender, member) in members.iter().enumerate() {
        let (mut reports, back) = fan_out(&ports, sender, mtu)?;
        directions.append(&mut reports);
        returned.push(Returned {
            member: member.name.clone(),
            frames: back,
        });
    }
    Ok(HubProbeReport {
        hub,
        members: members.into_iter().map(|m| m.name).collect(),
        gone,
        mtu,
        directions,
        returned,
    })
}

/// Sends the catalogue from `ports[sender]` and checks what reaches each other port (and what
/// comes back to the sender).
fn fan_out(
    ports: &[Access],
    sender: usize,
    mtu: u32,
) -> Result<(Vec<DirectionReport>, usize), ProbeError> {
    let nonce = random_bytes::<8>();
    let mut mac = random_bytes::<6>();
    mac[0] = 0x02; // locally administered unicast
    let frames = catalogue::catalogue(mac, nonce, mtu);
    for port in ports {
        port.port.drain();
    }
    let from = &ports[sender].what;
    for frame in &frames {
        ports[sender]
            .port
            .send(&frame.bytes)
            .map_err(|source| ProbeError::Io {
                context: format!(
                    "sending a {} frame ({} bytes) towards {from}",
                    frame.kind.name(),
                    frame.bytes.len()
                ),
                source,
            })?;
    }
    // received[port][kind]: every copy of each frame, as it arrived.
    let mut received: Vec<Vec<Vec<Vec<u8>>>> = vec![vec![Vec::new(); frames.len()]; ports.len()];
    let deadline = Instant::now() + SETTLE;
    for (at, port) in ports.iter().enumerate() {
        if at == sender {
            continue;
        }
        let mut pending = frames.len();
        while pending > 0 {
            let Some(bytes) = receive(port, deadline)? else {
                break;
            };
            if file(&mut received[at], &frames, nonce, bytes) {
                pending -= 1;
            }
        }
    }
    // Give duplicates, and frames sent back to the sender, a brief chance to show up too.
    std::thread::sleep(Duration::from_millis(50));
    for (at, port) in ports.iter().enumerate() {
        while let Some(bytes) = receive(port, Instant::now())? {
            file(&mut received[at], &frames, nonce, bytes);
        }
    }
    let back = received[sender].iter().map(Vec::len).sum();
    let reports = ports
        .iter()
        .enumerate()
        .filter(|(at, _)| *at != sender)
        .map(|(at, port)| DirectionReport {
            from: from.clone(),
            to: port.what.clone(),
            results: frames
                .iter()
                .zip(&received[at])
                .map(|(frame, got)| judge(frame, got))
                .collect(),
        })
        .collect();
    Ok((reports, back))
}

fn receive(access: &Access, deadline: Instant) -> Result<Option<Vec<u8>>, ProbeError> {
    access
        .port
        .recv_until(deadline)
        .map_err(|source| ProbeError::Io {
            context: format!("receiving on the far side of {}", access.what),
            source,
        })
}

/// Files a frame under its kind; true when it is the first of its kind.
fn file(slots: &mut [Vec<Vec<u8>>], frames: &[ProbeFrame], nonce: [u8; 8], bytes: Vec<u8>) -> bool {
    let kind = catalogue::find_token(&bytes, nonce);
    let Some(slot) = kind.and_then(|kind| frames.iter().position(|f| f.kind == kind)) else {
        return false;
    };
    slots[slot].push(bytes);
    slots[slot].len() == 1
}
