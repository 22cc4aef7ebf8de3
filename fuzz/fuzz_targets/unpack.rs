//! Unpack arbitrary bytes as a layer tar (and, when they look compressed, through
//! `decompress`) into `tmp/layer`, and check that nothing appeared next to it: whatever the
//! input, every effect must stay inside the layer directory.
#![no_main]

use std::io::BufReader;

use atomic_store::unpack::{UnpackOptions, decompress, unpack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("layer");
    std::fs::create_dir(&layer).expect("mkdir layer");
    let opts = UnpackOptions::for_current_user();
    // Errors are expected for most inputs; escapes are what we look for.
    let _ = match decompress(BufReader::new(data)) {
        Ok(tar) => unpack(tar, &layer, &opts).map(drop),
        Err(_) => Ok(()),
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
});
