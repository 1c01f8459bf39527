//! Applying a plan: every change as one pipelined netlink batch, bounded retries of transient
//! errors, and a rollback of everything this call did when a change fails for good.

use std::time::Duration;

use netlink_packet_route::RouteNetlinkMessage;

use crate::nl::link::{self, IfIndex};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::tc::TcHandle;

use crate::nl::tc;
use crate::nl::{NlError, Reply, RouteSocket};

use super::WireError;

/// One kernel change, with what is needed to say it and to undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    SetMtu {
        index: IfIndex,
        name: String,
        mtu: u32,
        previous: u32,
    },
    AddClsact {
        index: IfIndex,
        name: String,
    },
    /// Removes the remains of a broken wire before a new one goes in. Not undone: the remains
    /// only dropped frames.
    DeleteWireFilter {
        index: IfIndex,
        name: String,
    },
    AddWireFilter {
        from: IfIndex,
        from_name: String,
        to: IfIndex,
        to_name: String,
    },
    /// Removes a filter that is being replaced (a mirror's copy filter still aimed at a
    /// destination that was deleted). Not undone: it only dropped frames.
    DeleteFilter {
        index: IfIndex,
        parent: TcHandle,
        prio: u16,
        what: String,
    },
    /// An alternative name that records what patchwire changed (see `silence.rs`).
    AddAltname {
        index: IfIndex,
        name: String,
        altname: String,
    },
    /// A prepared request and the one that undoes it (`None`: not undone), for changes the
    /// variants above do not say: a hub member's filter rewritten in place (NLM_F_REPLACE at
    /// its priority and handle, so no frame meets a gap), a filter or record removed with the
    /// request that puts it back.
    Prepared {
        request: (RouteNetlinkMessage, u16),
        undo: Option<(RouteNetlinkMessage, u16)>,
        /// What it does, for messages ("rewriting hub seg's filter on m1 (priority 20567) in
        /// place").
        what: String,
    },
    /// Any other filter (a mirror's): the prepared request, undone by deleting its priority.
    AddFilter {
        index: IfIndex,
        parent: TcHandle,
        prio: u16,
        request: RouteNetlinkMessage,
        /// What the filter is, for messages ("the web mirror's copy filter on eth1 in").
        what: String,
    },
}

impl Op {
    fn request(&self) -> (RouteNetlinkMessage, u16) {
        match self {
            Op::SetMtu { index, mtu, .. } => (link::set_mtu(*index, *mtu), 0),
            Op::AddClsact { index, .. } => tc::add_clsact(*index),
            Op::DeleteWireFilter { index, .. } => (
                tc::delete_filters_at(*index, tc::INGRESS_PARENT, tc::WIRE_PRIO),
                0,
            ),
            Op::AddWireFilter {
                from, to, to_name, ..
            } => tc::add_wire_filter(*from, *to, to_name),
            Op::DeleteFilter {
                index,
                parent,
                prio,
                ..
            } => (tc::delete_filters_at(*index, *parent, *prio), 0),
            Op::AddFilter { request, .. } => (request.clone(), NLM_F_CREATE | NLM_F_EXCL),
            Op::AddAltname { index, altname, .. } => link::altname(*index, altname, true),
            Op::Prepared { request, .. } => request.clone(),
        }
    }

    fn undo(&self) -> Option<(RouteNetlinkMessage, u16)> {
        match self {
            Op::SetMtu {
                index, previous, ..
            } => Some((link::set_mtu(*index, *previous), 0)),
            Op::AddClsact { index, .. } => Some((tc::delete_clsact(*index), 0)),
            Op::DeleteWireFilter { .. } | Op::DeleteFilter { .. } => None,
            Op::AddAltname { index, altname, .. } => Some(link::altname(*index, altname, false)),
            Op::AddWireFilter { from, .. } => Some((
                tc::delete_filters_at(*from, tc::INGRESS_PARENT, tc::WIRE_PRIO),
                0,
            )),
            Op::AddFilter {
                index,
                parent,
                prio,
                ..
            } => Some((tc::delete_filters_at(*index, *parent, *prio), 0)),
            Op::Prepared { undo, .. } => undo.clone(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Op::SetMtu { name, mtu, .. } => format!("setting mtu {mtu} on {name}"),
            Op::AddClsact { name, .. } => format!("adding a clsact qdisc on {name}"),
            Op::DeleteWireFilter { name, .. } => {
                format!("removing the remains of a broken wire on {name}")
            }
            Op::AddWireFilter {
                from_name, to_name, ..
            } => {
                format!("adding the {from_name} -> {to_name} redirect filter on {from_name}")
            }
            Op::DeleteFilter { what, .. } => format!("removing {what}"),
            Op::AddFilter { what, .. } => format!("adding {what}"),
            Op::Prepared { what, .. } => what.clone(),
            Op::AddAltname { name, altname, .. } => {
                format!("adding the altname {altname} to {name}")
            }
        }
    }

    /// Turns a refusal into the error a user should read.
    fn error(&self, source: NlError) -> WireError {
        let context = self.describe();
        let missing = matches!(source.errno(), Some(libc::ENOENT | libc::EOPNOTSUPP));
        match self {
            Op::AddClsact { .. } if missing => WireError::MissingFeature {
                feature: "the clsact qdisc (sch_ingress, CONFIG_NET_SCH_INGRESS)",
                context,
                source,
            },
            Op::AddWireFilter { .. } if missing => {
                let feature = if mentions(&source, "action") {
                    "the mirred action (act_mirred, CONFIG_NET_ACT_MIRRED)"
                } else {
                    "the u32 classifier (cls_u32, CONFIG_NET_CLS_U32)"
                };
                WireError::MissingFeature {
                    feature,
                    context,
                    source,
                }
            }
            Op::AddFilter { .. } if missing => {
                let feature = if mentions(&source, "action") {
                    "the mirred action (act_mirred, CONFIG_NET_ACT_MIRRED)"
                } else {
                    "the bpf classifier (cls_bpf, CONFIG_NET_CLS_BPF)"
                };
                WireError::MissingFeature {
                    feature,
                    context,
                    source,
                }
            }
            _ => WireError::kernel(context, source),
        }
    }
}

/// Whether the kernel's extended ack mentions `word`.
fn mentions(source: &NlError, word: &str) -> bool {
    match source {
        NlError::Kernel {
            ext_ack: Some(text),
            ..
        } => text.to_lowercase().contains(word),
        _ => false,
    }
}

/// A deliberate failure at one position of the batch, for proving rollback against the real
/// kernel (`PATCHWIRE_FAULT_AT=N` in the CLI). The op is replaced by a filter on an interface
/// index that cannot exist, which the kernel refuses with ENODEV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The index (0-based) of the op that fails.
    pub at_op: usize,
}

/// How often and how long a transient error (EBUSY, EAGAIN, ENODEV) is retried.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(200),
];

/// What a successful apply did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Ops that reported "already there" (a clsact another tool added meanwhile): not ours.
    pub not_ours: Vec<usize>,
}

/// Applies `ops` in order. On a lasting failure, undoes every op that succeeded (newest first)
/// and returns the first failure.
pub fn apply(
    socket: &mut RouteSocket,
    ops: &[Op],
    fault: Option<Fault>,
) -> Result<Applied, WireError> {
    let requests: Vec<_> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| match fault {
            Some(f) if f.at_op == i => {
                tc::add_wire_filter(IfIndex(0x7fff_fff0), IfIndex(1), "fault")
            }
            _ => op.request(),
        })
        .collect();
    let outcome = with_retries(requests, RETRY_DELAYS.len(), |batch| socket.batch(batch));

    let mut applied = Applied::default();
    let mut failure = None;
    let mut done = Vec::new();
    for (i, reply) in outcome.into_iter().enumerate() {
        match reply {
            Ok(_) => done.push(i),
            // A clsact another tool added since we looked: use it, never remove it.
            Err(e) if e.errno() == Some(libc::EEXIST) && matches!(ops[i], Op::AddClsact { .. }) => {
                applied.not_ours.push(i)
            }
            Err(e) if failure.is_none() => failure = Some(ops[i].error(e)),
            Err(_) => {}
        }
    }
    let Some(failure) = failure else {
        return Ok(applied);
    };

    let undo: Vec<_> = done
        .iter()
        .rev()
        .filter_map(|&i| ops[i].undo().map(|u| (i, u)))
        .collect();
    let undone = undo.len();
    let (which, requests): (Vec<usize>, Vec<_>) = undo.into_iter().unzip();
    let undo_errors = with_retries(requests, RETRY_DELAYS.len(), |batch| socket.batch(batch))
        .into_iter()
        .zip(which)
        .filter_map(|(reply, i)| {
            reply
                .err()
                .map(|e| format!("undoing {}: {e}", ops[i].describe()))
        })
        .collect();
    Err(WireError::RolledBack {
        failure: Box::new(failure),
        undone,
        undo_errors,
    })
}

/// Sends a batch, then re-sends (in order) the requests that failed transiently, up to
/// `rounds` more times with growing pauses. Returns one reply per request.
pub fn with_retries(
    requests: Vec<(RouteNetlinkMessage, u16)>,
    rounds: usize,
    mut send: impl FnMut(Vec<(RouteNetlinkMessage, u16)>) -> Vec<Reply>,
) -> Vec<Reply> {
    let mut replies = send(requests.clone());
    for delay in RETRY_DELAYS.iter().take(rounds) {
        let again: Vec<usize> = (0..replies.len())
            .filter(|&i| replies[i].as_ref().err().is_some_and(NlError::is_transient))
            .collect();
        if again.is_empty() {
            break;
        }
        std::thread::sleep(*delay);
        let retried = send(again.iter().map(|&i| requests[i].clone()).collect());
        for (i, reply) in again.into_iter().zip(retried) {
            replies[i] = reply;
        }
    }
    replies
}

/// Adding a clsact qdisc raises a zero transmit queue length to 1000 (seen on 6.18): on such an
/// interface the clsact is followed by putting 0 back, so a wire, hub or mirror changes nothing
/// of the interface but its hooks.
pub(crate) fn add_clsact(link: &crate::nl::link::Link) -> Vec<Op> {
    let mut ops = vec![Op::AddClsact {
        index: link.index,
        name: link.name.clone(),
    }];
    if link.txqlen == 0 {
        ops.push(Op::Prepared {
            request: (crate::nl::link::set_txqlen(link.index, 0), 0),
            undo: None,
            what: format!("keeping {}'s transmit queue length at 0", link.name),
        });
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Reply {
        Err(NlError::Kernel {
            errno: libc::EBUSY,
            ext_ack: None,
        })
    }

    fn requests(n: u32) -> Vec<(RouteNetlinkMessage, u16)> {
        (0..n)
            .map(|i| (link::set_mtu(IfIndex(i + 1), 1500), 0))
            .collect()
    }

    #[test]
    fn transient_errors_are_retried_until_they_clear() {
        let mut calls = Vec::new();
        let replies = with_retries(requests(3), 3, |batch| {
            calls.push(batch.len());
            match calls.len() {
                1 => vec![Ok(vec![]), busy(), busy()],
                2 => vec![Ok(vec![]), busy()],
                _ => vec![Ok(vec![])],
            }
        });
        assert_eq!(calls, vec![3, 2, 1]);
        assert!(replies.iter().all(Result::is_ok));
    }

    #[test]
    fn retries_are_bounded_and_permanent_errors_not_retried() {
        let mut calls = 0;
        let replies = with_retries(requests(2), 3, |batch| {
            calls += 1;
            batch
                .iter()
                .map(|_| {
                    if calls == 1 {
                        Err(NlError::Kernel {
                            errno: libc::EINVAL,
                            ext_ack: None,
                        })
                    } else {
                        busy()
                    }
                })
                .take(batch.len())
                .collect()
        });
        assert_eq!(calls, 1, "EINVAL is final");
        assert!(replies.iter().all(Result::is_err));

        let mut calls = 0;
        let replies = with_retries(requests(1), 3, |_| {
            calls += 1;
            vec![busy()]
        });
        assert_eq!(calls, 4, "one try and three retries");
        assert!(replies[0].is_err());
    }

    #[test]
    fn missing_kernel_features_are_named() {
        let filter = Op::AddWireFilter {
            from: IfIndex(2),
            from_name: "a".into(),
            to: IfIndex(3),
            to_name: "b".into(),
        };
        let no_action = NlError::Kernel {
            errno: libc::ENOENT,
            ext_ack: Some("Failed to load TC action module".into()),
        };
        assert!(
            filter
                .error(no_action)
                .to_string()
                .starts_with("this kernel lacks the mirred action")
        );
        let no_u32 = NlError::Kernel {
            errno: libc::ENOENT,
            ext_ack: Some("Unknown filter kind".into()),
        };
        assert!(
            filter
                .error(no_u32)
                .to_string()
                .starts_with("this kernel lacks the u32 classifier")
        );
        let clsact = Op::AddClsact {
            index: IfIndex(2),
            name: "a".into(),
        };
        let no_clsact = NlError::Kernel {
            errno: libc::ENOENT,
            ext_ack: Some("Unknown qdisc".into()),
        };
        assert!(
            clsact
                .error(no_clsact)
                .to_string()
                .starts_with("this kernel lacks the clsact qdisc")
        );
        let perm = NlError::Kernel {
            errno: libc::EPERM,
            ext_ack: None,
        };
        assert_eq!(
            clsact.error(perm).to_string(),
            "adding a clsact qdisc on a: Operation not permitted (patchwire needs CAP_NET_ADMIN: run it as root)"
        );
    }
}
