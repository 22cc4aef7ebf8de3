//! Arbitrary bytes as a registry's manifest response: `manifest::parse` tells an image manifest
//! from an index (Docker schema 2, OCI, with or without mediaType) and refuses the rest, and
//! `host_entry` picks this machine's platform from an index. Neither may panic, and an index
//! entry chosen must be one of the index's own.
#![no_main]

use atomic_store::pull::registry::manifest::{Parsed, host_entry, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Parsed::Index(index)) => {
            if let Ok(entry) = host_entry(&index) {
                assert!(index.manifests().iter().any(|d| d == entry));
            }
        }
        Ok(Parsed::Image(manifest)) => {
            let _ = manifest.layers().len();
        }
        Err(e) => {
            let _ = format!("{e:#}");
        }
    }
});
