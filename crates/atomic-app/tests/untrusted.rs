//! Nulecules, answers and artifacts come from images: no input makes a parser or renderer
//! panic, and a substituted docker word is always exactly one argv word.

use std::collections::BTreeMap;

use atomic_app::{Answers, Nulecule, Value, render, subst};
use proptest::prelude::*;

fn ctx(value: &str) -> BTreeMap<String, Value> {
    let mut c = BTreeMap::new();
    c.insert(
        "v".to_string(),
        Value {
            text: value.to_string(),
            hidden: false,
            default: None,
        },
    );
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parsers_never_panic(text in "\\PC{0,200}") {
        let _ = Nulecule::parse(&text);
        let _ = Answers::parse(&text);
        let _ = subst::substitute(&text, &|n: &str| Some(n.to_string()));
        let _ = render::docker_run(&text, &ctx("x"), "n", false);
        let _ = render::objects(&text, &ctx("x"), "ns", false);
    }

    #[test]
    fn yaml_like_inputs_never_panic(text in "[a-z:{}\\[\\], \\n$\"'-]{0,120}") {
        let _ = Nulecule::parse(&text);
        let _ = Answers::parse(&text);
        let _ = render::objects(&text, &ctx("1"), "ns", false);
    }

    #[test]
    fn a_value_is_always_one_word(value in "[^-]\\PC{0,40}") {
        let run = render::docker_run("docker run -e X=$v img $v", &ctx(&value), "n", false).unwrap();
        prop_assert_eq!(run.argv.len(), 8);
        prop_assert_eq!(&run.argv[5], &format!("X={value}"));
        prop_assert_eq!(&run.argv[7], &value);
    }
}
