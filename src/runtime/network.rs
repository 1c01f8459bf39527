//! The management network through the runtime: made when missing (labelled as the lab's),
//! removed on `down` only when the lab made it and no container uses it, and the Linux bridge
//! behind it (for `mgmt-net` links).

use serde_json::Value;

use super::{CALL_TIMEOUT, Kind, NetworkSpec, Runtime, RuntimeError, says_missing};
use crate::marks::NETWORK_LAB_LABEL;

impl Runtime {
    /// The network called `name` as the runtime reports it, or `None`.
    fn network(&self, name: &str) -> Result<Option<Value>, RuntimeError> {
        let doing = format!("inspecting network {name}");
        let Some(stdout) = self.inspect_object(&doing, "network", name)? else {
            return Ok(None);
        };
        let text = stdout.trim();
        let value: Value = match text.starts_with('[') {
            true => serde_json::from_str::<Vec<Value>>(text)
                .map_err(|e| self.answer_error(&doing, e.to_string()))?
                .into_iter()
                .next()
                .ok_or_else(|| self.answer_error(&doing, "an empty list"))?,
            false => serde_json::from_str(text.lines().next().unwrap_or(""))
                .map_err(|e| self.answer_error(&doing, e.to_string()))?,
        };
        Ok(Some(value))
    }

    /// Whether network `name` exists.
    pub fn has_network(&self, name: &str) -> Result<bool, RuntimeError> {
        Ok(self.network(name)?.is_some())
    }

    /// Makes the management network when it does not exist (labelled `patchwire.lab=LAB`, so
    /// `down` knows the lab made it); an existing one is used as it is. Returns whether it
    /// was made now.
    pub fn ensure_network(&self, spec: &NetworkSpec, lab: &str) -> Result<bool, RuntimeError> {
        if self.network(&spec.name)?.is_some() {
            return Ok(false);
        }
        let mut args: Vec<String> = vec!["network".into(), "create".into()];
        let mut opt = |flag: &str, value: String| {
            args.push(flag.to_string());
            args.push(value);
        };
        opt("--label", format!("{NETWORK_LAB_LABEL}={lab}"));
        if let Some(subnet) = &spec.ipv4_subnet {
            opt("--subnet", subnet.clone());
        }
        if let Some(subnet) = &spec.ipv6_subnet {
            args.push("--ipv6".into());
            args.push("--subnet".into());
            args.push(subnet.clone());
        }
        match (self.kind, &spec.bridge, spec.mtu) {
            (Kind::Docker, bridge, mtu) => {
                if let Some(bridge) = bridge {
                    args.push("--opt".into());
                    args.push(format!("com.docker.network.bridge.name={bridge}"));
                }
                if let Some(mtu) = mtu {
                    args.push("--opt".into());
                    args.push(format!("com.docker.network.driver.mtu={mtu}"));
                }
            }
            (Kind::Podman, bridge, mtu) => {
                if let Some(bridge) = bridge {
                    args.push("--interface-name".into());
                    args.push(bridge.clone());
                }
                if let Some(mtu) = mtu {
                    args.push("--opt".into());
                    args.push(format!("mtu={mtu}"));
                }
            }
        }
        args.push(spec.name.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.call(
            &format!("creating network {}", spec.name),
            &args,
            CALL_TIMEOUT,
        )?;
        Ok(true)
    }

    /// Whether `network create` can name the network's Linux bridge: docker always
    /// (`com.docker.network.bridge.name`); podman once its `network create` has
    /// `--interface-name` (podman 4.3, Debian 12's, has not, and refuses every option that
    /// would: `unsupported network option`). Asked of the client's own help, not of a
    /// version number, so a distribution's backport counts.
    pub fn names_bridges(&self) -> Result<bool, RuntimeError> {
        match self.kind {
            Kind::Docker => Ok(true),
            Kind::Podman => {
                let help = self.call(
                    "asking whether network create names bridges",
                    &["network", "create", "--help"],
                    CALL_TIMEOUT,
                )?;
                Ok(help.contains("--interface-name"))
            }
        }
    }

    /// The names of the networks labelled `patchwire.lab=LAB` (the ones that lab made).
    pub fn list_lab_networks(&self, lab: &str) -> Result<Vec<String>, RuntimeError> {
        let filter = format!("label={NETWORK_LAB_LABEL}={lab}");
        let out = self.call(
            &format!("listing the networks of lab {lab}"),
            &[
                "network",
                "ls",
                "--filter",
                &filter,
                "--format",
                "{{.Name}}",
            ],
            CALL_TIMEOUT,
        )?;
        Ok(out.split_whitespace().map(String::from).collect())
    }

    /// The lab that made network `name` (its `patchwire.lab` label), or `None`: no such
    /// network, or not made by a patchwire lab.
    pub fn network_lab(&self, name: &str) -> Result<Option<String>, RuntimeError> {
        let Some(network) = self.network(name)? else {
            return Ok(None);
        };
        Ok(["/Labels", "/labels"]
            .iter()
            .find_map(|p| network.pointer(&format!("{p}/{NETWORK_LAB_LABEL}")))
            .and_then(Value::as_str)
            .map(String::from))
    }

    /// The names of the containers (running or not) on network `name`.
    pub fn network_users(&self, name: &str) -> Result<Vec<String>, RuntimeError> {
        let doing = format!("listing the containers on network {name}");
        let filter = format!("network={name}");
        let users = self.call(
            &doing,
            &["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
            CALL_TIMEOUT,
        )?;
        Ok(users.split_whitespace().map(String::from).collect())
    }

    /// Removes network `name` if it carries `patchwire.lab=LAB` and no container (of any lab
    /// or tool) is on it. Returns whether it was removed.
    pub fn remove_network_if_ours_and_unused(
        &self,
        name: &str,
        lab: &str,
    ) -> Result<bool, RuntimeError> {
        if self.network_lab(name)?.as_deref() != Some(lab) {
            return Ok(false);
        }
        self.remove_network_if_unused(name)
    }

    /// Removes network `name` if it was made by a patchwire lab (any: the last lab using a
    /// network another lab made removes it) and no container is on it. Returns whether it was
    /// removed.
    pub fn remove_lab_network_if_unused(&self, name: &str) -> Result<bool, RuntimeError> {
        if self.network_lab(name)?.is_none() {
            return Ok(false);
        }
        self.remove_network_if_unused(name)
    }

    fn remove_network_if_unused(&self, name: &str) -> Result<bool, RuntimeError> {
        if !self.network_users(name)?.is_empty() {
            return Ok(false);
        }
        let doing = format!("removing network {name}");
        let out = self.run(&doing, &["network", "rm", name], CALL_TIMEOUT)?;
        match out.status {
            0 => Ok(true),
            _ if says_missing(&out.stderr) => Ok(false),
            status => Err(RuntimeError::Failed {
                runtime: self.kind,
                doing,
                status,
                stderr: out.stderr.trim().to_string(),
            }),
        }
    }

    /// The subnets of network `name` as the runtime reports them (`A.B.C.D/N`, `X::/N`):
    /// podman's `subnets[].subnet`, docker's `IPAM.Config[].Subnet`. `None`: no such network.
    pub fn network_subnets(&self, name: &str) -> Result<Option<Vec<String>>, RuntimeError> {
        let Some(network) = self.network(name)? else {
            return Ok(None);
        };
        Ok(Some(subnets_of(&network)))
    }

    /// The Linux bridge behind network `name` (podman's `network_interface`; docker's
    /// `com.docker.network.bridge.name` option, else `br-` and the id's first 12 digits), or
    /// `None` when there is no such network or it is not a bridge.
    pub fn network_bridge(&self, name: &str) -> Result<Option<String>, RuntimeError> {
        let Some(network) = self.network(name)? else {
            return Ok(None);
        };
        Ok(bridge_of(self.kind, &network))
    }
}

fn subnets_of(network: &Value) -> Vec<String> {
    let list = |pointer: &str, key: &str| -> Vec<String> {
        network
            .pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.get(key).and_then(Value::as_str).map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut subnets = list("/subnets", "subnet");
    subnets.extend(list("/IPAM/Config", "Subnet"));
    subnets
}

fn bridge_of(kind: Kind, network: &Value) -> Option<String> {
    match kind {
        Kind::Podman => network
            .get("network_interface")
            .and_then(Value::as_str)
            .map(String::from),
        Kind::Docker => {
            if network.get("Driver").and_then(Value::as_str) != Some("bridge") {
                return None;
            }
            let named = network
                .pointer("/Options/com.docker.network.bridge.name")
                .and_then(Value::as_str);
            match named {
                Some(bridge) => Some(bridge.to_string()),
                None => {
                    let id = network.get("Id").and_then(Value::as_str)?;
                    Some(format!("br-{}", id.get(..12)?))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subnets_of_a_network_are_read_from_either_runtime() {
        let podman: Value = serde_json::from_str(
            r#"{"subnets":[{"subnet":"198.18.43.0/24","gateway":"198.18.43.1"}]}"#,
        )
        .unwrap();
        assert_eq!(subnets_of(&podman), ["198.18.43.0/24"]);
        let docker: Value = serde_json::from_str(
            r#"{"IPAM":{"Config":[{"Subnet":"198.18.43.0/24"},{"Subnet":"fd00:43::/64"}]}}"#,
        )
        .unwrap();
        assert_eq!(subnets_of(&docker), ["198.18.43.0/24", "fd00:43::/64"]);
    }

    #[test]
    fn the_bridge_behind_a_network_is_read_from_either_runtime() {
        let podman: Value =
            serde_json::from_str(r#"{"name":"clab","network_interface":"cni-podman1"}"#).unwrap();
        assert_eq!(
            bridge_of(Kind::Podman, &podman).as_deref(),
            Some("cni-podman1")
        );
        let docker: Value = serde_json::from_str(
            r#"{"Name":"clab","Id":"0123456789abcdef","Driver":"bridge","Options":{}}"#,
        )
        .unwrap();
        assert_eq!(
            bridge_of(Kind::Docker, &docker).as_deref(),
            Some("br-0123456789ab")
        );
        let named: Value = serde_json::from_str(
            r#"{"Id":"0123456789abcdef","Driver":"bridge","Options":{"com.docker.network.bridge.name":"br-clab"}}"#,
        )
        .unwrap();
        assert_eq!(bridge_of(Kind::Docker, &named).as_deref(), Some("br-clab"));
    }
}
