//! Whatever bytes a registry, a lookaside server or a policy file holds, the parsers answer
//! with a value or an error, never a panic.

use atomic_trust::cosign::{self, SigstoreSignature};
use atomic_trust::registries_d::RegistriesD;
use atomic_trust::simple::{self, SIMPLE_SIGNING_TYPE};
use atomic_trust::{DockerRef, Policy};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn signatures_and_payloads(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = simple::verify_message(&bytes, &[]);
        let _ = simple::parse_keyring(&bytes);
        let _ = simple::parse_payload(&bytes, SIMPLE_SIGNING_TYPE);
        let _ = cosign::parse_public_keys(&bytes);
        let sig = SigstoreSignature { payload: bytes.clone(), signature: String::from_utf8_lossy(&bytes).into_owned() };
        let _ = cosign::verify(&sig, &[]);
    }

    #[test]
    fn texts(text in "\\PC{0,300}") {
        let _ = Policy::parse(&text);
        let _ = DockerRef::parse(&text).map(|r| (r.policy_identity(), r.policy_namespaces()));
        let _ = RegistriesD::parse(&[("f".to_string(), text.clone())]);
    }

    #[test]
    fn policy_shaped_json(scope in "[a-z0-9.:/*@-]{0,40}", kind in "[a-zA-Z]{0,25}", key in "[a-zA-Z]{0,12}") {
        let text = format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{scope}":[{{"type":"{kind}","{key}":"x"}}]}},"oci":{{"{scope}":[{{"type":"reject"}}]}}}}}}"#
        );
        let _ = Policy::parse(&text);
    }
}
