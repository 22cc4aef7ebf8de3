//! A strict reader for the two GVariant documents `atomic host status` reads without
//! libostree: an OSTree commit object, and the `a{sv}` dictionary of `/run/ostree-booted`.
//!
//! Strict on purpose. GLib reads data that is not in "normal form" (an offset past the end, a
//! string without its NUL) by substituting default values, silently. Here every such case is
//! an error instead, and the caller falls back to libostree: whatever GLib would make of a
//! damaged object, the answer is then libostree's own, never a guess of ours. (That is also why
//! this is not the `gvariant` crate: it substitutes defaults as GLib does, so a damaged commit
//! cannot be told from one with empty metadata.)
//!
//! The format, in the parts used here (GVariant specification, §2.3–2.5): containers align
//! their children to the child's alignment relative to the container's start; a variable-size
//! child is ended by a "framing offset", a little-endian unsigned integer whose width depends
//! on the container's total size, stored at the container's end — for a structure one per
//! variable-size member but the last, in reverse order; for an array one per element, in order.

use anyhow::{Context, Result, bail, ensure};

/// What a commit object says about the commit, as `ostree admin status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitInfo {
    /// The `version` key of the commit's metadata.
    pub version: Option<String>,
    /// Seconds since the epoch.
    pub timestamp: u64,
}

/// A member of a structure: its alignment, and its size when it is fixed.
#[derive(Clone, Copy)]
struct Member {
    align: usize,
    fixed: Option<usize>,
}

const fn variable(align: usize) -> Member {
    Member { align, fixed: None }
}

/// An OSTree commit: `(a{sv}aya(say)sstayay)` — metadata, parent checksum, related objects,
/// subject, body, timestamp, root tree contents checksum, root tree metadata checksum.
const COMMIT: [Member; 8] = [
    variable(8),
    variable(1),
    variable(1),
    variable(1),
    variable(1),
    Member {
        align: 8,
        fixed: Some(8),
    },
    variable(1),
    variable(1),
];

/// A dictionary entry `{sv}`: a string key, then a variant.
const ENTRY: [Member; 2] = [variable(1), variable(8)];

/// The version and timestamp of the serialised commit object `bytes`.
pub(crate) fn read_commit(bytes: &[u8]) -> Result<CommitInfo> {
    let members = structure(bytes, &COMMIT).context("not an OSTree commit object")?;
    let version = match lookup(members[0], "version").context("in the commit's metadata")? {
        None => None,
        Some(("s", data)) => Some(string(data).context("the commit's 'version'")?.to_string()),
        Some((other, _)) => bail!("the commit's 'version' is of type '{other}', not a string"),
    };
    // libostree stores the timestamp big-endian whatever the machine's byte order
    // (ostree_commit_get_timestamp), unlike GVariant's own integers.
    let timestamp = u64::from_be_bytes(members[5].try_into().context("timestamp size")?);
    Ok(CommitInfo { version, timestamp })
}

/// The value of `key` in the `a{sv}` dictionary `dict`, as its type string and data. A key
/// that occurs twice is an error: GLib's dictionary keeps the last, which nothing writes.
pub(crate) fn lookup<'a>(dict: &'a [u8], key: &str) -> Result<Option<(&'a str, &'a [u8])>> {
    let mut found = None;
    for (i, entry) in array(dict, 8)?.into_iter().enumerate() {
        let members = structure(entry, &ENTRY).with_context(|| format!("dictionary entry {i}"))?;
        let (name, value) = (members[0], members[1]);
        let name = string(name).with_context(|| format!("the key of dictionary entry {i}"))?;
        if name != key {
            continue;
        }
        ensure!(found.is_none(), "the key '{key}' occurs twice");
        found = Some(variant(value).with_context(|| format!("the value of '{key}'"))?);
    }
    Ok(found)
}

/// A `(tt)` pair of GVariant integers (in the machine's byte order).
pub(crate) fn u64_pair(data: &[u8]) -> Result<(u64, u64)> {
    let data: &[u8; 16] = data.try_into().context("a (tt) pair is 16 bytes")?;
    let (a, b) = data.split_at(8);
    Ok((
        u64::from_ne_bytes(a.try_into()?),
        u64::from_ne_bytes(b.try_into()?),
    ))
}

/// The width of the framing offsets of a container of `len` bytes.
fn offset_size(len: usize) -> usize {
    match len {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        _ if u32::try_from(len).is_ok() => 4,
        _ => 8,
    }
}

/// The little-endian framing offset of `size` bytes at `at`.
fn read_offset(data: &[u8], at: usize, size: usize) -> Result<usize> {
    let bytes = at
        .checked_add(size)
        .and_then(|end| data.get(at..end))
        .context("framing offset out of bounds")?;
    let value = bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    usize::try_from(value).context("framing offset too large")
}

fn align(pos: usize, alignment: usize) -> Result<usize> {
    pos.checked_next_multiple_of(alignment)
        .context("offset overflows")
}

/// The members of the structure `data` laid out as `members`.
fn structure<'a>(data: &'a [u8], members: &[Member]) -> Result<Vec<&'a [u8]>> {
    let last = members.len() - 1;
    let framed = members[..last].iter().filter(|m| m.fixed.is_none()).count();
    let osize = offset_size(data.len());
    ensure!(
        framed == 0 || osize > 0,
        "empty, where a structure was expected"
    );
    let body_end = data
        .len()
        .checked_sub(framed * osize)
        .context("too short for its framing offsets")?;
    let mut children = Vec::with_capacity(members.len());
    let mut pos = 0;
    let mut k = 0;
    for (i, m) in members.iter().enumerate() {
        let start = align(pos, m.align)?;
        let end = match m.fixed {
            Some(size) => start.checked_add(size).context("offset overflows")?,
            None if i == last => body_end,
            None => {
                // Reverse order: the first framed member's offset is the structure's last.
                k += 1;
                read_offset(data, data.len() - k * osize, osize)?
            }
        };
        ensure!(
            start <= end && end <= body_end,
            "member {i} spans {start}..{end}, outside 0..{body_end}"
        );
        children.push(&data[start..end]);
        pos = end;
    }
    if let Some(Member { fixed: Some(_), .. }) = members.last() {
        ensure!(pos == body_end, "{} stray bytes at the end", body_end - pos);
    }
    Ok(children)
}

/// The elements of the array of variable-size elements `data`.
fn array(data: &[u8], elem_align: usize) -> Result<Vec<&[u8]>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let osize = offset_size(data.len());
    let table = read_offset(data, data.len() - osize, osize)?;
    ensure!(
        table < data.len() && (data.len() - table).is_multiple_of(osize),
        "array's offset table at {table} does not fit its {} bytes",
        data.len()
    );
    let count = (data.len() - table) / osize;
    let mut elements = Vec::with_capacity(count);
    let mut pos = 0;
    for i in 0..count {
        let start = align(pos, elem_align)?;
        let end = read_offset(data, table + i * osize, osize)?;
        ensure!(
            start <= end && end <= table,
            "element {i} spans {start}..{end}, outside 0..{table}"
        );
        elements.push(&data[start..end]);
        pos = end;
    }
    Ok(elements)
}

/// A variant `v`: its value's data, a NUL, then the value's type string.
fn variant(data: &[u8]) -> Result<(&str, &[u8])> {
    let nul = data
        .iter()
        .rposition(|&b| b == 0)
        .context("variant without a type")?;
    let ty = std::str::from_utf8(&data[nul + 1..]).context("variant type is not UTF-8")?;
    ensure!(!ty.is_empty(), "variant with an empty type");
    Ok((ty, &data[..nul]))
}

/// A string `s`: UTF-8 with one NUL, at its end.
fn string(data: &[u8]) -> Result<&str> {
    let Some((0, text)) = data.split_last() else {
        bail!("string without its terminating NUL");
    };
    ensure!(!text.contains(&0), "string with a NUL inside");
    std::str::from_utf8(text).context("string is not UTF-8")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Serialisers for the tests, the mirror image of the reader (normal form only).
    pub(crate) mod write {
        fn offset_bytes(value: usize, size: usize) -> Vec<u8> {
            value.to_le_bytes()[..size].to_vec()
        }

        fn pad(out: &mut Vec<u8>, align: usize) {
            while !out.len().is_multiple_of(align) {
                out.push(0);
            }
        }

        /// The smallest framing offset width that fits `body` plus `n` offsets.
        fn width(body: usize, n: usize) -> usize {
            [1, 2, 4, 8]
                .into_iter()
                .find(|&w| super::offset_size(body + n * w) == w)
                .unwrap()
        }

        pub fn string(s: &str) -> Vec<u8> {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v
        }

        pub fn variant(ty: &str, data: &[u8]) -> Vec<u8> {
            let mut v = data.to_vec();
            v.push(0);
            v.extend_from_slice(ty.as_bytes());
            v
        }

        /// A structure of (alignment, data, framed) members; the last is never framed.
        pub fn structure(members: &[(usize, Vec<u8>, bool)]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut ends = Vec::new();
            for (i, (align, data, framed)) in members.iter().enumerate() {
                pad(&mut out, *align);
                out.extend_from_slice(data);
                if *framed && i + 1 < members.len() {
                    ends.push(out.len());
                }
            }
            if ends.is_empty() {
                return out;
            }
            let w = width(out.len(), ends.len());
            for end in ends.iter().rev() {
                out.extend(offset_bytes(*end, w));
            }
            out
        }

        pub fn array(elements: &[Vec<u8>], align: usize) -> Vec<u8> {
            let mut out = Vec::new();
            let mut ends = Vec::new();
            for e in elements {
                pad(&mut out, align);
                out.extend_from_slice(e);
                ends.push(out.len());
            }
            if ends.is_empty() {
                return out;
            }
            let w = width(out.len(), ends.len());
            for end in ends {
                out.extend(offset_bytes(end, w));
            }
            out
        }

        /// `a{sv}` from (key, type, value data).
        pub fn vardict(entries: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
            let entries: Vec<Vec<u8>> = entries
                .iter()
                .map(|(k, ty, data)| {
                    structure(&[(1, string(k), true), (8, variant(ty, data), true)])
                })
                .collect();
            array(&entries, 8)
        }

        /// A commit object with this metadata and timestamp.
        pub fn commit(metadata: &[(&str, &str, Vec<u8>)], timestamp: u64) -> Vec<u8> {
            structure(&[
                (8, vardict(metadata), true),
                (1, vec![0xaa; 32], true),
                (1, Vec::new(), true),
                (1, string("subject"), true),
                (1, string(""), true),
                (8, timestamp.to_be_bytes().to_vec(), false),
                (1, vec![0xbb; 32], true),
                (1, vec![0xcc; 32], true),
            ])
        }
    }

    /// A commit object written by `ostree commit -s 3.0 --add-metadata-string=version=3.0
    /// --timestamp=@1600010800` (ostree 2022.7).
    const REAL_COMMIT: &str = "\
        76657273696f6e00332e3000007308006f73747265652e7265662d62696e\
        64696e67000000000000746573746f732f737461626c65000e006173130f\
        3bc299d33cabf8fe2b538c3e56b6ac322cb53509045d4973e2e0bd0107db\
        bb90b0332e300000000000000000000000005f5e3a3054452b0d7652bdc8\
        33acc26fe78c988939030ce0f0c67c032b6f7b3018b53e7c446a0ef11b7c\
        c167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c54889062615d\
        5d3d";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_a_commit_made_by_ostree() {
        let info = read_commit(&unhex(REAL_COMMIT)).unwrap();
        assert_eq!(info.version.as_deref(), Some("3.0"));
        assert_eq!(info.timestamp, 1_600_010_800);
    }

    #[test]
    fn reads_what_the_test_writer_writes() {
        let meta = [
            ("ostree.ref-binding", "s", write::string("x")),
            ("version", "s", write::string("41.20250101.0")),
        ];
        let info = read_commit(&write::commit(&meta, 1_700_000_000)).unwrap();
        assert_eq!(info.version.as_deref(), Some("41.20250101.0"));
        assert_eq!(info.timestamp, 1_700_000_000);
        let info = read_commit(&write::commit(&[], 7)).unwrap();
        assert_eq!(
            info,
            CommitInfo {
                version: None,
                timestamp: 7
            }
        );
    }

    #[test]
    fn large_commits_use_wider_offsets() {
        // Over 255 and over 65535 bytes: two- and four-byte framing offsets.
        for size in [300, 70_000] {
            let meta = [
                ("big", "ay", vec![7; size]),
                ("version", "s", write::string("2.0")),
            ];
            let bytes = write::commit(&meta, 9);
            let info = read_commit(&bytes).unwrap();
            assert_eq!(info.version.as_deref(), Some("2.0"), "{size}");
            assert_eq!(info.timestamp, 9);
        }
    }

    #[test]
    fn damaged_commits_are_errors() {
        let good = unhex(REAL_COMMIT);
        let not_string = write::commit(&[("version", "i", 3u32.to_le_bytes().to_vec())], 1);
        let twice = write::commit(
            &[
                ("version", "s", write::string("1")),
                ("version", "s", write::string("2")),
            ],
            1,
        );
        let no_nul = write::commit(&[("version", "s", b"1.0".to_vec())], 1);
        let not_utf8 = write::commit(&[("version", "s", vec![0xff, 0])], 1);
        let mut offset_past_end = good.clone();
        *offset_past_end.last_mut().unwrap() = 0xf0;
        let cases: Vec<(&str, &[u8])> = vec![
            ("empty", &[]),
            ("one byte", &[0]),
            ("truncated", &good[..good.len() - 1]),
            ("half", &good[..good.len() / 2]),
            ("offset past the end", &offset_past_end),
            ("version of another type", &not_string),
            ("version twice", &twice),
            ("string without NUL", &no_nul),
            ("string not UTF-8", &not_utf8),
        ];
        for (what, bytes) in cases {
            assert!(read_commit(bytes).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn looks_up_a_pair_in_a_vardict() {
        let mut pair = 12u64.to_ne_bytes().to_vec();
        pair.extend(34u64.to_ne_bytes());
        let dict = write::vardict(&[
            ("composefs", "b", vec![1]),
            ("backing-root-device-inode", "(tt)", pair),
        ]);
        let (ty, data) = lookup(&dict, "backing-root-device-inode").unwrap().unwrap();
        assert_eq!(ty, "(tt)");
        assert_eq!(u64_pair(data).unwrap(), (12, 34));
        assert_eq!(lookup(&dict, "missing").unwrap(), None);
        assert_eq!(lookup(&[], "missing").unwrap(), None);
        assert!(u64_pair(&[0; 15]).is_err());
    }

    proptest::proptest! {
        /// Whatever the bytes, the reader answers or errs; it never panics.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = read_commit(&bytes);
            let _ = lookup(&bytes, "version");
        }

        /// A real commit with any one byte changed, or cut anywhere: never a panic.
        #[test]
        fn damaged_real_commit_never_panics(at in 0usize..182, byte in proptest::num::u8::ANY, cut in 0usize..182) {
            let mut bytes = unhex(REAL_COMMIT);
            bytes[at] = byte;
            let _ = read_commit(&bytes);
            let _ = read_commit(&bytes[..cut]);
        }

        /// What the writer writes, the reader reads back.
        #[test]
        fn round_trip(version in proptest::option::of("[ -~]{0,40}"), timestamp in proptest::num::u64::ANY, pad in 0usize..400) {
            let mut meta = vec![("padding", "ay", vec![1u8; pad])];
            if let Some(v) = &version {
                meta.push(("version", "s", write::string(v)));
            }
            let info = read_commit(&write::commit(&meta, timestamp)).unwrap();
            proptest::prop_assert_eq!(info, CommitInfo { version, timestamp });
        }
    }
}
