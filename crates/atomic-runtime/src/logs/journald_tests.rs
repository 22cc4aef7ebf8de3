use std::io::{IoSliceMut, Read, Seek};
use std::mem::MaybeUninit;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};

use super::*;

/// journald's reading of an entry: (name, value) pairs in order, either form.
fn decode(mut entry: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut fields = Vec::new();
    while !entry.is_empty() {
        let eol = entry.iter().position(|b| *b == b'\n').expect("a newline");
        let line = &entry[..eol];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            let name = String::from_utf8(line[..eq].to_vec()).unwrap();
            fields.push((name, line[eq + 1..].to_vec()));
            entry = &entry[eol + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).unwrap();
            let rest = &entry[eol + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            fields.push((name, rest[8..8 + len].to_vec()));
            assert_eq!(rest[8 + len], b'\n', "binary field ends with a newline");
            entry = &rest[8 + len + 1..];
        }
    }
    fields
}

#[test]
fn simple_values_are_name_equals_value() {
    let mut entry = Vec::new();
    push_field(&mut entry, "MESSAGE", b"hello = world\t\x01");
    push_field(&mut entry, "PRIORITY", b"6");
    assert_eq!(entry, b"MESSAGE=hello = world\t\x01\nPRIORITY=6\n");
}

#[test]
fn values_with_newlines_use_the_length_prefixed_form() {
    let mut entry = Vec::new();
    let value = b"two\nlines\n\x00binary";
    push_field(&mut entry, "MESSAGE", value);
    let mut want = b"MESSAGE\n".to_vec();
    want.extend_from_slice(&(value.len() as u64).to_le_bytes());
    want.extend_from_slice(value);
    want.push(b'\n');
    assert_eq!(entry, want);
    assert_eq!(decode(&entry), vec![("MESSAGE".into(), value.to_vec())]);
}

#[test]
fn field_names_follow_journald_rules() {
    for good in ["MESSAGE", "CONTAINER_ID_FULL", "A", "X9_", &"N".repeat(64)] {
        assert!(valid_name(good), "{good}");
    }
    for bad in [
        "",
        "message",
        "_PID",
        "9LIVES",
        "A-B",
        "A=B",
        &"N".repeat(65),
    ] {
        assert!(!valid_name(bad), "{bad}");
    }
}

fn fields() -> ContainerFields {
    ContainerFields::new(&"ab12".repeat(16), "web", "localhost/httpd:1", "web-tag")
}

#[test]
fn entries_carry_dockers_fields_and_the_streams_priority() {
    let entry = fields().entry(Stream::Stderr, b"oops", false);
    let got = decode(&entry);
    let want: Vec<(String, Vec<u8>)> = [
        ("MESSAGE", "oops".to_string()),
        ("PRIORITY", "3".into()),
        ("CONTAINER_ID", "ab12ab12ab12".into()),
        ("CONTAINER_ID_FULL", "ab12".repeat(16)),
        ("CONTAINER_NAME", "web".into()),
        ("CONTAINER_TAG", "web-tag".into()),
        ("SYSLOG_IDENTIFIER", "web-tag".into()),
        ("IMAGE_NAME", "localhost/httpd:1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_bytes()))
    .collect();
    assert_eq!(got, want);
    for (name, _) in &got {
        assert!(valid_name(name), "{name}");
    }

    let out = decode(&fields().entry(Stream::Stdout, b"piece", true));
    assert!(out.contains(&("PRIORITY".into(), b"6".to_vec())));
    assert_eq!(
        out.last().unwrap(),
        &("CONTAINER_PARTIAL_MESSAGE".to_string(), b"true".to_vec())
    );
}

/// A stand-in for journald: a datagram socket bound in a temporary directory.
fn fake_journald() -> (tempfile::TempDir, UnixDatagram, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("socket");
    let server = UnixDatagram::bind(&path).unwrap();
    (dir, server, path)
}

#[test]
fn entries_arrive_as_one_datagram_each() {
    let (_dir, server, path) = fake_journald();
    let journal = Journal::connect(&path).unwrap();
    let mut buf = vec![0; 4096];
    assert_eq!(server.recv(&mut buf).unwrap(), 0, "the probe is empty");
    let entry = fields().entry(Stream::Stdout, b"hello", false);
    journal.send(&entry).unwrap();
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], &entry[..]);
}

#[test]
fn an_entry_too_large_for_a_datagram_goes_in_a_sealed_memfd() {
    let (_dir, server, path) = fake_journald();
    let journal = Journal::connect(&path).unwrap();
    let mut probe = [0; 16];
    server.recv(&mut probe).unwrap();
    // The smallest send buffer the kernel allows (~4.6 KiB) makes a 64 KiB entry too large.
    rustix::net::sockopt::set_socket_send_buffer_size(journal.socket(), 1).unwrap();
    let line: Vec<u8> = (0..64 * 1024).map(|i| b"abc\n"[i % 4]).collect();
    let entry = fields().entry(Stream::Stdout, &line, false);
    assert!(
        journal.socket().send_to(&entry, &path).is_err(),
        "the test needs a datagram this large to fail"
    );
    journal.send(&entry).unwrap();

    let mut data = [0u8; 16];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = recvmsg(
        &server,
        &mut [IoSliceMut::new(&mut data)],
        &mut control,
        RecvFlags::empty(),
    )
    .unwrap();
    assert_eq!(got.bytes, 0, "the datagram itself is empty");
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    assert_eq!(fds.len(), 1, "one descriptor is passed");
    let seals = rustix::fs::fcntl_get_seals(&fds[0]).unwrap();
    assert!(seals.contains(SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW));
    // The descriptor shares the sender's file offset, at the end: read from the start, as
    // journald (which maps it) does.
    let mut content = Vec::new();
    let mut file = File::from(fds.remove(0));
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut content).unwrap();
    assert_eq!(content, entry);
    assert_eq!(
        decode(&content)[0].1,
        line,
        "the multiline message survives"
    );
}

#[test]
fn a_missing_journald_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = format!(
        "{:#}",
        check_socket(&dir.path().join("socket")).unwrap_err()
    );
    assert!(
        err.contains("journald does not answer") && err.contains("--log-driver json-file"),
        "{err}"
    );
}

#[test]
fn attrs_become_fields_named_as_docker_names_them() {
    assert_eq!(field_name("com.example.app"), "COM_EXAMPLE_APP");
    assert_eq!(field_name("_under"), "UNDER");
    assert_eq!(field_name("MODE"), "MODE");
    assert_eq!(field_name("été-1"), "T__1", "non-ASCII letters are `_` too");
    let mut f = fields();
    f.add_attrs(&std::collections::BTreeMap::from([
        ("com.example.app".to_string(), "web".to_string()),
        ("9lives".to_string(), "cat".to_string()),
        ("___".to_string(), "nothing left".to_string()),
    ]));
    let got = decode(&f.entry(Stream::Stdout, b"m", false));
    assert!(
        got.contains(&("COM_EXAMPLE_APP".into(), b"web".to_vec())),
        "{got:?}"
    );
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        !names.contains(&"9LIVES") && !names.contains(&""),
        "{names:?}"
    );
}
