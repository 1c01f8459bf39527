//! Units as people write them, as `tc` reads them: durations (`50ms`, `1.5ms`, `200us`, `1s`),
//! percentages (`10%`, `1.5%`, `0.01`), rates in bit/s (`10mbit`, `1gbit`, `100kbit`, or bytes
//! per second `1mbps`) and sizes in bytes (`32kbit`, `64kb`, `1500b`, `1500`). Every error says
//! what was read and what is accepted.
//!
//! A number may carry an exponent (`1e9`, `2.5e-3s`): a lab file's YAML reads `rate: 1e9` as a
//! number, so the command line takes the same spelling rather than refusing what a file takes.
//! Percentages are kept to [`PERCENT_RESOLUTION`] (one frame in a million): a non-zero share
//! below it is refused (it would be stored as 0, and every later change would then fail), finer
//! digits are rounded to it, so what is stored always reads back as what was set.

/// The smallest non-zero percentage patchwire takes (and the step percentages are rounded to):
/// 0.0001 %, one frame in a million — as fine as `show_percent` prints, far coarser than the
/// program's 2^-32 thresholds and netem's u32 probabilities.
pub const PERCENT_RESOLUTION: f64 = 0.0001;

/// Splits `text` into its number and unit (`"1.5ms"` -> `(1.5, "ms")`), or `None` when it does
/// not start with a non-negative decimal number.
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let mut end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    // An exponent (`1e9`, `2.5E-3`), as YAML reads numbers; no unit starts with an `e`.
    if end > 0 && matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut digits_at = end + 1;
        if matches!(bytes.get(digits_at), Some(b'+' | b'-')) {
            digits_at += 1;
        }
        let digits = bytes[digits_at.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 {
            end = digits_at + digits;
        }
    }
    let (number, unit) = text.split_at(end);
    let value: f64 = number.parse().ok()?;
    value
        .is_finite()
        .then(|| (value, unit.trim().to_ascii_lowercase()))
}

/// A duration in nanoseconds: `50ms`, `1.5ms`, `200us`, `1s`, `0`. A bare number other than 0
/// is refused (tc reads it as microseconds, which surprises everyone).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let accepted = "a duration like 50ms, 1.5ms, 200us or 1s";
    let (value, unit) =
        number_and_unit(text).ok_or_else(|| format!("\"{text}\" is not {accepted}"))?;
    let scale = match unit.as_str() {
        "" if value == 0.0 => 1.0,
        "ns" | "nsec" => 1.0,
        "us" | "usec" | "µs" => 1e3,
        "ms" | "msec" => 1e6,
        "s" | "sec" | "secs" => 1e9,
        _ => return Err(format!("\"{text}\" is not {accepted}")),
    };
    let nanos = value * scale;
    if nanos > 3600e9 {
        return Err(format!("\"{text}\" is more than an hour: give {accepted}"));
    }
    Ok(nanos.round() as u64)
}

/// A percentage from 0 to 100: `10%`, `1.5%`, `10` (a bare number is a percentage too), rounded
/// to [`PERCENT_RESOLUTION`]; a non-zero one below it is refused.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let accepted = "a percentage from 0 to 100 like 10%, 1.5% or 0.01%";
    let (value, unit) =
        number_and_unit(text).ok_or_else(|| format!("\"{text}\" is not {accepted}"))?;
    if !(unit.is_empty() || unit == "%") {
        return Err(format!("\"{text}\" is not {accepted}"));
    }
    if value > 100.0 {
        return Err(format!("\"{text}\" is more than 100%: give {accepted}"));
    }
    if value > 0.0 && value < PERCENT_RESOLUTION {
        return Err(format!(
            "\"{text}\" is less than 0.0001%, the smallest share patchwire keeps (one frame in a \
             million): give 0 or at least 0.0001%"
        ));
    }
    Ok(round_percent(value))
}

/// A percentage rounded to [`PERCENT_RESOLUTION`] (what is stored, and what reads back).
pub fn round_percent(value: f64) -> f64 {
    // k / 10^4 with both exact: the same double as the decimal `0.0001·k` written out.
    (value * 1e4).round() / 1e4
}

/// A rate in bit/s: `10mbit`, `1gbit`, `100kbit`, `9600bit`, or bytes per second `1mbps`
/// (tc's units: k = 1000; `bps` is bytes). A bare number is bit/s.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let accepted = "a rate like 10mbit, 1gbit, 100kbit or 1mbps (bytes/s)";
    let (value, unit) =
        number_and_unit(text).ok_or_else(|| format!("\"{text}\" is not {accepted}"))?;
    let scale = match unit.as_str() {
        "" | "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        _ => return Err(format!("\"{text}\" is not {accepted}")),
    };
    let bits = (value * scale).round();
    if bits < 8.0 {
        return Err(format!("\"{text}\" is less than one byte per second"));
    }
    if bits > 1e14 {
        return Err(format!("\"{text}\" is more than 100tbit"));
    }
    Ok(bits as u64)
}

/// A rate, or `0` (removes a rate).
pub fn parse_rate_or_zero(text: &str) -> Result<u64, String> {
    match number_and_unit(text) {
        Some((0.0, _)) => Ok(0),
        _ => parse_rate(text),
    }
}

/// A size in bytes, as tc's `burst`: `32kbit`, `64kb` or `64k` (KiB), `1mb`, `1500b`, `1500`.
pub fn parse_size(text: &str) -> Result<u32, String> {
    let accepted = "a size like 32kbit, 64kb, 1mb or 1500b (b = bytes, kb = 1024 bytes)";
    let (value, unit) =
        number_and_unit(text).ok_or_else(|| format!("\"{text}\" is not {accepted}"))?;
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        "kbit" => 1024.0 / 8.0,
        "mbit" => 1024.0 * 1024.0 / 8.0,
        "gbit" => 1024.0 * 1024.0 * 1024.0 / 8.0,
        _ => return Err(format!("\"{text}\" is not {accepted}")),
    };
    let bytes = (value * scale).round();
    if bytes >= f64::from(u32::MAX) {
        return Err(format!("\"{text}\" is 4 GiB or more"));
    }
    Ok(bytes as u32)
}

/// A duration as people write it: `50ms`, `1.5ms`, `200us`, `2s`.
pub fn show_duration(nanos: u64) -> String {
    let trim = |v: f64| {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match nanos {
        0 => "0".into(),
        n if n % 1_000_000_000 == 0 => format!("{}s", n / 1_000_000_000),
        n if n >= 1_000_000 => format!("{}ms", trim(n as f64 / 1e6)),
        n if n >= 1_000 => format!("{}us", trim(n as f64 / 1e3)),
        n => format!("{n}ns"),
    }
}

/// A rate as people write it: `10mbit`, `1.5gbit`, `9600bit`.
pub fn show_rate(bits: u64) -> String {
    let trim = |v: f64| {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match bits {
        b if b >= 1_000_000_000 => format!("{}gbit", trim(b as f64 / 1e9)),
        b if b >= 1_000_000 => format!("{}mbit", trim(b as f64 / 1e6)),
        b if b >= 1_000 => format!("{}kbit", trim(b as f64 / 1e3)),
        b => format!("{b}bit"),
    }
}

/// A percentage as people write it: `10%`, `1.5%`.
pub fn show_percent(percent: f64) -> String {
    let text = format!("{percent:.4}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("50ms"), Ok(50_000_000));
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("200us"), Ok(200_000));
        assert_eq!(parse_duration("1s"), Ok(1_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(
            parse_duration("50"),
            Err("\"50\" is not a duration like 50ms, 1.5ms, 200us or 1s".into())
        );
        assert!(parse_duration("-5ms").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(show_duration(50_000_000), "50ms");
        assert_eq!(show_duration(1_500_000), "1.5ms");
        assert_eq!(show_duration(200_000), "200us");
        assert_eq!(show_duration(2_000_000_000), "2s");
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("10%"), Ok(10.0));
        assert_eq!(parse_percent("1.5%"), Ok(1.5));
        assert_eq!(parse_percent("100"), Ok(100.0));
        assert_eq!(
            parse_percent("101%"),
            Err(
                "\"101%\" is more than 100%: give a percentage from 0 to 100 like 10%, 1.5% or 0.01%"
                    .into()
            )
        );
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("ten").is_err());
        assert_eq!(show_percent(1.5), "1.5%");
        // Below the resolution: refused, not stored as a 0 that no later change accepts.
        assert_eq!(
            parse_percent("0.0000001%"),
            Err(
                "\"0.0000001%\" is less than 0.0001%, the smallest share patchwire keeps (one \
                 frame in a million): give 0 or at least 0.0001%"
                    .into()
            )
        );
        assert_eq!(parse_percent("0.0001%"), Ok(0.0001));
        assert_eq!(parse_percent("0.00012%"), Ok(0.0001));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent("1e1%"), Ok(10.0));
        assert_eq!(show_percent(10.0), "10%");
    }

    #[test]
    fn rates_and_sizes() {
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("100kbit"), Ok(100_000));
        assert_eq!(parse_rate("1.5Gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("1mbps"), Ok(8_000_000));
        // As a lab file's YAML reads `rate: 1e9`.
        assert_eq!(parse_rate("1e9"), Ok(1_000_000_000));
        assert_eq!(parse_rate("2.5e3kbit"), Ok(2_500_000));
        assert_eq!(parse_duration("5e-3s"), Ok(5_000_000));
        assert!(parse_rate("1e").is_err());
        assert!(parse_rate("1e999").is_err());
        assert_eq!(
            parse_rate("10mb"),
            Err("\"10mb\" is not a rate like 10mbit, 1gbit, 100kbit or 1mbps (bytes/s)".into())
        );
        assert_eq!(parse_size("32kbit"), Ok(4096));
        assert_eq!(parse_size("64kb"), Ok(65536));
        assert_eq!(parse_size("1500b"), Ok(1500));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert!(parse_size("5parsec").is_err());
        assert_eq!(show_rate(10_000_000), "10mbit");
        assert_eq!(show_rate(1_500_000_000), "1.5gbit");
    }
}
