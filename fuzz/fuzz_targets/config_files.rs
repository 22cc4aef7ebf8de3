//! Arbitrary text as the configuration and names atomic reads from users and hosts:
//! registries.conf (`RegistriesConf::parse`, then the lookups a pull makes), an auth file
//! (`auth::lookup_in`), an image name (`ImageName::parse`) and a pull source
//! (`Source::parse`). None may panic; a name that parses must print back and parse again to
//! the same name.
#![no_main]

use atomic_store::pull::registry::{auth, config::RegistriesConf, token};
use atomic_store::{ImageName, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(conf) = RegistriesConf::parse(text) {
        let _ = conf.search_registries();
        let _ = conf.insecure("127.0.0.1:5000/x/y");
        let _ = conf.blocked("docker.io/library/busybox");
        if let Ok(name) = ImageName::parse("127.0.0.1:5000/x/y:1") {
            let _ = conf.pull_sources(&name);
        }
    }
    let _ = token::parse_challenge(text);
    let _ = auth::lookup_in(text, "127.0.0.1:5000", "x/y");
    let line = text.lines().next().unwrap_or("");
    if let Ok(name) = ImageName::parse(line) {
        let printed = name.to_string();
        let again = ImageName::parse(&printed).expect("a printed name parses");
        assert_eq!(again.to_string(), printed);
    }
    let _ = Source::parse(line);
});
