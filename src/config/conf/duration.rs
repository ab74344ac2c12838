//! Go's `time.ParseDuration` syntax (`500ms`, `1h30m`, `1.5s`, `10µs`), which nats-server
//! uses for every duration written as a string in its configuration.
//!
//! Results match Go to the nanosecond, fractions included (Go scales a fraction through a
//! float, so this does too). Unlike Go, a negative duration is an error: no ringnats
//! setting can use one.

use std::time::Duration;

/// Go's largest duration, `1<<63 - 1` nanoseconds.
const NANOSECONDS_MAX: u64 = i64::MAX as u64;

/// Parses a Go duration string. Errors use Go's wording (`time: invalid duration "x"`,
/// `time: missing unit in duration "1"`, `time: unknown unit "d" in duration "1d"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanoseconds, after) = parse_component(rest, text)?;
        rest = after;
        total = total
            .checked_add(nanoseconds)
            .filter(|&sum| sum <= 1 << 63)
            .ok_or_else(invalid)?;
    }
    if negative && total > 0 {
        return Err(format!("negative duration {text:?} is not allowed"));
    }
    if total > NANOSECONDS_MAX {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total))
}

/// One `<number><unit>` component: its nanoseconds and the text after it.
fn parse_component<'t>(rest: &'t str, whole: &str) -> Result<(u64, &'t str), String> {
    let invalid = || format!("time: invalid duration {whole:?}");
    let first = rest.as_bytes()[0];
    if !(first == b'.' || first.is_ascii_digit()) {
        return Err(invalid());
    }
    let (whole_part, after_integer) = leading_integer(rest).ok_or_else(invalid)?;
    let has_integer = after_integer.len() != rest.len();
    let (mut fraction, mut scale, mut after_number) = (0u64, 1.0f64, after_integer);
    let mut has_fraction = false;
    if let Some(after_dot) = after_integer.strip_prefix('.') {
        (fraction, scale, after_number) = leading_fraction(after_dot);
        has_fraction = after_number.len() != after_dot.len();
    }
    if !has_integer && !has_fraction {
        return Err(invalid());
    }
    let unit_end = after_number
        .find(|character: char| character == '.' || character.is_ascii_digit())
        .unwrap_or(after_number.len());
    if unit_end == 0 {
        return Err(format!("time: missing unit in duration {whole:?}"));
    }
    let unit_text = &after_number[..unit_end];
    let unit = unit_nanoseconds(unit_text)
        .ok_or_else(|| format!("time: unknown unit {unit_text:?} in duration {whole:?}"))?;
    if whole_part > (1 << 63) / unit {
        return Err(invalid());
    }
    let mut nanoseconds = whole_part * unit;
    if fraction > 0 {
        // Go converts through float64 here; truncating the same way keeps results equal.
        nanoseconds += (fraction as f64 * (unit as f64 / scale)) as u64;
        if nanoseconds > 1 << 63 {
            return Err(invalid());
        }
    }
    Ok((nanoseconds, &after_number[unit_end..]))
}

/// Leading ASCII digits as a number; `None` when it exceeds `1<<63`.
fn leading_integer(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: u64 = 0;
    for digit in text.bytes().take(digits) {
        if value > (1 << 63) / 10 {
            return None;
        }
        value = value * 10 + u64::from(digit - b'0');
        if value > 1 << 63 {
            return None;
        }
    }
    Some((value, &text[digits..]))
}

/// Leading fraction digits, keeping only as many as fit (Go drops the rest silently),
/// with the power of ten they were scaled by.
fn leading_fraction(text: &str) -> (u64, f64, &str) {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (mut value, mut scale, mut overflowed) = (0u64, 1.0f64, false);
    for digit in text.bytes().take(digits) {
        if overflowed {
            continue;
        }
        if value > NANOSECONDS_MAX / 10 {
            overflowed = true;
            continue;
        }
        let next = value * 10 + u64::from(digit - b'0');
        if next > 1 << 63 {
            overflowed = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &text[digits..])
}

fn unit_nanoseconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> u128 {
        parse_duration(text)
            .unwrap_or_else(|error| panic!("{text}: {error}"))
            .as_nanos()
    }

    #[test]
    fn valid_durations() {
        let cases: &[(&str, u128)] = &[
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("-0s", 0),
            ("2m", 120_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("1.5s", 1_500_000_000),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("10us", 10_000),
            ("10\u{b5}s", 10_000),
            ("10\u{3bc}s", 10_000),
            ("7ns", 7),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("+3s", 3_000_000_000),
            ("1.0000000001s", 1_000_000_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("2562047h47m16.854775807s", 9_223_372_036_854_775_807),
        ];
        for (text, nanoseconds) in cases {
            assert_eq!(ok(text), *nanoseconds, "{text}");
        }
    }

    #[test]
    fn invalid_durations() {
        let cases: &[(&str, &str)] = &[
            ("", "time: invalid duration \"\""),
            ("-", "time: invalid duration \"-\""),
            ("s", "time: invalid duration \"s\""),
            (".", "time: invalid duration \".\""),
            (".s", "time: invalid duration \".s\""),
            ("30", "time: missing unit in duration \"30\""),
            ("1h30", "time: missing unit in duration \"1h30\""),
            ("1d", "time: unknown unit \"d\" in duration \"1d\""),
            ("1 s", "time: unknown unit \" s\" in duration \"1 s\""),
            ("1S", "time: unknown unit \"S\" in duration \"1S\""),
            ("-1s", "negative duration \"-1s\" is not allowed"),
            (
                "2562047h47m16.854775808s",
                "time: invalid duration \"2562047h47m16.854775808s\"",
            ),
            (
                "9223372036854775808ns",
                "time: invalid duration \"9223372036854775808ns\"",
            ),
            (
                "99999999999999999999s",
                "time: invalid duration \"99999999999999999999s\"",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(parse_duration(text).unwrap_err(), *message, "{text}");
        }
    }
}
