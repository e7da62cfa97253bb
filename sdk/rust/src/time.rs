//! RFC 3339 timestamps, the format of the `received_at` metadata, without a date-time crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `t` in RFC 3339, UTC, with as many fractional-second digits as needed (none for a whole second, at
/// most nine): `2026-01-02T03:04:05.123456789Z`, `2026-01-02T03:04:05Z`. The format of `received_at`.
pub fn format_rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut s = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
    if nanos != 0 {
        let frac = format!("{:09}", nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parses an RFC 3339 timestamp (`2026-01-02T03:04:05.123456789Z`, `2026-01-02T04:04:05+01:00`), or returns
/// `None` if `s` is not one. Fractional digits beyond the ninth are ignored.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, min, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 3600 + m * 60) as i64;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year as i64, month, day) * 86_400 + (hour * 3600 + min * 60 + sec) as i64 - offset;
    Some(if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(u64::from(nanos))
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| if c.is_ascii_digit() { Some(n * 10 + u32::from(c - b'0')) } else { None })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms, http://howardhinnant.github.io/date_algorithms.html: days since 1970-01-01 in
// the proleptic Gregorian calendar.

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-01-02T03:04:05.123456789Z",
            "2024-02-29T23:59:59.5Z",
            "1969-12-31T23:59:59.999999999Z",
            "1900-03-01T00:00:00Z",
            "2000-02-29T12:00:00.000001Z",
        ] {
            let t = parse_rfc3339(s).unwrap_or_else(|| panic!("parse {}", s));
            assert_eq!(format_rfc3339(t), s);
        }
        assert_eq!(format_rfc3339(UNIX_EPOCH + Duration::from_secs(1_767_323_045)), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn offsets_and_fractions() {
        let want = parse_rfc3339("2026-01-02T03:04:05Z");
        assert_eq!(parse_rfc3339("2026-01-02T04:04:05+01:00"), want);
        assert_eq!(parse_rfc3339("2026-01-01T23:04:05-04:00"), want);
        assert_eq!(parse_rfc3339("2026-01-02t03:04:05z"), want);
        assert_eq!(
            format_rfc3339(parse_rfc3339("2026-01-02T03:04:05.1234567891Z").unwrap()),
            "2026-01-02T03:04:05.123456789Z"
        );
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "2026-01-02",
            "2026-01-02T03:04:05",
            "2026-13-02T03:04:05Z",
            "2026-02-29T03:04:05Z",
            "2026-01-02T24:04:05Z",
            "2026-01-02T03:04:60Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05+0100",
            "2026-01-02T03:04:05Zjunk",
            "2026-01-02 03:04:05Z",
            "+026-01-02T03:04:05Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{:?}", s);
        }
    }
}
