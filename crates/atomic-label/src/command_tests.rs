//! Tables for [`super`]: the original's label cases, Podman's runlabel cases, quoting,
//! defaults, splitting of option variables, and injection attempts.

use super::*;

/// The values a test builds with.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    name: &'a str,
    image: &'a str,
    opts: [Option<&'a str>; 3],
    run_opts: Option<&'a str>,
    env: &'a [(&'a str, &'a str)],
}

const CTX: Ctx<'static> = Ctx {
    name: "foo",
    image: "fedora",
    opts: [None, None, None],
    run_opts: None,
    env: &[
        ("SUDO_UID", "1000"),
        ("SUDO_GID", "1001"),
        ("PWD", "/home/me"),
        ("EMPTY", ""),
        ("SPACES", "a b  c"),
    ],
};

fn build_with(label: &str, ctx: Ctx, extra: &[&str]) -> Result<Vec<String>, LabelError> {
    let lookup = |k: &str| {
        ctx.env
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    };
    let vars = Vars {
        name: ctx.name,
        image: ctx.image,
        opts: ctx.opts,
        run_opts: ctx.run_opts,
        lookup: &lookup,
    };
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    build(&parse(label)?, &vars, &extra)
}

fn check(cases: &[(&str, Ctx, &[&str])]) {
    for (label, ctx, want) in cases {
        let got = build_with(label, *ctx, &[]);
        assert_eq!(
            got.as_deref().map_err(|e| e.to_string()),
            Ok(&want.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]),
            "label {label:?}"
        );
    }
}

const ATOMIC_TEST_1: &str = "/usr/bin/docker run -t --user ${SUDO_UID}:${SUDO_GID} ${OPT1} \
    -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 --name ${NAME} ${IMAGE} \
    $OPT3 echo I am the run label.";

#[test]
fn original_test_images() {
    let opts = Ctx {
        opts: [Some("-d --rm"), Some("-e 'X=a b'"), Some("")],
        ..CTX
    };
    let test6 = Ctx {
        name: "TEST6",
        image: "centos",
        ..CTX
    };
    check(&[
        (
            "docker run -i --name ${NAME} ${IMAGE} /bin/ls",
            test6,
            &[
                "docker", "run", "-i", "--name", "TEST6", "centos", "/bin/ls",
            ],
        ),
        (
            "docker run -i --name NAME IMAGE /bin/ls",
            test6,
            &[
                "docker", "run", "-i", "--name", "TEST6", "centos", "/bin/ls",
            ],
        ),
        (
            ATOMIC_TEST_1,
            CTX,
            &[
                "/usr/bin/docker",
                "run",
                "-t",
                "--user",
                "1000:1001",
                "-v",
                "/var/log/foo:/var/log",
                "-v",
                "/var/lib/foo:/var/lib",
                "--name",
                "foo",
                "fedora",
                "echo",
                "I",
                "am",
                "the",
                "run",
                "label.",
            ],
        ),
        (
            ATOMIC_TEST_1,
            opts,
            &[
                "/usr/bin/docker",
                "run",
                "-t",
                "--user",
                "1000:1001",
                "-d",
                "--rm",
                "-v",
                "/var/log/foo:/var/log",
                "-v",
                "/var/lib/foo:/var/lib",
                "-e",
                "X=a b",
                "--name",
                "foo",
                "fedora",
                "echo",
                "I",
                "am",
                "the",
                "run",
                "label.",
            ],
        ),
        ("printenv", CTX, &["printenv"]),
        (
            "docker run -e NAME=NAME -e IMAGE=IMAGE IMAGE",
            CTX,
            &[
                "docker",
                "run",
                "-e",
                "NAME=foo",
                "-e",
                "IMAGE=fedora",
                "fedora",
            ],
        ),
        (
            "docker run -v ${PWD}:/src:Z IMAGE",
            CTX,
            &["docker", "run", "-v", "/home/me:/src:Z", "fedora"],
        ),
    ]);
}

#[test]
fn defaults_work_unlike_the_original() {
    // The original turned `-e FOO="${FOO:-bar}"` into `-e FOO="` and then failed.
    check(&[
        (r#"-e FOO="${FOO:-bar}""#, CTX, &["-e", "FOO=bar"]),
        ("-e FOO=${FOO:-bar}", CTX, &["-e", "FOO=bar"]),
        ("x ${EMPTY:-d}", CTX, &["x", "d"]),
        ("x ${EMPTY-d}", CTX, &["x"]),
        ("x ${UNSET-d}", CTX, &["x", "d"]),
        ("x ${SUDO_UID:-d}", CTX, &["x", "1000"]),
        ("x ${UNSET:-$SUDO_UID}", CTX, &["x", "1000"]),
        ("x ${UNSET:-${UNSET2:-deep}}", CTX, &["x", "deep"]),
        ("x ${UNSET:-a b}", CTX, &["x", "a b"]),
        (r#"x "${UNSET:-a  b}""#, CTX, &["x", "a  b"]),
        (r#"x "${UNSET:-it's}""#, CTX, &["x", "it's"]),
        (r#"x ${UNSET:-"}"}"#, CTX, &["x", "}"]),
        ("x ${UNSET:-}", CTX, &["x"]),
        (r#"x "${UNSET:-}""#, CTX, &["x", ""]),
        ("x ${UNSET:-$SPACES}", CTX, &["x", "a b  c"]),
        ("x ${OPT1:--d -t}", CTX, &["x", "-d", "-t"]),
        ("x ${OPT1:-'a b' c}", CTX, &["x", "a b", "c"]),
        ("x ${OPT1:-$SPACES}", CTX, &["x", "a b  c"]),
        ("x ${OPT1:-$OPT2} y", CTX, &["x", "y"]),
        ("x --o=${OPT1:--d -t}", CTX, &["x", "--o=-d -t"]),
        (r#"x "${OPT1:--d -t}""#, CTX, &["x", "-d -t"]),
        ("x ${RUN_OPTS:---rm}", CTX, &["x", "--rm"]),
    ]);
}

#[test]
fn variables_and_quoting() {
    check(&[
        ("a $UNSET b", CTX, &["a", "b"]),
        ("a ${UNSET} b", CTX, &["a", "b"]),
        ("a $EMPTY b", CTX, &["a", "b"]),
        (r#"a "$UNSET" b"#, CTX, &["a", "", "b"]),
        ("a ''$UNSET b", CTX, &["a", "", "b"]),
        ("a x$UNSET b", CTX, &["a", "x", "b"]),
        ("a $SPACES b", CTX, &["a", "a b  c", "b"]),
        (r#"a "$SPACES" b"#, CTX, &["a", "a b  c", "b"]),
        ("a '$SPACES' b", CTX, &["a", "$SPACES", "b"]),
        (r"a \$SPACES b", CTX, &["a", "$SPACES", "b"]),
        (r#"a "\$SPACES" b"#, CTX, &["a", "$SPACES", "b"]),
        ("a $SUDO_UID$SUDO_GID", CTX, &["a", "10001001"]),
        ("a ${SUDO_UID}x", CTX, &["a", "1000x"]),
        ("a $SUDO_UIDx", CTX, &["a"]),
        ("a $ b", CTX, &["a", "$", "b"]),
        ("a $1 $$ $-", CTX, &["a", "$1", "$$", "$-"]),
        ("a cost$", CTX, &["a", "cost$"]),
        ("a '#' #b", CTX, &["a", "#", "#b"]),
        ("a\\\n b", CTX, &["a", "b"]),
        ("a 'multi\nline'", CTX, &["a", "multi\nline"]),
    ]);
}

#[test]
fn podman_runlabel_token_cases() {
    // containers/podman pkg/domain/infra/abi/containers_runlabel_test.go
    check(&[
        ("x NAME=NAME", CTX, &["x", "NAME=foo"]),
        ("x NAME=NAMEFOO", CTX, &["x", "NAME=NAMEFOO"]),
        ("x FNAME", CTX, &["x", "FNAME"]),
        ("x NAMEFOO", CTX, &["x", "NAMEFOO"]),
        ("x --name=NAME", CTX, &["x", "--name=foo"]),
        ("x --name NAME", CTX, &["x", "--name", "foo"]),
        ("x $NAME ${NAME}", CTX, &["x", "foo", "foo"]),
        (r#"x "This is my NAME""#, CTX, &["x", "This is my NAME"]),
        ("x IMAGE=IMAGE", CTX, &["x", "IMAGE=fedora"]),
        ("x --image=IMAGE", CTX, &["x", "--image=fedora"]),
        ("x IMAGEFOO", CTX, &["x", "IMAGEFOO"]),
        ("x 'NAME' \"IMAGE\"", CTX, &["x", "foo", "fedora"]),
        ("x --label=$SUDO_UID=NAME", CTX, &["x", "--label=1000=foo"]),
        (
            r#"["x", "--name=NAME", "IMAGE", "NAMEFOO"]"#,
            CTX,
            &["x", "--name=foo", "fedora", "NAMEFOO"],
        ),
    ]);
}

#[test]
fn option_variables_split_only_alone_and_unquoted() {
    let ctx = Ctx {
        opts: [Some("-a 'b c'"), Some("  "), Some("one")],
        run_opts: Some("--hostname foo -e \"A=b c\"\n--rm\n"),
        ..CTX
    };
    check(&[
        (
            "x $RUN_OPTS y",
            ctx,
            &["x", "--hostname", "foo", "-e", "A=b c", "--rm", "y"],
        ),
        (
            "x ${RUN_OPTS} y",
            ctx,
            &["x", "--hostname", "foo", "-e", "A=b c", "--rm", "y"],
        ),
        ("x $OPT1 $OPT2 $OPT3", ctx, &["x", "-a", "b c", "one"]),
        (r#"x "$OPT1""#, ctx, &["x", "-a 'b c'"]),
        ("x --o=$OPT1", ctx, &["x", "--o=-a 'b c'"]),
        ("x $RUN_OPTS", CTX, &["x"]),
        (r#"["x", "$OPT1", "y"]"#, ctx, &["x", "-a", "b c", "y"]),
    ]);
    // A value is split without expansion: `$HOME` in it stays literal.
    let literal = Ctx {
        opts: [Some("-e X=$SUDO_UID '$(id)'"), None, None],
        ..CTX
    };
    check(&[("x $OPT1", literal, &["x", "-e", "X=$SUDO_UID", "$(id)"])]);
}

#[test]
fn unbalanced_option_value_names_the_variable() {
    let cases: &[(&str, Ctx, &str)] = &[
        (
            "x $RUN_OPTS",
            Ctx {
                run_opts: Some("-e \"A=b"),
                ..CTX
            },
            "unterminated double quote in the value of RUN_OPTS starting at column 4",
        ),
        (
            "x $OPT2",
            Ctx {
                opts: [None, Some("it's"), None],
                ..CTX
            },
            "unterminated single quote in the value of OPT2 starting at column 3",
        ),
        (
            "x $OPT3",
            Ctx {
                opts: [None, None, Some("a\\")],
                ..CTX
            },
            "trailing backslash in the value of OPT3 at column 2",
        ),
    ];
    for (label, ctx, want) in cases {
        let err = build_with(label, *ctx, &[]).unwrap_err().to_string();
        assert!(err.starts_with(want), "{label:?}: {err}");
    }
}

#[test]
fn injection_stays_literal() {
    let nasty = [
        "; rm -rf /",
        "$(id)",
        "`id`",
        "a\"b'c",
        "line1\nline2",
        "$HOME",
        "${HOME}",
        " --privileged ",
        "",
        "'",
        "\\",
    ];
    for value in nasty {
        let ctx = Ctx {
            image: if value.is_empty() { "x" } else { value },
            env: &[("EVIL", value)],
            ..CTX
        };
        let image = ctx.image;
        let got = build_with(
            r#"docker run ${IMAGE} IMAGE "$EVIL" -e E=$EVIL"#,
            ctx,
            &[value, "--", value],
        )
        .unwrap();
        let want = vec![
            "docker".to_string(),
            "run".into(),
            image.into(),
            image.into(),
            value.into(),
            "-e".into(),
            format!("E={value}"),
            value.into(),
            "--".into(),
            value.into(),
        ];
        assert_eq!(got, want, "value {value:?}");
    }
    // NAME is validated before use.
    for name in ["a b", "x;id", "$(id)", "../etc", "-rm", ""] {
        let ctx = Ctx { name, ..CTX };
        let err = build_with("docker run --name NAME IMAGE", ctx, &[]).unwrap_err();
        assert!(matches!(err, LabelError::InvalidName { .. }), "{name:?}");
    }
}

#[test]
fn extra_arguments_are_appended_verbatim() {
    let got = build_with("echo NAME", CTX, &["NAME", "$HOME", "a b", ""]).unwrap();
    assert_eq!(got, ["echo", "foo", "NAME", "$HOME", "a b", ""]);
}

#[test]
fn json_labels_are_exact_words() {
    check(&[
        (
            r##"["/bin/echo", "a b", "'q'", "\\n", "#"]"##,
            CTX,
            &["/bin/echo", "a b", "'q'", "\\n", "#"],
        ),
        (
            r#"  ["echo", "${SUDO_UID}:$SUDO_GID", "$UNSET", ""]  "#,
            CTX,
            &["echo", "1000:1001", ""],
        ),
        (r#"["echo", "${UNSET:-a b}"]"#, CTX, &["echo", "a b"]),
        (r#"["echo", "x$SPACES"]"#, CTX, &["echo", "xa b  c"]),
        ("[ -f /etc/x ]", CTX, &["[", "-f", "/etc/x", "]"]),
    ]);
    assert!(parse(r#"["a"]"#).unwrap().is_exec_form());
    assert!(!parse("a").unwrap().is_exec_form());
}

#[test]
fn parse_errors_say_what_and_where() {
    let cases: &[(&str, &str)] = &[
        ("", "label is empty"),
        ("  \n\t ", "label is empty"),
        ("\\\n", "label is empty"),
        ("[]", "label is empty"),
        (
            "docker run -e FOO=\"bar baz",
            "unterminated double quote in label text starting at column 19",
        ),
        (
            "docker run 'x",
            "unterminated single quote in label text starting at column 12",
        ),
        (
            "docker run x\\",
            "trailing backslash in label text at column 13",
        ),
        (
            "a\nb ${X",
            "unterminated \"${\" in label text starting at line 2, column 3",
        ),
        (
            "a ${X:-b",
            "unterminated \"${\" in label text starting at column 3",
        ),
        (
            "a ${X:-'}",
            "unterminated \"${\" in label text starting at column 3",
        ),
        (
            "a ${}",
            "invalid variable reference \"${}\" in label text at column 3",
        ),
        (
            "a ${1x}",
            "invalid variable reference \"${1x}\" in label text at column 3",
        ),
        (
            "a ${A B}",
            "invalid variable reference \"${A B}\" in label text at column 3",
        ),
        ("a ${A:=b}", "invalid variable reference \"${A:=b}\""),
        ("a ${A+b}", "invalid variable reference \"${A+b}\""),
        ("a \"${-}\"", "invalid variable reference \"${-}\""),
        (
            r#"["a", 1]"#,
            "label text starts with \"[\" but is not a JSON array of strings (element 2 is 1",
        ),
        (
            r#"["a", "b""#,
            "label text starts with \"[\" but is not a JSON array of strings",
        ),
        (r#"[ "a" ] x"#, "label text starts with \"[\""),
        (
            r#"["a ${X"]"#,
            "unterminated \"${\" in element 1 of the label's JSON array starting at column 3",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with(want),
            "{text:?}: got {err:?}, want {want:?}"
        );
    }
}

#[test]
fn a_label_that_expands_to_nothing_is_an_error() {
    let err = build_with("$UNSET $OPT1", CTX, &["extra"]).unwrap_err();
    assert_eq!(err, LabelError::NothingToRun);
}

#[test]
fn expand_one_substitutes_without_splitting_or_quotes() {
    let cases: &[(&str, &str)] = &[
        ("/etc/${NAME}/opts", "/etc/foo/opts"),
        ("/etc/$NAME/opts", "/etc/foo/opts"),
        ("/run/$SUDO_UID/${UNSET:-d}", "/run/1000/d"),
        ("/a b/'c'", "/a b/'c'"),
        ("/x/$UNSET/y", "/x//y"),
        ("NAME", "NAME"),
        ("", ""),
    ];
    let lookup = |k: &str| {
        CTX.env
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    };
    let vars = Vars {
        name: "foo",
        image: "fedora",
        opts: [None; 3],
        run_opts: None,
        lookup: &lookup,
    };
    for (text, want) in cases {
        assert_eq!(expand_one(text, &vars).unwrap(), *want, "{text:?}");
    }
    assert!(expand_one("/x/${Y", &vars).is_err());
}

#[test]
fn template_accessors() {
    let t = parse("/usr/bin/docker run x").unwrap();
    assert_eq!(t.program().as_deref(), Some("/usr/bin/docker"));
    assert_eq!(t.len(), 3);
    assert!(!t.is_empty());
    assert_eq!(parse("$X run").unwrap().program(), None);
}
