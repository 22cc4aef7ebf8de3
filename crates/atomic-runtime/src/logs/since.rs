//! `docker logs --since`: a time as Docker reads it — a Unix time (`1700000000.5`), RFC 3339
//! (`2026-01-02T03:04:05Z`, with an offset or nanoseconds), a local date and time
//! (`2026-01-02T03:04:05`, `2026-01-02T03:04`, `2026-01-02`), or a Go duration before now
//! (`10m`, `1h30m`, `1.5s`).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};

/// Nanoseconds since the epoch.
pub type Nanos = i128;

const SECOND: Nanos = 1_000_000_000;

/// `value` as nanoseconds since the epoch; `now` (the same) for relative durations.
pub fn parse(value: &str, now: Nanos) -> Result<Nanos, String> {
    let value = value.trim();
    if let Some(t) = unix(value) {
        return Ok(t);
    }
    if let Some(d) = duration(value) {
        return Ok(now - d);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(nanos(t.timestamp(), t.timestamp_subsec_nanos()));
    }
    let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    if let Some(t) = local.and_then(|t| Local.from_local_datetime(&t).earliest()) {
        return Ok(nanos(t.timestamp(), t.timestamp_subsec_nanos()));
    }
    Err(format!(
        "--since '{value}': expected a time (2026-01-02T03:04:05Z, 2026-01-02, a Unix time) or \
         a duration before now (10m, 1h30m)"
    ))
}

/// The current time in nanoseconds since the epoch.
pub fn now() -> Nanos {
    let t = chrono::Utc::now();
    nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

fn nanos(secs: i64, subsec: u32) -> Nanos {
    Nanos::from(secs) * SECOND + Nanos::from(subsec)
}

/// `SECONDS[.FRACTION]`.
fn unix(value: &str) -> Option<Nanos> {
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    let whole: i64 = secs.parse().ok()?;
    let sub = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(nanos(whole, sub))
}

/// A Go duration: numbers with units `ns us µs ms s m h`, one after another.
fn duration(value: &str) -> Option<Nanos> {
    let mut rest = value;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, scale) = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += number * scale;
    }
    Some(total as Nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_forms_are_read() {
        let now = 1_800_000_000 * SECOND;
        let cases: [(&str, Nanos); 7] = [
            ("1700000000", 1_700_000_000 * SECOND),
            ("1700000000.25", 1_700_000_000 * SECOND + SECOND / 4),
            ("2026-01-02T03:04:05Z", 1_767_323_045 * SECOND),
            (
                "2026-01-02T04:04:05.5+01:00",
                1_767_323_045 * SECOND + SECOND / 2,
            ),
            ("10m", now - 600 * SECOND),
            ("1h30m", now - 5400 * SECOND),
            ("1.5s", now - 3 * SECOND / 2),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value, now), Ok(want), "{value}");
        }
        // Local forms depend on the time zone: check they parse and agree with each other.
        let day = parse("2026-01-02", now).unwrap();
        assert_eq!(parse("2026-01-02T00:00", now), Ok(day));
        assert_eq!(parse("2026-01-02T00:00:00", now), Ok(day));
    }

    #[test]
    fn other_text_is_a_clear_error() {
        for bad in ["", "yesterday", "10x", "1.2.3", "2026-13-01", "-5m"] {
            let err = parse(bad, 0).unwrap_err();
            assert!(err.contains("--since"), "{bad}: {err}");
        }
    }
}
