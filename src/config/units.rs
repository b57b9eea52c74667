//! The units rules.yaml is written in: durations (`30s`, `5m`, `4h`, `1d`)
//! and sizes (`4MiB`).

use std::time::Duration;

pub const DURATION_FORMS: &str = "a whole number with a unit: 30s, 5m, 4h, 1d (or combined, 1h30m)";
pub const SIZE_FORMS: &str = "a whole number of bytes or with a unit: 512KiB, 4MiB, 1GiB, 500KB, 4MB";

/// A duration as rules.yaml writes one (`1d2h`, `2h5m`, `45s`), to the
/// second: every duration syncwatch prints reads the same way, and can be
/// copied into the file.
pub fn format_duration(duration: Duration) -> String {
    let mut rest = duration.as_secs();
    if rest == 0 {
        return "0s".into();
    }
    let mut text = String::new();
    for (unit, seconds) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            text.push_str(&format!("{}{unit}", rest / seconds));
            rest %= seconds;
        }
    }
    text
}

/// Parses `30s`, `5m`, `4h`, `1d`, and sums of them (`1h30m`).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let mut rest = raw.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(seconds)?)?;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs(total))
}

/// Parses a byte size: `4194304`, `512KiB`, `4MiB`, `1GiB`, `500KB`, `4MB`.
pub fn parse_size(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let digits = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let number: u64 = raw[..digits].parse().ok()?;
    let factor: u64 = match raw[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_rules_yaml_writes_them_and_read_back() {
        for (secs, text) in [
            (0, "0s"),
            (45, "45s"),
            (7_500, "2h5m"),
            (93_600, "1d2h"),
            (2_592_000, "30d"),
            (86_461, "1d1m1s"),
        ] {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
            assert_eq!(parse_duration(text), Some(Duration::from_secs(secs)));
        }
    }

    #[test]
    fn durations_in_every_documented_unit() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("4h"), Some(Duration::from_secs(14_400)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn durations_without_a_known_unit_are_refused() {
        for bad in ["", "5", "m", "5 minutes", "4w", "-1h", "1.5h", "h4"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes_in_binary_and_decimal_units() {
        assert_eq!(parse_size("4MiB"), Some(4 << 20));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("4MB"), Some(4_000_000));
        assert_eq!(parse_size("4 MiB"), Some(4 << 20));
        assert_eq!(parse_size("4TiB"), None);
        assert_eq!(parse_size("MiB"), None);
    }
}
