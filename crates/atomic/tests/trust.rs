//! Image trust end to end: the policy matrix against skopeo, `atomic trust` read back by
//! Podman, `atomic sign` accepted by skopeo and podman, sigstore attachments checked against
//! openssl.

mod common;
#[path = "trust/fixture.rs"]
mod fixture;
#[path = "trust/matrix.rs"]
mod matrix;
#[path = "trust/push.rs"]
mod push;
#[path = "trust/roundtrip.rs"]
mod roundtrip;
#[path = "trust/sigstore.rs"]
mod sigstore;
