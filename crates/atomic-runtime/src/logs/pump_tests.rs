use std::process::Command;

use super::*;

type Lines = Arc<Mutex<Vec<(Stream, String, bool)>>>;

/// Keeps what it is given; fails the first `failures` writes with ENOSPC.
struct Memory {
    lines: Lines,
    failures: usize,
}

impl Sink for Memory {
    fn write_line(&mut self, stream: Stream, line: &[u8], partial: bool) -> io::Result<()> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(io::Error::from_raw_os_error(28));
        }
        let text = String::from_utf8_lossy(line).into_owned();
        self.lines.lock().unwrap().push((stream, text, partial));
        Ok(())
    }
}

fn split(max: usize, chunks: &[&[u8]]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut splitter = LineSplitter::new(max);
    let mut emit = |line: &[u8], partial: bool| {
        out.push((String::from_utf8_lossy(line).into_owned(), partial));
    };
    for chunk in chunks {
        splitter.push(chunk, &mut emit);
    }
    splitter.finish(&mut emit);
    out
}

fn owned(want: &[(&str, bool)]) -> Vec<(String, bool)> {
    want.iter().map(|(s, p)| (s.to_string(), *p)).collect()
}

#[test]
fn lines_split_at_newlines_across_reads() {
    assert_eq!(
        split(16, &[b"hel", b"lo\nwor", b"ld\n\nlast"]),
        owned(&[
            ("hello", false),
            ("world", false),
            ("", false),
            ("last", true)
        ])
    );
    assert_eq!(split(16, &[]), owned(&[]));
}

#[test]
fn long_lines_go_in_partial_pieces_of_the_maximum() {
    assert_eq!(
        split(4, &[b"abcdefghij\n"]),
        owned(&[("abcd", true), ("efgh", true), ("ij", false)])
    );
    // A line of exactly the maximum is one whole line.
    assert_eq!(
        split(4, &[b"abcd\nx\n"]),
        owned(&[("abcd", false), ("x", false)])
    );
    assert_eq!(
        split(4, &[b"abcdefgh", b"\n"]),
        owned(&[("abcd", true), ("efgh", false)])
    );
}

#[test]
fn a_processs_output_reaches_the_sink_by_stream() {
    let lines = Lines::default();
    let outputs = with_sink(Box::new(Memory {
        lines: lines.clone(),
        failures: 0,
    }))
    .unwrap();
    let status = Command::new("/bin/sh")
        .args(["-c", "echo out; echo err >&2; printf 'no newline'"])
        .stdout(outputs.stdout)
        .stderr(outputs.stderr)
        .status()
        .unwrap();
    assert!(status.success());
    outputs.copier.finish(Duration::from_secs(10));
    let mut got = lines.lock().unwrap().clone();
    got.sort_by_key(|(s, _, _)| s.as_str());
    assert_eq!(
        got,
        vec![
            (Stream::Stderr, "err".into(), false),
            (Stream::Stdout, "out".into(), false),
            (Stream::Stdout, "no newline".into(), true),
        ]
    );
}

#[test]
fn a_sink_that_fails_loses_lines_says_so_and_goes_on() {
    let lines = Lines::default();
    let mut sink = Memory {
        lines: lines.clone(),
        failures: 2,
    };
    let mut losses = Losses::default();
    for line in ["a", "b", "c"] {
        deliver(
            &mut sink,
            &mut losses,
            Stream::Stdout,
            line.as_bytes(),
            false,
        );
    }
    let got = lines.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, Stream::Stderr);
    assert!(
        got[0]
            .1
            .starts_with("atomic: 2 line(s) of stdout could not be logged: No space left"),
        "{}",
        got[0].1
    );
    assert_eq!(got[1], (Stream::Stdout, "c".into(), false));
}

#[test]
fn a_full_disk_under_json_file_is_no_panic_and_no_blocked_container() {
    // /dev/full fails every write with ENOSPC, as a full disk does.
    let outputs = with_sink(Box::new(
        JsonFileSink::open(Path::new("/dev/full")).unwrap(),
    ))
    .unwrap();
    let status = Command::new("/bin/sh")
        // Far more than a pipe holds: a copier that stopped reading would block it.
        .args([
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo line $i of some length; i=$((i+1)); done",
        ])
        .stdout(outputs.stdout)
        .stderr(outputs.stderr)
        .status()
        .unwrap();
    assert!(status.success());
    outputs.copier.finish(Duration::from_secs(10));
}
