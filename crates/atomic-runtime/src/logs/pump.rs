//! Copying a detached container's output into its log driver: the supervisor gives the
//! container two pipes, and a thread per pipe cuts what comes out into lines (at most
//! [`MAX_LINE`] bytes; a longer one goes in partial pieces, as Docker's copier does) and hands
//! each to the driver's [`Sink`]. A last line without a newline is logged when the pipe closes.
//!
//! A sink that cannot write (a full disk, journald gone) never stops the copy: the container
//! must not block on a full pipe. The lines lost are counted, and the next write that works
//! is preceded by a line on stderr saying how many were lost and why.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::journald::{ContainerFields, Journal};
use super::{LogDriver, MAX_LINE, Stream, journald, jsonfile};
use crate::state::Record;

/// Where a container's lines go.
pub trait Sink: Send {
    /// Log `line` (without its newline) of `stream`; `partial`: a piece of a longer line, or
    /// a last line that had no newline.
    fn write_line(&mut self, stream: Stream, line: &[u8], partial: bool) -> io::Result<()>;
}

/// The `json-file` driver's file, opened for appending, rotated past `max_size` as Docker's:
/// the file becomes `.1`, `.1` becomes `.2`, …, and `max_file` files are kept in all (with one,
/// the file is emptied instead).
pub struct JsonFileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    /// Written with every entry (`--log-opt labels=`/`env=`).
    attrs: BTreeMap<String, String>,
    /// A write failed (a full disk) and may have left part of an entry: the next one starts
    /// on a line of its own, so only the broken line is unreadable.
    broken: bool,
}

impl JsonFileSink {
    /// The file at `path`, never rotated.
    pub fn open(path: &Path) -> Result<JsonFileSink> {
        JsonFileSink::rotating(path, None, 1)
    }

    pub fn rotating(path: &Path, max_size: Option<u64>, max_file: u32) -> Result<JsonFileSink> {
        let file =
            append(path).with_context(|| format!("opening the log file {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonFileSink {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
            attrs: BTreeMap::new(),
            broken: false,
        })
    }

    /// The same, with `attrs` in every entry.
    pub fn with_attrs(self, attrs: BTreeMap<String, String>) -> JsonFileSink {
        JsonFileSink { attrs, ..self }
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file == 1 {
            self.file.set_len(0)?;
        } else {
            for n in (1..self.max_file - 1).rev() {
                match std::fs::rename(
                    jsonfile::rotated(&self.path, n),
                    jsonfile::rotated(&self.path, n + 1),
                ) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, jsonfile::rotated(&self.path, 1))?;
            self.file = append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Sink for JsonFileSink {
    fn write_line(&mut self, stream: Stream, line: &[u8], partial: bool) -> io::Result<()> {
        let time = jsonfile::timestamp();
        let mut entry = jsonfile::encode(stream, line, partial, &time, &self.attrs);
        if self.broken {
            entry.insert(0, b'\n');
        }
        if let Some(max) = self.max_size
            && self.size > 0
            && self.size + entry.len() as u64 > max
        {
            self.rotate()?;
        }
        // One write per entry: with O_APPEND, entries of the two streams never interleave.
        if let Err(e) = self.file.write_all(&entry) {
            self.broken = true;
            self.size = self.file.metadata().map_or(self.size, |m| m.len());
            return Err(e);
        }
        self.broken = false;
        self.size += entry.len() as u64;
        Ok(())
    }
}

/// The `journald` driver: one entry per line.
pub struct JournaldSink {
    journal: Journal,
    fields: ContainerFields,
}

impl Sink for JournaldSink {
    fn write_line(&mut self, stream: Stream, line: &[u8], partial: bool) -> io::Result<()> {
        self.journal.send(&self.fields.entry(stream, line, partial))
    }
}

/// Cuts a byte stream into lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    max: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            pending: Vec::new(),
            max: max.max(1),
        }
    }

    /// Take `data`; `emit(line, partial)` gets every line it completes.
    pub fn push(&mut self, data: &[u8], emit: &mut dyn FnMut(&[u8], bool)) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            match rest.iter().take(self.max + 1).position(|b| *b == b'\n') {
                Some(eol) => {
                    emit(&rest[..eol], false);
                    start += eol + 1;
                }
                None if rest.len() > self.max => {
                    emit(&rest[..self.max], true);
                    start += self.max;
                }
                None => break,
            }
        }
        self.pending.drain(..start);
    }

    /// The stream ended: what is left is a last line without a newline.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit(&self.pending, true);
            self.pending.clear();
        }
    }
}

/// The container's stdout and stderr, and the copier behind them.
pub struct Outputs {
    pub stdout: Stdio,
    pub stderr: Stdio,
    pub copier: Copier,
}

/// The threads that copy a container's output; they end when the container's end of the
/// pipes is closed (by all its processes).
#[derive(Default)]
pub struct Copier {
    threads: Vec<JoinHandle<()>>,
}

impl Copier {
    /// Wait, at most `limit`, for the copy to reach the end of both pipes, so that the last
    /// lines are logged before the exit is recorded. A process the container left behind
    /// (`--pid host`) may keep a pipe open: then the copy goes on without us waiting.
    pub fn finish(self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for thread in self.threads {
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// The outputs for one start of the container `record` in `dir`, by its log driver. An error
/// (journald gone since the container was created) stops the start.
pub fn open(dir: &Path, record: &Record) -> Result<Outputs> {
    let sink: Box<dyn Sink> = match record.log.driver {
        LogDriver::None => {
            return Ok(Outputs {
                stdout: Stdio::null(),
                stderr: Stdio::null(),
                copier: Copier::default(),
            });
        }
        LogDriver::JsonFile => Box::new(
            JsonFileSink::rotating(
                &dir.join(jsonfile::FILE),
                record.log.max_size,
                record.log.max_file.unwrap_or(1),
            )?
            .with_attrs(record.log.attrs.clone()),
        ),
        LogDriver::Journald => {
            let journal = journald::open(Path::new(journald::SOCKET))?;
            let tag = if record.log.tag.is_empty() {
                &record.id[..record.id.len().min(12)]
            } else {
                &record.log.tag
            };
            let mut fields = ContainerFields::new(&record.id, &record.name, &record.image, tag);
            fields.add_attrs(&record.log.attrs);
            Box::new(JournaldSink { journal, fields })
        }
    };
    with_sink(sink)
}

/// Pipes whose output goes to `sink`.
pub fn with_sink(sink: Box<dyn Sink>) -> Result<Outputs> {
    let sink = Arc::new(Mutex::new(sink));
    let (out_r, out_w) = io::pipe().context("making the container's stdout pipe")?;
    let (err_r, err_w) = io::pipe().context("making the container's stderr pipe")?;
    let threads = vec![
        spawn_copy(out_r, Stream::Stdout, sink.clone())?,
        spawn_copy(err_r, Stream::Stderr, sink)?,
    ];
    Ok(Outputs {
        stdout: Stdio::from(out_w),
        stderr: Stdio::from(err_w),
        copier: Copier { threads },
    })
}

fn spawn_copy(
    pipe: io::PipeReader,
    stream: Stream,
    sink: Arc<Mutex<Box<dyn Sink>>>,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("log-{}", stream.as_str()))
        .spawn(move || copy(pipe, stream, &sink))
        .context("starting the log copier")
}

/// Lines lost to a sink that failed, reported once it works again.
#[derive(Default)]
struct Losses {
    count: u64,
    why: String,
}

fn copy(mut pipe: impl Read, stream: Stream, sink: &Mutex<Box<dyn Sink>>) {
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut losses = Losses::default();
    let mut emit = |line: &[u8], partial: bool| {
        let mut sink = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        deliver(sink.as_mut(), &mut losses, stream, line, partial);
    };
    let mut buf = vec![0; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => splitter.push(&buf[..n], &mut emit),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("reading the container's {}: {e}", stream.as_str());
                break;
            }
        }
    }
    splitter.finish(&mut emit);
}

fn deliver(sink: &mut dyn Sink, losses: &mut Losses, stream: Stream, line: &[u8], partial: bool) {
    if losses.count > 0 {
        let note = format!(
            "atomic: {} line(s) of {} could not be logged: {}",
            losses.count,
            stream.as_str(),
            losses.why
        );
        if sink
            .write_line(Stream::Stderr, note.as_bytes(), false)
            .is_err()
        {
            losses.count += 1;
            return;
        }
        *losses = Losses::default();
    }
    if let Err(e) = sink.write_line(stream, line, partial) {
        losses.count += 1;
        losses.why = e.to_string();
    }
}

#[cfg(test)]
#[path = "pump_tests.rs"]
mod tests;
