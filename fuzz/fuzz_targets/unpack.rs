//! Unpack arbitrary bytes as a layer tar (and, when they look compressed, through
//! `decompress`) into `tmp/layer`, and check that nothing appeared next to it: whatever the
//! input, every effect must stay inside the layer directory. When the unpack succeeds,
//! `images verify`'s comparison of the directory with the same tar must find nothing changed
//! (the unpacker and verify must agree on what every entry means).
#![no_main]

use std::io::BufReader;

use atomic_store::unpack::expansion::{Counting, Limited};
use atomic_store::unpack::{UnpackOptions, decompress, unpack};
use atomic_store::verify::compare_with_tar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("layer");
    std::fs::create_dir(&layer).expect("mkdir layer");
    let opts = UnpackOptions::for_current_user();
    // Errors are expected for most inputs; escapes are what we look for. The expansion bound
    // of a pull applies (64 MiB, then 250 times the input): without it a 24 KB zstd bomb
    // filled the machine's disk.
    let (counting, compressed) = Counting::new(data);
    let unpacked = match decompress(BufReader::new(counting)) {
        Ok(tar) => unpack(Limited::new(tar, compressed), &layer, &opts).is_ok(),
        Err(_) => false,
    };
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read tmp")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        ["layer"],
        "something was created outside the layer directory"
    );
    let md = std::fs::symlink_metadata(&layer).expect("layer still there");
    assert!(md.is_dir(), "the layer directory was replaced");
    if unpacked {
        let tar = decompress(BufReader::new(data)).expect("decompressed once already");
        let changes = compare_with_tar(tar, &layer).expect("verify reads what unpack read");
        assert!(changes.is_empty(), "verify disagrees with unpack: {changes:?}");
    }
});
