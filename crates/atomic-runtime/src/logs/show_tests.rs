use std::collections::BTreeMap;

use super::*;
use crate::logs::LogConfig;
use crate::state::{Lifecycle, Restart};

fn record(driver: LogDriver) -> Record {
    Record {
        id: "ab".repeat(32),
        name: "web".into(),
        image: "busybox".into(),
        image_id: "cd".repeat(32),
        manifest_digest: format!("sha256:{}", "ef".repeat(32)),
        created: "2026-01-01T00:00:00Z".into(),
        command: vec!["sh".into()],
        labels: BTreeMap::new(),
        layers: vec![],
        tty: false,
        interactive: false,
        auto_remove: false,
        stop_signal: None,
        stop_timeout: None,
        restart: Restart::No,
        runtime: "runc".into(),
        network: None,
        log: LogConfig {
            driver,
            ..Default::default()
        },
        state: Lifecycle::Exited {
            code: Some(0),
            finished: "2026-01-01T00:00:01Z".into(),
        },
    }
}

/// A runner over a store in `dir`, with `record`'s directory made.
fn runner(dir: &Path, record: &Record) -> Runner {
    let store = atomic_store::Store::open(&dir.join("store")).unwrap();
    let runner = Runner::new(store, "runc");
    std::fs::create_dir_all(runner.containers.dir(&record.id)).unwrap();
    runner
}

fn run_show(runner: &Runner, record: &Record, request: &LogsRequest) -> Result<(String, String)> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    show(
        runner,
        record,
        request,
        &mut Terminal {
            out: &mut out,
            err: &mut err,
        },
    )?;
    Ok((
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    ))
}

#[test]
fn json_file_lines_go_to_their_stream_with_tail_since_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let record = record(LogDriver::JsonFile);
    let runner = runner(dir.path(), &record);
    let mut text = Vec::new();
    for (i, (stream, line)) in [
        (Stream::Stdout, "one"),
        (Stream::Stderr, "two"),
        (Stream::Stdout, "three"),
    ]
    .into_iter()
    .enumerate()
    {
        let time = format!("2026-01-02T03:04:0{i}.5Z");
        text.extend(jsonfile::encode(
            stream,
            line.as_bytes(),
            false,
            &time,
            &Default::default(),
        ));
    }
    std::fs::write(
        runner.containers.dir(&record.id).join(jsonfile::FILE),
        &text,
    )
    .unwrap();

    let all = run_show(&runner, &record, &LogsRequest::default()).unwrap();
    assert_eq!(all, ("one\nthree\n".into(), "two\n".into()));

    let tail = LogsRequest {
        tail: Some(1),
        timestamps: true,
        ..Default::default()
    };
    let got = run_show(&runner, &record, &tail).unwrap();
    assert_eq!(got, ("2026-01-02T03:04:02.5Z three\n".into(), "".into()));

    let since = LogsRequest {
        since: Some(super::super::since::parse("2026-01-02T03:04:01Z", 0).unwrap()),
        ..Default::default()
    };
    let got = run_show(&runner, &record, &since).unwrap();
    assert_eq!(got, ("three\n".into(), "two\n".into()));

    let args = crate::dockercli::LogsArgs {
        since: Some("2026-01-02T03:04:00.5Z".into()),
        until: Some("2026-01-02T03:04:01.5Z".into()),
        follow: true,
        ..Default::default()
    };
    let window = LogsRequest::from_args(&args).unwrap();
    assert!(!window.follow, "an end in the past ends -f");
    let got = run_show(&runner, &record, &window).unwrap();
    assert_eq!(got, ("one\n".into(), "".into()), "--until is exclusive");
    let bad = crate::dockercli::LogsArgs {
        until: Some("soon".into()),
        ..Default::default()
    };
    let err = LogsRequest::from_args(&bad).unwrap_err().to_string();
    assert!(err.starts_with("--until 'soon'"), "{err}");
    let bad_tail = crate::dockercli::LogsArgs {
        tail: Some("x".into()),
        ..Default::default()
    };
    assert!(LogsRequest::from_args(&bad_tail).is_err());
}

#[test]
fn a_container_that_never_logged_has_empty_logs() {
    let dir = tempfile::tempdir().unwrap();
    let record = record(LogDriver::JsonFile);
    let runner = runner(dir.path(), &record);
    let got = run_show(&runner, &record, &LogsRequest::default()).unwrap();
    assert_eq!(got, (String::new(), String::new()));
}

#[test]
fn an_older_containers_plain_log_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let record = record(LogDriver::JsonFile);
    let runner = runner(dir.path(), &record);
    std::fs::write(runner.containers.dir(&record.id).join(LOG), "a\nb\nc\n").unwrap();
    let tail = LogsRequest {
        tail: Some(2),
        ..Default::default()
    };
    assert_eq!(run_show(&runner, &record, &tail).unwrap().0, "b\nc\n");
}

#[test]
fn logs_of_a_none_container_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let record = record(LogDriver::None);
    let runner = runner(dir.path(), &record);
    let err = run_show(&runner, &record, &LogsRequest::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--log-driver none") && err.contains("does not support reading"),
        "{err}"
    );
}

#[test]
fn tail_finds_the_last_lines() {
    let text = b"a\nb\nc\n";
    assert_eq!(&text[tail_start(text, 1)..], b"c\n");
    assert_eq!(&text[tail_start(text, 2)..], b"b\nc\n");
    assert_eq!(&text[tail_start(text, 9)..], b"a\nb\nc\n");
    assert_eq!(&text[tail_start(text, 0)..], b"");
    assert_eq!(tail_start(b"x", 1), 0, "a last line without a newline");
}

#[test]
fn journalctl_is_asked_for_the_containers_entries_only() {
    let request = LogsRequest {
        follow: true,
        tail: Some(5),
        since: Some(1_700_000_000_500_000_000),
        until: Some(1_800_000_000_000_000_000),
        timestamps: false,
    };
    let args = journalctl_args("abc", &request);
    assert_eq!(
        args,
        [
            "--no-pager",
            "--all",
            "--output=json",
            "--output-fields=MESSAGE,PRIORITY,CONTAINER_PARTIAL_MESSAGE",
            "--lines=5",
            "--since=@1700000000",
            "--until=@1800000001",
            "--follow",
            "CONTAINER_ID_FULL=abc",
        ]
    );
    let all = journalctl_args("abc", &LogsRequest::default());
    assert!(all.contains(&"--lines=all".to_string()), "{all:?}");
}

#[test]
fn journal_entries_read_back_with_stream_time_and_bytes() {
    let line = parse_journal_line(
        r#"{"__REALTIME_TIMESTAMP":"1700000000000001","MESSAGE":"hi","PRIORITY":"6"}"#,
    )
    .unwrap();
    assert_eq!(
        line,
        JournalLine {
            stream: Stream::Stdout,
            text: b"hi\n".to_vec(),
            nanos: 1_700_000_000_000_001_000,
        }
    );
    let binary = parse_journal_line(
        r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,255],"PRIORITY":"3","CONTAINER_PARTIAL_MESSAGE":"true"}"#,
    )
    .unwrap();
    assert_eq!(binary.stream, Stream::Stderr);
    assert_eq!(binary.text, b"h\xff");
    assert_eq!(parse_journal_line("not json"), None);
    assert_eq!(parse_journal_line(r#"{"MESSAGE":null}"#), None);
    assert_eq!(
        rfc3339(1_700_000_000_000_001_000),
        "2023-11-14T22:13:20.000001000Z"
    );
}

#[test]
fn rotated_json_files_are_read_oldest_first_and_old_ones_dropped() {
    use crate::logs::pump::{JsonFileSink, Sink};
    let dir = tempfile::tempdir().unwrap();
    let record = record(LogDriver::JsonFile);
    let runner = runner(dir.path(), &record);
    let path = runner.containers.dir(&record.id).join(jsonfile::FILE);
    // Each entry is ~80 bytes: two fit under 200, so 10 lines make 5 files, 3 of them kept.
    let mut sink = JsonFileSink::rotating(&path, Some(200), 3).unwrap();
    for i in 0..10 {
        sink.write_line(Stream::Stdout, format!("line {i}").as_bytes(), false)
            .unwrap();
    }
    assert_eq!(
        jsonfile::files(&path).len(),
        3,
        "max-file counts the current file"
    );
    assert!(!jsonfile::rotated(&path, 3).exists());
    for file in jsonfile::files(&path) {
        assert!(std::fs::metadata(&file).unwrap().len() <= 200, "{file:?}");
    }
    let (out, _) = run_show(&runner, &record, &LogsRequest::default()).unwrap();
    let want: String = (4..10).map(|i| format!("line {i}\n")).collect();
    assert_eq!(out, want, "the newest lines, in order, across the files");
    let tail = LogsRequest {
        tail: Some(3),
        ..Default::default()
    };
    assert_eq!(
        run_show(&runner, &record, &tail).unwrap().0,
        "line 7\nline 8\nline 9\n"
    );

    // With max-file 1 the file is emptied instead.
    let single = dir.path().join("single.log");
    let mut sink = JsonFileSink::rotating(&single, Some(200), 1).unwrap();
    for i in 0..5 {
        sink.write_line(Stream::Stdout, format!("line {i}").as_bytes(), false)
            .unwrap();
    }
    assert_eq!(jsonfile::files(&single), vec![single.clone()]);
    let text = std::fs::read(&single).unwrap();
    let logs: Vec<String> = jsonfile::parse(&text)
        .0
        .into_iter()
        .map(|e| e.log)
        .collect();
    assert_eq!(logs, ["line 4\n"]);
}
