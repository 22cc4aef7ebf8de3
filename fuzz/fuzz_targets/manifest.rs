//! Parse arbitrary bytes as an OCI image manifest, index and image configuration, as the store
//! does with what a registry or archive sends, and run every digest in them through
//! `atomic_store::digest::Digest`: it must never panic, and what it accepts must print back
//! exactly as it was written (a digest becomes a file name in the store).
#![no_main]

use atomic_store::digest::Digest;
use libfuzzer_sys::fuzz_target;
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};

fn check(d: &oci_spec::image::Digest) {
    if let Ok(ours) = Digest::try_from(d) {
        assert_eq!(ours.to_string(), d.to_string());
        assert_eq!(ours.hex().len(), 64);
        assert_eq!(&oci_spec::image::Digest::from(&ours), d);
    }
}

fn descriptor(d: &Descriptor) {
    check(d.digest());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ImageManifest::from_reader(data) {
        descriptor(m.config());
        m.layers().iter().for_each(descriptor);
        if let Some(s) = m.subject() {
            descriptor(s);
        }
    }
    if let Ok(i) = ImageIndex::from_reader(data) {
        i.manifests().iter().for_each(descriptor);
        if let Some(s) = i.subject() {
            descriptor(s);
        }
    }
    if let Ok(c) = ImageConfiguration::from_reader(data) {
        for id in c.rootfs().diff_ids() {
            let _ = id.parse::<Digest>();
        }
    }
});
