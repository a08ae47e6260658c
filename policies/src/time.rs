//! UTC timestamps without a date library: nanoseconds since the epoch → RFC 3339.

/// Formats nanoseconds since the Unix epoch as RFC 3339 UTC with milliseconds,
/// e.g. `2026-11-23T09:00:01.000Z`.
pub fn rfc3339_millis(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let millis = (ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut s = String::with_capacity(24);
    digits(&mut s, y.clamp(0, 9999) as u64, 4);
    s.push('-');
    digits(&mut s, u64::from(m), 2);
    s.push('-');
    digits(&mut s, u64::from(d), 2);
    s.push('T');
    digits(&mut s, rem / 3600, 2);
    s.push(':');
    digits(&mut s, (rem / 60) % 60, 2);
    s.push(':');
    digits(&mut s, rem % 60, 2);
    s.push('.');
    digits(&mut s, millis, 3);
    s.push('Z');
    s
}

/// Appends the low `n` decimal digits of `v`, zero-padded.
fn digits(s: &mut String, v: u64, n: u32) {
    for k in (0..n).rev() {
        s.push(char::from(b'0' + ((v / 10u64.pow(k)) % 10) as u8));
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_424_401_123_456_789),
            "2026-11-23T09:00:01.123Z"
        );
        assert_eq!(
            rfc3339_millis(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
