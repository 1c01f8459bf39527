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
        return Err(LabError::Invalid(format!(
            "{at}: node {}: {key} {address} is not in a subnet of management network {} \
             ({whose}: {listed}): give the node an address in one, or remove {key} (the \
             runtime then picks one)",
            w.node, mgmt.name
        )));
    }
    Ok(())
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
