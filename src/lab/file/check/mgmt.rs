//! The management network's checks: subnets written as `ADDRESS/LENGTH` of their family,
//! and static node addresses inside the subnets the file names, each used once.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Check;
use crate::lab::file::locate::key;

impl Check<'_> {
    /// Static management addresses: inside the management subnets, each used once.
    pub(super) fn mgmt_addresses(
        &self,
        containers: &[(&str, &crate::runtime::ContainerSpec)],
        mgmt: &crate::runtime::NetworkSpec,
    ) {
        let mut used: HashMap<IpAddr, &str> = HashMap::new();
        for &(name, spec) in containers {
            let addresses = [
                (
                    "mgmt-ipv4",
                    spec.mgmt_ipv4.map(IpAddr::V4),
                    &mgmt.ipv4_subnet,
                ),
                (
                    "mgmt-ipv6",
                    spec.mgmt_ipv6.map(IpAddr::V6),
                    &mgmt.ipv6_subnet,
                ),
            ];
            for (k, address, subnet) in addresses {
                let Some(address) = address else { continue };
                let at = [key("topology"), key("nodes"), key(name), key(k)];
                if let Some(subnet) = subnet
                    && !in_subnet(address, subnet)
                {
                    self.push(
                        &at,
                        false,
                        format!(
                            "node {name}: {k} {address} is outside the management subnet \
                             {subnet} (`mgmt:`)"
                        ),
                    );
                } else if let Some(other) = used.insert(address, name) {
                    self.push(
                        &at,
                        false,
                        format!("node {name}: {k} {address} is node {other}'s too"),
                    );
                }
            }
        }
    }
}

/// `mgmt.ipv4-subnet`/`ipv6-subnet`: `ADDRESS/LENGTH` of the right family.
pub(super) fn check_subnet(text: &str, v6: bool) -> Result<(), String> {
    let (family, max) = if v6 { ("IPv6", 128) } else { ("IPv4", 32) };
    let bad = || format!("subnet {text:?} is not an {family} subnet (ADDRESS/LENGTH)");
    let (address, length) = text.split_once('/').ok_or_else(bad)?;
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let length: u8 = length.parse().map_err(|_| bad())?;
    if address.is_ipv6() != v6 || length > max {
        return Err(bad());
    }
    Ok(())
}

/// Whether `address` is in `subnet` (`ADDRESS/LENGTH`, checked by `check_subnet`).
fn in_subnet(address: IpAddr, subnet: &str) -> bool {
    let Some((net, length)) = subnet.split_once('/') else {
        return true;
    };
    let (Ok(net), Ok(length)) = (net.parse::<IpAddr>(), length.parse::<u32>()) else {
        return true;
    };
    let bits = |a: IpAddr| -> u128 {
        match a {
            IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
            IpAddr::V6(a) => u128::from(a),
        }
    };
    if address.is_ipv4() != net.is_ipv4() {
        return false;
    }
    // IPv4 sits in the top 32 bits, so one mask serves both families.
    let length = length.min(if net.is_ipv4() { 32 } else { 128 });
    let mask = match length {
        0 => 0,
        n => u128::MAX << (128 - n),
    };
    bits(address) & mask == bits(net) & mask
}
