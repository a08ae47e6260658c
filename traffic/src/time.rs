//! Times in traffic files: RFC 3339 in, nanoseconds since the Unix epoch out; and the
//! IMF-fixdate form Envoy writes in a `date` header.

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, what: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} `{s}`"));
    }
    s.parse().map_err(|_| format!("bad {what} `{s}`"))
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let err = |m: String| format!("invalid time `{s}`: {m}");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(err("expected YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)".into()));
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(err("expected HH:MM:SS".into()));
    }
    let year = num(&s[0..4], "year").map_err(err)?;
    let month = num(&s[5..7], "month").map_err(err)?;
    let day = num(&s[8..10], "day").map_err(err)?;
    let hour = num(&s[11..13], "hour").map_err(err)?;
    let min = num(&s[14..16], "minute").map_err(err)?;
    let sec = num(&s[17..19], "second").map_err(err)?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) {
        return Err(err("month out of range".into()));
    }
    if day < 1 || day > mdays[(month - 1) as usize] {
        return Err(err("day out of range".into()));
    }
    if hour > 23 || min > 59 || sec > 60 {
        return Err(err("time of day out of range".into()));
    }
    let mut rest = &s[19..];
    let mut nanos: u64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return Err(err("fraction must have 1 to 9 digits".into()));
        }
        let digits = &frac[..n];
        nanos = u64::from(num(digits, "fraction").map_err(err)?) * 10u64.pow(9 - n as u32);
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            if &rest[3..4] != ":" {
                return Err(err("bad offset".into()));
            }
            let oh = i64::from(num(&rest[1..3], "offset hour").map_err(err)?);
            let om = i64::from(num(&rest[4..6], "offset minute").map_err(err)?);
            if oh > 23 || om > 59 {
                return Err(err("offset out of range".into()));
            }
            let v = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(err("expected `Z` or an offset `+HH:MM`".into())),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec) - offset_secs;
    if secs < 0 {
        return Err(err("before 1970".into()));
    }
    Ok(secs as u64 * 1_000_000_000 + nanos)
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `ns` as an HTTP `date` value (IMF-fixdate, RFC 9110 §5.6.7): `Mon, 23 Nov 2026 09:00:00 GMT`.
pub fn http_date(ns: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = (ns / 1_000_000_000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00.5Z").unwrap(),
            951_868_800_500_000_000
        );
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-11-23 09:00").is_err());
        assert!(parse_rfc3339("2026-11-23T09:00:00").is_err());
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = parse_rfc3339("2026-11-23T20:30:39.5Z").unwrap();
        assert_eq!(http_date(t), "Mon, 23 Nov 2026 20:30:39 GMT");
        let t = parse_rfc3339("2000-02-29T23:59:59Z").unwrap();
        assert_eq!(http_date(t), "Tue, 29 Feb 2000 23:59:59 GMT");
    }
}
