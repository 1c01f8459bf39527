//! Static management addresses against the management network's subnets.

use super::*;

/// Refuses a node's `mgmt-ipv4`/`mgmt-ipv6` outside every subnet of its family in
/// `subnets` (the existing network's, or those `up` makes it with: `made`). Subnets that
/// cannot be read are no reason to refuse: the runtime decides.
pub(super) fn check_static(
    w: &Wanted,
    subnets: &[String],
    mgmt: &NetworkSpec,
    made: bool,
    runtime: &Runtime,
    at: &str,
    remake: &str,
) -> Result<(), LabError> {
    let wanted = [
        ("mgmt-ipv4", w.spec.mgmt_ipv4.map(std::net::IpAddr::V4)),
        ("mgmt-ipv6", w.spec.mgmt_ipv6.map(std::net::IpAddr::V6)),
    ];
    for (key, address) in wanted {
        let Some(address) = address else { continue };
        let parsed: Vec<(std::net::IpAddr, u8)> =
            subnets.iter().filter_map(|s| parse_cidr(s)).collect();
        if parsed.len() < subnets.len() {
            continue;
        }
        if parsed
            .iter()
            .any(|(net, len)| in_subnet(address, *net, *len))
        {
            continue;
        }
        let listed = match subnets.is_empty() {
            true => "none".to_string(),
            false => subnets.join(", "),
        };
        let whose = match made {
            true => "the subnets up makes it with".to_string(),
            false => format!("{}'s subnets", runtime.kind),
        };
        // The address is in the subnet the file gives the network, which exists with others:
        // the file's subnet is not what the network has.
        let theirs = [&mgmt.ipv4_subnet, &mgmt.ipv6_subnet]
            .into_iter()
            .flatten()
            .find(|s| parse_cidr(s).is_some_and(|(net, len)| in_subnet(address, net, len)))
            .filter(|_| !made);
        let differs = theirs.map_or_else(String::new, |subnet| {
            format!(
                "; it is in the file's subnet {subnet}, but the network exists with other \
                 subnets and is not changed in place ({remake})"
            )
        });
        return Err(LabError::Invalid(format!(
            "{at}: node {}: {key} {address} is not in a subnet of management network {} \
             ({whose}: {listed}){differs}: give the node an address in one, or remove {key} \
             (the runtime then picks one)",
            w.node, mgmt.name
        )));
    }
    Ok(())
}

/// What makes management network `network` again with the file's subnets: `down` then `up`
/// when the lab made it (`ours`), else removing it by hand.
pub(super) fn remake_advice(runtime: &Runtime, network: &str, ours: bool, path: &str) -> String {
    match ours {
        true => format!(
            "the lab made it: patchwire down {path} then patchwire up {path} makes it again \
             with the file's"
        ),
        false => format!(
            "the lab did not make it: once nothing is on it, {} network rm {network}, then \
             patchwire up {path} makes it with the file's",
            runtime.kind
        ),
    }
}

/// A note when the management network `found` (its subnets as the runtime reports them)
/// lacks a subnet the file gives it, or has one the file does not: `up` uses it as it is.
pub(super) fn subnets_differ(found: &[String], mgmt: &NetworkSpec, remake: &str) -> Option<String> {
    let norm = |s: &String| {
        parse_cidr(s).map(|(net, len)| match net {
            std::net::IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(len.min(32)))
                    .unwrap_or(0);
                (std::net::IpAddr::V4((u32::from(a) & mask).into()), len)
            }
            std::net::IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(len.min(128)))
                    .unwrap_or(0);
                (std::net::IpAddr::V6((u128::from(a) & mask).into()), len)
            }
        })
    };
    let wanted: Vec<&String> = [&mgmt.ipv4_subnet, &mgmt.ipv6_subnet]
        .into_iter()
        .flatten()
        .collect();
    let have: std::collections::BTreeSet<_> = found.iter().filter_map(norm).collect();
    let want: std::collections::BTreeSet<_> = wanted.iter().filter_map(|s| norm(s)).collect();
    // Subnets that do not parse are the runtime's business, not a difference to report.
    if have.len() < found.len() || want.len() < wanted.len() || have == want {
        return None;
    }
    let listed = |v: Vec<String>| match v.is_empty() {
        true => "none".to_string(),
        false => v.join(", "),
    };
    Some(format!(
        "management network {} has subnets {}, the file gives it {}: up uses it as it is (a \
         network is not changed in place; {remake})",
        mgmt.name,
        listed(found.to_vec()),
        listed(wanted.into_iter().cloned().collect()),
    ))
}

/// `A.B.C.D/N` or `X::/N`.
pub(super) fn parse_cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (address, len) = text.split_once('/')?;
    Some((address.parse().ok()?, len.parse().ok()?))
}

pub(super) fn in_subnet(address: std::net::IpAddr, net: std::net::IpAddr, len: u8) -> bool {
    use std::net::IpAddr;
    match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
