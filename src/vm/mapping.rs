//! Which interface a VM's tap is wired to.
//!
//! The default follows vrnetlab: `tapN` goes with `ethN`. Anything else is written down, one
//! tap per line, in the file named by `PATCHWIRE_TAP_CONFIG` (default
//! `/etc/patchwire/taps.conf`, read only if it exists), or in the environment variable
//! `PATCHWIRE_TAP_MAP` with `;` between entries (it wins over the file):
//!
//! ```text
//! # TAP      PARTNER   [options]
//! tap1       eth1
//! vm1-net0   eth3      tx-checksum=off
//! ```

use super::WireError;

/// The environment variable naming the mapping file (default [`DEFAULT_CONFIG`]).
pub const CONFIG_ENV: &str = "PATCHWIRE_TAP_CONFIG";
/// The environment variable holding mapping entries, `;` between them; it wins over the file.
pub const MAP_ENV: &str = "PATCHWIRE_TAP_MAP";
/// The mapping file read when [`CONFIG_ENV`] is not set (only if it exists).
pub const DEFAULT_CONFIG: &str = "/etc/patchwire/taps.conf";

/// One tap's partner and wire options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The tap's name.
    pub tap: String,
    /// The interface it is wired to.
    pub partner: String,
    /// `tx-checksum=on|off`: TX checksum offload of both ends turned on or off; `None` leaves it.
    pub tx_checksum: Option<bool>,
    /// `datapath=tc|ebpf`: how the wire moves frames (default tc).
    pub datapath: crate::wire::Datapath,
    /// Where this came from, for logs: "PATCHWIRE_TAP_MAP", "/etc/patchwire/taps.conf line 3".
    pub source: String,
}

/// Reads mapping entries from `text`; `separator` splits entries (newline in files, `;` in the
/// environment variable). Errors name `origin` and the entry number.
pub fn parse(text: &str, separator: char, origin: &str) -> Result<Vec<Entry>, WireError> {
    let mut entries = Vec::new();
    for (number, line) in text.split(separator).enumerate() {
        let at = format!(
            "{origin} {} {}",
            if separator == '\n' { "line" } else { "entry" },
            number + 1
        );
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [tap, partner, options @ ..] = &words[..] else {
            return Err(WireError::Invalid(format!(
                "{at}: expected \"TAP PARTNER [tx-checksum=on|off] [datapath=tc|ebpf]\", found {line:?}"
            )));
        };
        for name in [tap, partner] {
            crate::nl::link::validate_name(name)
                .map_err(|e| WireError::Invalid(format!("{at}: {e}")))?;
        }
        let mut tx_checksum = None;
        let mut datapath = crate::wire::Datapath::Tc;
        for option in options {
            match *option {
                "tx-checksum=on" => tx_checksum = Some(true),
                "tx-checksum=off" => tx_checksum = Some(false),
                "datapath=tc" => datapath = crate::wire::Datapath::Tc,
                "datapath=ebpf" => datapath = crate::wire::Datapath::Ebpf,
                other => {
                    return Err(WireError::Invalid(format!(
                        "{at}: unknown option {other:?} (known: tx-checksum=on, tx-checksum=off, \
                         datapath=tc, datapath=ebpf)"
                    )));
                }
            }
        }
        if entries.iter().any(|e: &Entry| e.tap == *tap) {
            return Err(WireError::Invalid(format!("{at}: {tap} is mapped twice")));
        }
        entries.push(Entry {
            tap: tap.to_string(),
            partner: partner.to_string(),
            tx_checksum,
            datapath,
            source: at,
        });
    }
    Ok(entries)
}

/// The partner of `tap`: from `PATCHWIRE_TAP_MAP`, else the config file, else tapN -> ethN.
pub fn lookup(tap: &str) -> Result<Entry, WireError> {
    if let Ok(map) = std::env::var(MAP_ENV)
        && let Some(entry) = parse(&map, ';', MAP_ENV)?
            .into_iter()
            .find(|e| e.tap == tap)
    {
        return Ok(entry);
    }
    let path = std::env::var(CONFIG_ENV).unwrap_or_else(|_| DEFAULT_CONFIG.to_string());
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            if let Some(entry) = parse(&text, '\n', &path)?
                .into_iter()
                .find(|e| e.tap == tap)
            {
                return Ok(entry);
            }
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && std::env::var(CONFIG_ENV).is_err() => {}
        Err(e) => return Err(WireError::io(format!("reading {path}"), e)),
    }
    default_partner(tap)
}

/// vrnetlab's convention: tapN is wired to ethN.
pub fn default_partner(tap: &str) -> Result<Entry, WireError> {
    let number = tap
        .strip_prefix("tap")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match number {
        Some(n) => Ok(Entry {
            tap: tap.to_string(),
            partner: format!("eth{n}"),
            tx_checksum: None,
            datapath: crate::wire::Datapath::Tc,
            source: "default tapN -> ethN".into(),
        }),
        None => Err(WireError::Invalid(format!(
            "no partner for {tap}: it is not named tapN (wired to ethN by default) and neither \
             {MAP_ENV} nor the file in {CONFIG_ENV} (default {DEFAULT_CONFIG}) maps it"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_map_taps_with_options_and_comments() {
        let entries = parse(
            "# lab\ntap1 eth1\n\nvm1-net0  eth3  tx-checksum=off # uplink\n",
            '\n',
            "taps.conf",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            (entries[1].tap.as_str(), entries[1].partner.as_str()),
            ("vm1-net0", "eth3")
        );
        assert_eq!(entries[1].tx_checksum, Some(false));
        let ebpf = parse("tap1 eth1 datapath=ebpf\n", '\n', "taps.conf").unwrap();
        assert_eq!(ebpf[0].datapath, crate::wire::Datapath::Ebpf);
        assert_eq!(entries[1].source, "taps.conf line 4");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = |text: &str| parse(text, '\n', "taps.conf").unwrap_err().to_string();
        assert_eq!(
            err("tap1 eth1\ntap2\n"),
            "taps.conf line 2: expected \"TAP PARTNER [tx-checksum=on|off] [datapath=tc|ebpf]\", found \"tap2\""
        );
        assert_eq!(
            err("tap1 eth1 mtu=9000\n"),
            "taps.conf line 1: unknown option \"mtu=9000\" (known: tx-checksum=on, tx-checksum=off, \
             datapath=tc, datapath=ebpf)"
        );
        assert_eq!(
            err("tap1 eth1\ntap1 eth2\n"),
            "taps.conf line 2: tap1 is mapped twice"
        );
        assert!(err("tap1 a234567890123456\n").starts_with("taps.conf line 1: interface name"));
        let env = parse("tap1 eth1; tap2", ';', MAP_ENV)
            .unwrap_err()
            .to_string();
        assert!(env.starts_with("PATCHWIRE_TAP_MAP entry 2:"), "{env}");
    }

    #[test]
    fn tap_n_goes_with_eth_n() {
        assert_eq!(default_partner("tap12").unwrap().partner, "eth12");
        assert!(default_partner("tapx").is_err());
        assert!(default_partner("tap").is_err());
        assert!(
            default_partner("vm-tap1")
                .unwrap_err()
                .to_string()
                .starts_with("no partner for vm-tap1")
        );
    }
}
