//! Property tests: quoting round-trips through splitting, substituted values and extra
//! arguments are never re-split or re-expanded, and no input makes a parser panic.

use atomic_label::{Vars, build, default_name, join, parse, quote, split, validate_name};
use proptest::prelude::*;

/// Any string, with shell-significant characters over-represented.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ a-z'\"\\\\$`;|&(){}#*?~\n\t=:-]{0,16}",]
}

fn with_vars<T>(
    name: &str,
    image: &str,
    opts: [Option<&str>; 3],
    run_opts: Option<&str>,
    env: &[(String, String)],
    f: impl FnOnce(&Vars) -> T,
) -> T {
    let lookup = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let vars = Vars {
        name,
        image,
        opts,
        run_opts,
        lookup: &lookup,
    };
    f(&vars)
}

proptest! {
    #[test]
    fn quote_then_split_gives_back_the_argv(argv in prop::collection::vec(nasty(), 0..8)) {
        prop_assert_eq!(split(&join(&argv)).unwrap(), argv);
    }

    #[test]
    fn quote_of_one_argument_is_one_word(arg in nasty()) {
        prop_assert_eq!(split(&quote(&arg)).unwrap(), vec![arg]);
    }

    #[test]
    fn substituted_values_are_never_resplit(value in nasty(), image in nasty()) {
        let env = vec![("EVIL".to_string(), value.clone())];
        let t = parse(r#"prog --x=$EVIL "$EVIL" ${EVIL}y "${EVIL:-d}" ${IMAGE}x IMAGE"#).unwrap();
        let got = with_vars("n", &image, [None; 3], None, &env, |v| build(&t, v, &[])).unwrap();
        let dflt = if value.is_empty() { "d".to_string() } else { value.clone() };
        let want = vec![
            "prog".to_string(),
            format!("--x={value}"),
            value.clone(),
            format!("{value}y"),
            dflt,
            format!("{image}x"),
            image.clone(),
        ];
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_bare_variable_is_one_element_or_none(value in nasty()) {
        let env = vec![("V".to_string(), value.clone())];
        let t = parse("prog $V").unwrap();
        let got = with_vars("n", "i", [None; 3], None, &env, |v| build(&t, v, &[])).unwrap();
        let mut want = vec!["prog".to_string()];
        if !value.is_empty() {
            want.push(value);
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn run_opts_written_quoted_come_back_as_the_argv(argv in prop::collection::vec(nasty(), 0..6)) {
        let file = join(&argv);
        let t = parse("prog $RUN_OPTS ${OPT1} end").unwrap();
        let got = with_vars("n", "i", [Some(&file), None, None], Some(&file), &[], |v| build(&t, v, &[]))
            .unwrap();
        let mut want = vec!["prog".to_string()];
        want.extend(argv.iter().cloned());
        want.extend(argv.iter().cloned());
        want.push("end".to_string());
        prop_assert_eq!(got, want);
    }

    #[test]
    fn extra_arguments_are_appended_verbatim(extra in prop::collection::vec(nasty(), 0..6)) {
        let t = parse("prog NAME").unwrap();
        let got = with_vars("n", "i", [None; 3], None, &[], |v| build(&t, v, &extra)).unwrap();
        prop_assert_eq!(&got[..2], &["prog".to_string(), "n".to_string()][..]);
        prop_assert_eq!(&got[2..], &extra[..]);
    }

    #[test]
    fn json_elements_are_exact(words in prop::collection::vec("[^$]{0,12}", 1..6)) {
        prop_assume!(words.iter().all(|w| !matches!(w.as_str(), "NAME" | "IMAGE")
            && !w.ends_with("=NAME") && !w.ends_with("=IMAGE")));
        prop_assume!(!words[0].is_empty());
        let text = serde_json::to_string(&words).unwrap();
        let t = parse(&text).unwrap();
        let got = with_vars("n", "i", [None; 3], None, &[], |v| build(&t, v, &[])).unwrap();
        prop_assert_eq!(got, words);
    }

    #[test]
    fn parsers_never_panic(text in nasty()) {
        let _ = split(&text);
        if let Ok(t) = parse(&text) {
            let env = vec![("X".to_string(), text.clone())];
            let _ = with_vars("n", &text, [Some(&text); 3], Some(&text), &env, |v| build(&t, v, &[]));
        }
        let _ = atomic_label::analyze(&split(&text).unwrap_or_default());
        let _ = validate_name(&text);
    }

    #[test]
    fn valid_names_pass_and_default_names_of_plain_refs_are_valid(
        name in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}",
        tag in "[a-z0-9]{1,8}",
    ) {
        prop_assert!(validate_name(&name).is_ok());
        let image = format!("registry.example:5000/ns/{name}:{tag}");
        prop_assert_eq!(default_name(&image, false), name.clone());
        prop_assert!(validate_name(&default_name(&image, true)).is_ok());
    }
}
