//! `docker logs [-f] [-n|--tail N] [--since T] [--until T] [-t] NAME` on the built-in engine: a
//! container's lines read back from its driver, stdout lines to stdout and stderr lines to
//! stderr, as Docker prints them. `-f` follows until the container stops.
//!
//! The journal is read with `journalctl` (`-o json`, matched on `CONTAINER_ID_FULL`) rather
//! than by parsing journal files: journalctl is systemd's supported reader, present wherever
//! journald is, and it handles what a file parser would have to repeat (rotation, compression,
//! file format versions, the runtime and system journals, access rights); JSON output keeps
//! each entry's priority (its stream), time and binary-safe message.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use atomic_exec::Task;

use super::since::Nanos;
use super::{LogDriver, Stream, jsonfile};
use crate::container::{LOG, Runner};
use crate::dockercli::LogsArgs;
use crate::state::{Record, Status};

/// What `docker logs` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsRequest {
    pub follow: bool,
    /// The last N lines only.
    pub tail: Option<usize>,
    /// Lines logged at or after this time only.
    pub since: Option<Nanos>,
    /// Lines logged before this time only.
    pub until: Option<Nanos>,
    /// Each line preceded by its time (RFC 3339, nanoseconds).
    pub timestamps: bool,
}

impl LogsRequest {
    /// The request of `docker logs` flags as given: `--tail` a number or `all`, `--since` and
    /// `--until` a time or a duration before now (see [`super::since`]).
    pub fn from_args(args: &LogsArgs) -> Result<LogsRequest> {
        let tail = match args.tail.as_deref() {
            None | Some("all") => None,
            Some(n) => Some(
                n.parse::<usize>()
                    .map_err(|_| anyhow::anyhow!("--tail '{n}': expected a number or 'all'"))?,
            ),
        };
        let now = super::since::now();
        let time = |flag: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|s| super::since::parse(s, now))
                .transpose()
                .map_err(|e| anyhow::anyhow!("{}", e.replacen("--since", flag, 1)))
        };
        let until = time("--until", &args.until)?;
        Ok(LogsRequest {
            // Nothing comes after an end that has passed.
            follow: args.follow && until.is_none_or(|u| u > now),
            tail,
            since: time("--since", &args.since)?,
            until,
            timestamps: args.timestamps,
        })
    }

    /// Whether a line logged at `nanos` is asked for (a line of unknown time is).
    fn wants(&self, nanos: Option<Nanos>) -> bool {
        let Some(t) = nanos else {
            return true;
        };
        self.since.is_none_or(|since| t >= since) && self.until.is_none_or(|until| t < until)
    }
}

/// Where the lines go: stdout lines and stderr lines.
pub struct Terminal<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

impl Terminal<'_> {
    fn line(&mut self, stream: Stream, time: Option<&str>, text: &[u8]) -> Result<()> {
        let to: &mut dyn Write = match stream {
            Stream::Stdout => self.out,
            Stream::Stderr => self.err,
        };
        if let Some(time) = time {
            write!(to, "{time} ")?;
        }
        to.write_all(text)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        self.err.flush()?;
        Ok(())
    }
}

/// How often `-f` looks for new lines and whether the container still runs.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Print the logs of `record` as `request` asks.
pub fn show(
    runner: &Runner,
    record: &Record,
    request: &LogsRequest,
    term: &mut Terminal<'_>,
) -> Result<()> {
    let dir = runner.containers.dir(&record.id);
    match record.log.driver {
        LogDriver::None => bail!(
            "container {} was created with --log-driver none: configured logging driver does \
             not support reading",
            record.name
        ),
        LogDriver::Journald => show_journal(runner, record, request, term),
        LogDriver::JsonFile if !dir.join(jsonfile::FILE).exists() && dir.join(LOG).exists() => {
            show_plain(&dir.join(LOG), request, term)
        }
        LogDriver::JsonFile => {
            show_json_file(runner, record, &dir.join(jsonfile::FILE), request, term)
        }
    }
}

fn time_of(entry: &jsonfile::Entry, request: &LogsRequest) -> bool {
    request.wants(entry.nanos())
}

fn show_json_file(
    runner: &Runner,
    record: &Record,
    path: &Path,
    request: &LogsRequest,
    term: &mut Terminal<'_>,
) -> Result<()> {
    let reading = |e: std::io::Error, p: &Path| {
        anyhow::Error::new(e).context(format!("reading {}", p.display()))
    };
    // The current file is opened first: `-f` goes on from this very file, whatever rotations
    // happen while the older ones are read.
    let mut current = match File::open(path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(reading(e, path)),
    };
    let mut entries = Vec::new();
    for older in jsonfile::files(path).iter().filter(|p| *p != path) {
        match std::fs::read(older) {
            Ok(text) => entries.extend(jsonfile::parse(&text).0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(reading(e, older)),
        }
    }
    let mut text = Vec::new();
    if let Some(f) = current.as_mut() {
        f.read_to_end(&mut text).map_err(|e| reading(e, path))?;
    }
    let (found, used) = jsonfile::parse(&text);
    entries.extend(found);
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|e| time_of(e, request))
        .collect();
    let skip = request.tail.map_or(0, |n| entries.len().saturating_sub(n));
    print_entries(&entries[skip..], request, term)?;
    if !request.follow {
        return Ok(());
    }
    follow_json_file(runner, record, path, (current, used as u64), request, term)
}

/// `-f` on json-file: print what is appended to `file` from `pos`, moving to the new file when
/// the log is rotated (renamed away) or emptied (`max-file=1`), until the container stops.
fn follow_json_file(
    runner: &Runner,
    record: &Record,
    path: &Path,
    (mut file, mut pos): (Option<File>, u64),
    request: &LogsRequest,
    term: &mut Terminal<'_>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let running = runner.status(record)? == Status::Running;
        if let Some(f) = file.as_mut() {
            f.seek(SeekFrom::Start(pos))?;
            let mut more = Vec::new();
            f.read_to_end(&mut more)?;
            let (entries, used) = jsonfile::parse(&more);
            pos += used as u64;
            let entries: Vec<_> = entries
                .into_iter()
                .filter(|e| time_of(e, request))
                .collect();
            print_entries(&entries, request, term)?;
        }
        let on_disk = std::fs::metadata(path).ok();
        let ours = file.as_ref().and_then(|f| f.metadata().ok());
        match (on_disk, ours) {
            (Some(disk), Some(ours)) if disk.ino() != ours.ino() || disk.dev() != ours.dev() => {
                file = File::open(path).ok();
                pos = 0;
                continue;
            }
            (Some(disk), Some(_)) if disk.len() < pos => {
                pos = 0;
                continue;
            }
            (Some(_), None) => {
                file = File::open(path).ok();
                pos = 0;
                continue;
            }
            _ => {}
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

fn print_entries(
    entries: &[jsonfile::Entry],
    request: &LogsRequest,
    term: &mut Terminal<'_>,
) -> Result<()> {
    for entry in entries {
        let time = request.timestamps.then_some(entry.time.as_str());
        term.line(entry.stream(), time, entry.log.as_bytes())?;
    }
    term.flush()
}

/// A container made before log drivers existed: its output as one plain file, both streams
/// mixed, without times.
fn show_plain(path: &Path, request: &LogsRequest, term: &mut Terminal<'_>) -> Result<()> {
    if request.since.is_some() || request.until.is_some() || request.timestamps || request.follow {
        bail!(
            "this container's log has no times or streams (it was made by an older atomic): \
             --since, --until, -t and -f need a container created again"
        );
    }
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let start = request.tail.map_or(0, |n| tail_start(&text, n));
    term.line(Stream::Stdout, None, &text[start..])?;
    term.flush()
}

/// Where the last `n` lines of `text` begin.
pub fn tail_start(text: &[u8], n: usize) -> usize {
    if n == 0 {
        return text.len();
    }
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 1)
        .map_or(0, |(i, _)| i + 1)
}

/// The `journalctl` command line that reads a container's entries.
pub fn journalctl_args(id: &str, request: &LogsRequest) -> Vec<String> {
    let mut args: Vec<String> = [
        "--no-pager",
        "--all",
        "--output=json",
        "--output-fields=MESSAGE,PRIORITY,CONTAINER_PARTIAL_MESSAGE",
    ]
    .map(String::from)
    .into();
    // `--follow` alone shows the last 10 entries only; docker logs -f starts from the first.
    match request.tail {
        Some(n) => args.push(format!("--lines={n}")),
        None => args.push("--lines=all".into()),
    }
    if let Some(since) = request.since {
        // Whole seconds here; the exact bound is applied to each entry's time.
        args.push(format!("--since=@{}", since.div_euclid(1_000_000_000)));
    }
    if let Some(until) = request.until {
        // Rounded up: the exact bound is applied to each entry's time.
        args.push(format!("--until=@{}", until.div_euclid(1_000_000_000) + 1));
    }
    if request.follow {
        args.push("--follow".into());
    }
    args.push(format!("CONTAINER_ID_FULL={id}"));
    args
}

/// One entry of `journalctl -o json`, as `docker logs` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    pub stream: Stream,
    /// The message, with its newline unless it was a partial piece.
    pub text: Vec<u8>,
    pub nanos: Nanos,
}

/// Read one line of `journalctl -o json`. MESSAGE is a string, or an array of bytes when it
/// is not valid UTF-8.
pub fn parse_journal_line(line: &str) -> Option<JournalLine> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let mut text = match &value["MESSAGE"] {
        serde_json::Value::String(s) => s.clone().into_bytes(),
        serde_json::Value::Array(bytes) => bytes
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()?,
        _ => return None,
    };
    if value["CONTAINER_PARTIAL_MESSAGE"] != "true" {
        text.push(b'\n');
    }
    let stream = if value["PRIORITY"] == "3" {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    let micros: Nanos = value["__REALTIME_TIMESTAMP"].as_str()?.parse().ok()?;
    Some(JournalLine {
        stream,
        text,
        nanos: micros * 1000,
    })
}

fn rfc3339(nanos: Nanos) -> String {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, sub)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

fn print_journal_line(line: &str, request: &LogsRequest, term: &mut Terminal<'_>) -> Result<()> {
    let Some(entry) = parse_journal_line(line) else {
        return Ok(());
    };
    if !request.wants(Some(entry.nanos)) {
        return Ok(());
    }
    let time = request.timestamps.then(|| rfc3339(entry.nanos));
    term.line(entry.stream, time.as_deref(), &entry.text)
}

fn journalctl(record: &Record, request: &LogsRequest) -> Task {
    Task::new(
        "reading the logs of a journald container (journalctl comes with systemd)",
        "journalctl",
    )
    .args(journalctl_args(&record.id, request))
}

fn show_journal(
    runner: &Runner,
    record: &Record,
    request: &LogsRequest,
    term: &mut Terminal<'_>,
) -> Result<()> {
    if !request.follow {
        let out = journalctl(record, request).run()?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            print_journal_line(line, request, term)?;
        }
        return term.flush();
    }
    // Followed as it writes (the lines are printed while it runs), so spawned here rather
    // than run to its end; the Task still gives the argv and the error for a failed start.
    let task = journalctl(record, request);
    let mut child = task
        .command()
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| task.spawn_error(e))?;
    let Some(stdout) = child.stdout.take() else {
        bail!("journalctl gave no output pipe");
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let result = follow_journal(runner, record, request, term, &rx);
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Print what journalctl sends until the container has stopped and the journal has had a
/// moment to store its last lines.
fn follow_journal(
    runner: &Runner,
    record: &Record,
    request: &LogsRequest,
    term: &mut Terminal<'_>,
    rx: &mpsc::Receiver<String>,
) -> Result<()> {
    let mut stopped_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(FOLLOW_POLL) {
            Ok(line) => {
                print_journal_line(&line, request, term)?;
                term.flush()?;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        match stopped_at {
            Some(t) if t.elapsed() > Duration::from_secs(1) => return Ok(()),
            Some(_) => {}
            None if runner.status(record)? != Status::Running => {
                stopped_at = Some(Instant::now());
            }
            None => {}
        }
    }
}

#[cfg(test)]
#[path = "show_tests.rs"]
mod tests;
