//! Durations as the manifests write them: Go's format (`30s`, `5m`, `1h30m`, `250ms`), which
//! is also what CEL's `duration()` parses, so the schema's rules (`timeout < interval`) and
//! our own code read a value the same way. The schema pattern [`PATTERN`] admits exactly
//! what [`parse`] accepts.

use std::time::Duration;

use crate::{Error, Result};

/// The schema pattern for duration fields: one or more `<number><unit>` with units
/// `ms`, `s`, `m`, `h`.
pub const PATTERN: &str = r"^([0-9]+(ms|s|m|h))+$";

/// Parses a Go-style duration (`"30s"`, `"1h30m"`, `"250ms"`).
///
/// # Errors
/// [`Error::Duration`] for empty text, a missing number or unit, an unknown unit, or an
/// overflow.
pub fn parse(input: &str) -> Result<Duration> {
    let fail = |reason| Error::Duration {
        input: input.to_string(),
        reason,
    };
    if input.is_empty() {
        return Err(fail("empty; write e.g. \"30s\", \"5m\" or \"1h30m\""));
    }
    let mut total = Duration::ZERO;
    let mut rest = input;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(fail(
                "expected a number; write e.g. \"30s\", \"5m\" or \"1h30m\"",
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| fail("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(fail("missing unit (ms, s, m or h)")),
            _ => return Err(fail("unknown unit (use ms, s, m or h)")),
        };
        rest = &rest[unit_len..];
        let part = number
            .checked_mul(unit_ms)
            .ok_or_else(|| fail("duration too large"))?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(|| fail("duration too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way manifests write it (`1h30m`, `45s`, `250ms`); `parse(format(d))`
/// gives `d` back for whole milliseconds.
pub fn format(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_units() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1m500ms").unwrap(), Duration::from_millis(60_500));
    }

    #[test]
    fn rejects_what_the_schema_pattern_rejects() {
        for bad in ["", "30", "s", "1d", "1.5s", "-1s", "1h 30m", "30sec"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn format_round_trips() {
        for text in ["1h30m", "45s", "250ms", "2h", "1m500ms"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
