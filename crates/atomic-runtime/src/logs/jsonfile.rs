//! The `json-file` log driver's file, as Docker writes it: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`. A piece of a
//! line longer than [`super::MAX_LINE`], or a last line without a newline, has no `\n` at the
//! end of `log`: concatenating `log` values gives the output back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Stream;

/// The file in the container's directory.
pub const FILE: &str = "container-json.log";

/// The `n`th older file of `current` after rotations (`container-json.log.1` is the newest).
pub fn rotated(current: &Path, n: u32) -> PathBuf {
    let mut name = current.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The log's files that exist, oldest first: the rotated ones, then `current`.
pub fn files(current: &Path) -> Vec<PathBuf> {
    let mut older: Vec<PathBuf> = (1..)
        .map(|n| rotated(current, n))
        .take_while(|p| p.exists())
        .collect();
    older.reverse();
    older.push(current.to_path_buf());
    older
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    /// The container's labels and variables asked for with `--log-opt labels=`/`env=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<BTreeMap<String, String>>,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

impl Entry {
    /// The stream it came from (anything but `stderr` is stdout, as Docker reads it).
    pub fn stream(&self) -> Stream {
        if self.stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }

    /// When it was logged, in nanoseconds since the epoch (None if `time` is not a time).
    pub fn nanos(&self) -> Option<i128> {
        let time = chrono::DateTime::parse_from_rfc3339(&self.time).ok()?;
        Some(
            i128::from(time.timestamp()) * 1_000_000_000
                + i128::from(time.timestamp_subsec_nanos()),
        )
    }
}

/// The file's line for `line` (without its newline) of `stream`, logged at `time`, with `attrs`
/// when there are any.
pub fn encode(
    stream: Stream,
    line: &[u8],
    partial: bool,
    time: &str,
    attrs: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut log = String::from_utf8_lossy(line).into_owned();
    if !partial {
        log.push('\n');
    }
    let entry = Entry {
        log,
        stream: stream.as_str().to_string(),
        attrs: (!attrs.is_empty()).then(|| attrs.clone()),
        time: time.to_string(),
    };
    // Serializing three strings cannot fail.
    let mut out = serde_json::to_vec(&entry).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The current time as the file writes it.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The entries of the complete lines at the start of `text`, and how many bytes they took: a
/// last line still being written is left for the next read. A line that is not an entry
/// (a write cut short by a full disk) is skipped.
pub fn parse(text: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut used = 0;
    while let Some(eol) = text[used..].iter().position(|b| *b == b'\n') {
        let line = &text[used..used + eol];
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) => entries.push(entry),
            Err(e) => tracing::debug!("skipping a log line that is not an entry: {e}"),
        }
        used += eol + 1;
    }
    (entries, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_encode_as_docker_writes_them() {
        let time = "2026-01-02T03:04:05.000000001Z";
        assert_eq!(
            encode(Stream::Stdout, b"hi \"you\"", false, time, &BTreeMap::new()),
            b"{\"log\":\"hi \\\"you\\\"\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-02T03:04:05.000000001Z\"}\n"
        );
        let partial = encode(Stream::Stderr, b"piece", true, time, &BTreeMap::new());
        let (entries, used) = parse(&partial);
        assert_eq!(used, partial.len());
        assert_eq!(entries[0].log, "piece");
        assert_eq!(entries[0].stream(), Stream::Stderr);
        assert_eq!(entries[0].nanos(), Some(1_767_323_045_000_000_001));
    }

    #[test]
    fn attrs_are_written_when_asked_for() {
        let attrs = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let line = encode(Stream::Stdout, b"x", false, "2026-01-02T03:04:05Z", &attrs);
        assert_eq!(
            line,
            b"{\"log\":\"x\\n\",\"stream\":\"stdout\",\"attrs\":{\"app\":\"web\"},\"time\":\"2026-01-02T03:04:05Z\"}\n"
        );
        assert_eq!(parse(&line).0[0].attrs, Some(attrs));
    }

    #[test]
    fn parse_leaves_an_unfinished_line_and_skips_garbage() {
        let time = "2026-01-02T03:04:05Z";
        let mut text = encode(Stream::Stdout, b"one", false, time, &BTreeMap::new());
        text.extend_from_slice(b"{\"log\":\"cut sh\n");
        text.extend_from_slice(&encode(
            Stream::Stdout,
            b"two",
            false,
            time,
            &BTreeMap::new(),
        ));
        let whole = text.len();
        text.extend_from_slice(b"{\"log\":\"still writ");
        let (entries, used) = parse(&text);
        let logs: Vec<&str> = entries.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(logs, ["one\n", "two\n"]);
        assert_eq!(used, whole);
    }

    #[test]
    fn rotated_files_are_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join(FILE);
        assert_eq!(files(&current), vec![current.clone()]);
        for n in [1, 2] {
            std::fs::write(rotated(&current, n), "").unwrap();
        }
        assert_eq!(
            files(&current),
            [rotated(&current, 2), rotated(&current, 1), current.clone()]
        );
        assert!(rotated(&current, 2).ends_with("container-json.log.2"));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let line = encode(
            Stream::Stdout,
            b"a\xffb",
            false,
            "2026-01-02T03:04:05Z",
            &BTreeMap::new(),
        );
        assert_eq!(parse(&line).0[0].log, "a\u{fffd}b\n");
    }
}
