//! The `journald` log driver: each line of a container is one journal entry, sent over
//! journald's native protocol (a datagram to `/run/systemd/journal/socket`), with the fields
//! Docker's driver writes, so `journalctl CONTAINER_NAME=web` finds it as it would Docker's.
//!
//! The protocol is written here rather than taken from a crate: `libsystemd` brings `nix` and
//! its crypto dependencies and opens a new socket for every message, and
//! `systemd-journal-logger` is a backend of the `log` facade (fields fixed per logger,
//! priorities from log levels), not a writer of arbitrary entries. The protocol is small
//! (`NAME=value` lines, a length-prefixed form for values holding newlines, and a sealed memfd
//! passed with SCM_RIGHTS for an entry too large for a datagram), and `rustix`, already a
//! dependency, makes the memfd and the SCM_RIGHTS message. Writing it ourselves also lets the
//! encoding be unit-tested byte for byte. <https://systemd.io/JOURNAL_NATIVE_PROTOCOL/>

use std::fs::File;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustix::fs::{MemfdFlags, SealFlags, fcntl_add_seals, memfd_create};
use rustix::net::{
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, sendmsg_addr,
};

use super::Stream;

/// Where journald listens for native-protocol datagrams.
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// Syslog priorities Docker gives the two streams: info and err.
pub fn priority(stream: Stream) -> u8 {
    match stream {
        Stream::Stdout => 6,
        Stream::Stderr => 3,
    }
}

/// Whether `name` is a field name journald keeps: 1 to 64 of `A-Z 0-9 _`, not starting with a
/// digit, and not with `_` (those are journald's trusted fields; it drops them from clients).
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && !bytes[0].is_ascii_digit()
        && bytes[0] != b'_'
        && bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
}

/// A journal field name for `key`, Docker's way (`sanitizeKeyMod`): letters upper-cased, any
/// other character but digits `_`, leading `_`s dropped.
pub fn field_name(key: &str) -> String {
    let mut name = String::new();
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        };
        if !(name.is_empty() && c == '_') {
            name.push(c);
        }
    }
    name
}

/// Append one field to an entry: `NAME=value\n`, or, when the value holds a newline, `NAME\n`,
/// its length as a little-endian u64, the bytes, and `\n` (the protocol's binary-safe form).
pub fn push_field(entry: &mut Vec<u8>, name: &str, value: &[u8]) {
    debug_assert!(valid_name(name), "bad journal field name {name}");
    entry.extend_from_slice(name.as_bytes());
    if value.contains(&b'\n') {
        entry.push(b'\n');
        entry.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        entry.push(b'=');
    }
    entry.extend_from_slice(value);
    entry.push(b'\n');
}

/// The fields of a container that every one of its entries carries, encoded once.
#[derive(Debug, Clone)]
pub struct ContainerFields {
    encoded: Vec<u8>,
}

impl ContainerFields {
    /// Docker's fields: `CONTAINER_ID` (12 digits), `CONTAINER_ID_FULL`, `CONTAINER_NAME`,
    /// `CONTAINER_TAG` and `SYSLOG_IDENTIFIER` (both the tag), `IMAGE_NAME`.
    pub fn new(id: &str, name: &str, image: &str, tag: &str) -> ContainerFields {
        let mut encoded = Vec::new();
        let short: String = id.chars().take(12).collect();
        push_field(&mut encoded, "CONTAINER_ID", short.as_bytes());
        push_field(&mut encoded, "CONTAINER_ID_FULL", id.as_bytes());
        push_field(&mut encoded, "CONTAINER_NAME", name.as_bytes());
        push_field(&mut encoded, "CONTAINER_TAG", tag.as_bytes());
        push_field(&mut encoded, "SYSLOG_IDENTIFIER", tag.as_bytes());
        push_field(&mut encoded, "IMAGE_NAME", image.as_bytes());
        ContainerFields { encoded }
    }

    /// Add the container's labels and variables asked for (`--log-opt labels=`/`env=`), under
    /// field names made as Docker makes them: upper case, other characters `_`, no leading `_`.
    pub fn add_attrs(&mut self, attrs: &std::collections::BTreeMap<String, String>) {
        for (key, value) in attrs {
            let name = field_name(key);
            if valid_name(&name) {
                push_field(&mut self.encoded, &name, value.as_bytes());
            }
        }
    }

    /// The entry for one line (without its newline) of `stream`; `partial` marks a piece of a
    /// longer line, or a last line that had no newline, as Docker marks them.
    pub fn entry(&self, stream: Stream, line: &[u8], partial: bool) -> Vec<u8> {
        let mut entry = Vec::with_capacity(self.encoded.len() + line.len() + 32);
        push_field(&mut entry, "MESSAGE", line);
        push_field(&mut entry, "PRIORITY", &[b'0' + priority(stream)]);
        entry.extend_from_slice(&self.encoded);
        if partial {
            push_field(&mut entry, "CONTAINER_PARTIAL_MESSAGE", b"true");
        }
        entry
    }
}

/// A connection to journald's socket.
#[derive(Debug)]
pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Journal {
    /// A client of the journald listening at `path`; an empty datagram (which journald
    /// ignores) proves that one does.
    pub fn connect(path: &Path) -> io::Result<Journal> {
        let journal = Journal {
            socket: UnixDatagram::unbound()?,
            path: path.to_path_buf(),
        };
        journal.socket.send_to(&[], &journal.path)?;
        Ok(journal)
    }

    /// The socket, for tests that shrink its send buffer.
    pub fn socket(&self) -> &UnixDatagram {
        &self.socket
    }

    /// Send one entry. An entry larger than a datagram can be goes in a sealed memfd, as
    /// journald requires.
    pub fn send(&self, entry: &[u8]) -> io::Result<()> {
        match self.socket.send_to(entry, &self.path) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(EMSGSIZE) => self.send_memfd(entry),
            Err(e) => Err(e),
        }
    }

    fn send_memfd(&self, entry: &[u8]) -> io::Result<()> {
        let mut file = File::from(memfd_create(
            "atomic-journal-entry",
            MemfdFlags::ALLOW_SEALING | MemfdFlags::CLOEXEC,
        )?);
        file.write_all(entry)?;
        // journald refuses a memfd the sender could still change.
        fcntl_add_seals(
            &file,
            SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
        )?;
        let fds = [file.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&fds));
        let addr = SocketAddrUnix::new(&self.path)?;
        sendmsg_addr(&self.socket, &addr, &[], &mut control, SendFlags::empty())?;
        Ok(())
    }
}

/// `EMSGSIZE`: the datagram is larger than the socket's buffer allows.
const EMSGSIZE: i32 = rustix::io::Errno::MSGSIZE.raw_os_error();

/// A clear error unless a journald answers at `socket`.
pub fn check_socket(socket: &Path) -> Result<()> {
    open(socket).map(drop)
}

/// A client of the journald at `socket`, or a clear error.
pub fn open(socket: &Path) -> Result<Journal> {
    Journal::connect(socket).with_context(|| {
        format!(
            "log driver journald: journald does not answer at {} (is systemd-journald \
             running on this host?); use --log-driver json-file",
            socket.display()
        )
    })
}

#[cfg(test)]
#[path = "journald_tests.rs"]
mod tests;
