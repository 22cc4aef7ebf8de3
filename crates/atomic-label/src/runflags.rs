//! Reading a `docker run` / `podman run` command line as data.
//!
//! atomic looks inside the commands it runs: to warn about host access ([`crate::privilege`])
//! and to find the container name a label sets (`--replace`). The original did both with
//! substring tests on the joined string, which missed `--net host` and matched
//! `echo --privileged` after the image. Here the argv is parsed the way the engines' flag
//! parsers (Go's pflag) read it: options up to the first positional word (the image), a table
//! of the options that take a value, `--flag=value`, grouped short flags, `--`.

/// Global options of docker and podman that take a value (they come before the subcommand).
const GLOBAL_WITH_VALUE: &[&str] = &[
    // docker
    "-H",
    "--host",
    "--config",
    "-c",
    "--context",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    // podman
    "--root",
    "--runroot",
    "--storage-driver",
    "--storage-opt",
    "--cgroup-manager",
    "--runtime",
    "--conmon",
    "--network-cmd-path",
    "--events-backend",
    "--url",
    "--connection",
    "--identity",
    "--tmpdir",
    "--module",
    "--cni-config-dir",
    "--network-config-dir",
    "--volumepath",
    "--imagestore",
    "--hooks-dir",
    "--runtime-flag",
    "--ssh",
    "--db-backend",
    "--out",
];

/// Locate the subcommand in a docker/podman argv: skip `argv[0]` and the global options
/// (with their values). Returns the index of the subcommand word.
pub fn subcommand(argv: &[String]) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let word = argv[i].as_str();
        if word == "--" {
            return (i + 1 < argv.len()).then_some(i + 1);
        }
        if !word.starts_with('-') || word == "-" {
            return Some(i);
        }
        let takes_value = if word.starts_with("--") {
            !word.contains('=') && GLOBAL_WITH_VALUE.contains(&word)
        } else {
            // `-H host` takes the next word; `-Hhost` holds its value.
            word.len() == 2 && GLOBAL_WITH_VALUE.contains(&word)
        };
        i += if takes_value { 2 } else { 1 };
    }
    None
}

/// The words after `run`/`create`: the options, the image and the command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunArgs {
    pub options: Vec<RunOpt>,
    pub image: Option<String>,
    pub command: Vec<String>,
}

/// One option before the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOpt {
    /// Canonical long form, e.g. `--volume` for `-v`, `--network` for `--net`; an unknown
    /// short flag stays as written (`-x`).
    pub flag: String,
    /// The value: required for flags that take one; `Some("false")` for `--rm=false`; `None`
    /// for a plain boolean.
    pub value: Option<String>,
    /// The option as written: `--net=host`, `-v /:/host`, `-i` (from `-it`).
    pub written: String,
}

/// Long options of `run`/`create` (docker and podman) that take a value.
const LONG_WITH_VALUE: &[&str] = &[
    "add-host",
    "annotation",
    "arch",
    "attach",
    "authfile",
    "blkio-weight",
    "blkio-weight-device",
    "cap-add",
    "cap-drop",
    "cert-dir",
    "cgroup-conf",
    "cgroup-parent",
    "cgroupns",
    "cgroups",
    "chrootdirs",
    "cidfile",
    "conmon-pidfile",
    "cpu-count",
    "cpu-percent",
    "cpu-period",
    "cpu-quota",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-shares",
    "cpus",
    "cpuset-cpus",
    "cpuset-mems",
    "creds",
    "decryption-key",
    "detach-keys",
    "device",
    "device-cgroup-rule",
    "device-read-bps",
    "device-read-iops",
    "device-write-bps",
    "device-write-iops",
    "dns",
    "dns-option",
    "dns-search",
    "domainname",
    "entrypoint",
    "env",
    "env-file",
    "expose",
    "gidmap",
    "gpus",
    "group-add",
    "group-entry",
    "health-cmd",
    "health-interval",
    "health-log-destination",
    "health-max-log-count",
    "health-max-log-size",
    "health-on-failure",
    "health-retries",
    "health-start-interval",
    "health-start-period",
    "health-startup-cmd",
    "health-startup-interval",
    "health-startup-retries",
    "health-startup-success",
    "health-startup-timeout",
    "health-timeout",
    "hooks-dir",
    "hostname",
    "hostuser",
    "image-volume",
    "init-path",
    "io-maxbandwidth",
    "io-maxiops",
    "ip",
    "ip6",
    "ipc",
    "isolation",
    "kernel-memory",
    "label",
    "label-file",
    "link",
    "link-local-ip",
    "log-driver",
    "log-opt",
    "mac-address",
    "memory",
    "memory-reservation",
    "memory-swap",
    "memory-swappiness",
    "mount",
    "name",
    "network",
    "network-alias",
    "oom-score-adj",
    "os",
    "passwd-entry",
    "personality",
    "pid",
    "pidfile",
    "pids-limit",
    "platform",
    "pod",
    "pod-id-file",
    "preserve-fd",
    "preserve-fds",
    "publish",
    "pull",
    "rdt-class",
    "requires",
    "restart",
    "retry",
    "retry-delay",
    "runtime",
    "sdnotify",
    "seccomp-policy",
    "secret",
    "security-opt",
    "shm-size",
    "shm-size-systemd",
    "stop-signal",
    "stop-timeout",
    "storage-opt",
    "subgidname",
    "subuidname",
    "sysctl",
    "systemd",
    "timeout",
    "tmpfs",
    "tz",
    "uidmap",
    "ulimit",
    "umask",
    "unsetenv",
    "user",
    "userns",
    "uts",
    "variant",
    "volume",
    "volume-driver",
    "volumes-from",
    "workdir",
];

/// Alternative spellings and their canonical long names.
const ALIASES: &[(&str, &str)] = &[
    ("net", "network"),
    ("net-alias", "network-alias"),
    ("dns-opt", "dns-option"),
];

/// Short flags and their long names; the value-taking ones are in [`LONG_WITH_VALUE`].
const SHORT: &[(char, &str)] = &[
    ('a', "attach"),
    ('c', "cpu-shares"),
    ('d', "detach"),
    ('e', "env"),
    ('h', "hostname"),
    ('i', "interactive"),
    ('l', "label"),
    ('m', "memory"),
    ('P', "publish-all"),
    ('p', "publish"),
    ('q', "quiet"),
    ('t', "tty"),
    ('u', "user"),
    ('v', "volume"),
    ('w', "workdir"),
];

fn canonical_long(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canon)| canon)
}

fn long_takes_value(canonical: &str) -> bool {
    LONG_WITH_VALUE.contains(&canonical)
}

/// Parse the words after `run`/`create`: options until the first positional word (the
/// image), then the command. Handles `--flag=value`, `--flag value`, `-v value`, `-vVALUE`,
/// grouped short booleans (`-it`, `-dit`, `-itv /x:/y`), `--` ending the options, and
/// `--rm=true`/`--privileged=false`. An unknown `--long` flag without `=`, or an unknown
/// short flag, is taken as a boolean.
pub fn parse_run(words: &[String]) -> RunArgs {
    let mut args = RunArgs::default();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let flag = canonical_long(name);
            let (value, written) = match inline {
                Some(v) => (Some(v), word.clone()),
                None if long_takes_value(flag) => match words.get(i) {
                    Some(v) => {
                        i += 1;
                        (Some(v.clone()), format!("{word} {v}"))
                    }
                    None => (None, word.clone()),
                },
                None => (None, word.clone()),
            };
            args.options.push(RunOpt {
                flag: format!("--{flag}"),
                value,
                written,
            });
            continue;
        }
        if word.len() > 1 && word.starts_with('-') {
            i = parse_short_group(word, words, i, &mut args.options);
            continue;
        }
        // The first positional word is the image.
        args.image = Some(word.clone());
        break;
    }
    if args.image.is_none() && i < words.len() {
        args.image = Some(words[i].clone());
        i += 1;
    }
    args.command = words[i..].to_vec();
    args
}

/// `-dit`, `-v/x:/y`, `-itv /x:/y`: each character a flag until one takes a value, which is
/// the rest of the word or else the next word. Returns the index of the next word to read.
fn parse_short_group(
    word: &str,
    words: &[String],
    mut next: usize,
    out: &mut Vec<RunOpt>,
) -> usize {
    let body = &word[1..];
    for (pos, c) in body.char_indices() {
        let long = SHORT.iter().find(|(s, _)| *s == c).map(|(_, l)| *l);
        let flag = long.map_or_else(|| format!("-{c}"), |l| format!("--{l}"));
        if long.is_some_and(long_takes_value) {
            let rest = &body[pos + c.len_utf8()..];
            let (value, written) = if let Some(rest) = rest.strip_prefix('=') {
                (Some(rest.to_string()), format!("-{c}={rest}"))
            } else if !rest.is_empty() {
                (Some(rest.to_string()), format!("-{c}{rest}"))
            } else if let Some(v) = words.get(next) {
                next += 1;
                (Some(v.clone()), format!("-{c} {v}"))
            } else {
                (None, format!("-{c}"))
            };
            out.push(RunOpt {
                flag,
                value,
                written,
            });
            return next;
        }
        out.push(RunOpt {
            flag,
            value: None,
            written: format!("-{c}"),
        });
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn subcommand_skips_global_options() {
        let cases: &[(&str, Option<usize>)] = &[
            ("docker run x", Some(1)),
            ("docker -H unix:///x.sock run x", Some(3)),
            ("docker --host=tcp://h run x", Some(2)),
            ("docker -Htcp://h run x", Some(2)),
            ("docker -D --tls --tlsverify run x", Some(4)),
            ("docker --config /c -c ctx -l debug create x", Some(7)),
            ("docker --tlscacert a --tlscert b --tlskey c run", Some(7)),
            (
                "podman --root /r --runroot /rr --storage-driver overlay run x",
                Some(7),
            ),
            ("podman --syslog --remote --url unix:///s run", Some(5)),
            (
                "podman --log-level=debug --cgroup-manager cgroupfs run",
                Some(4),
            ),
            (
                "podman --connection c --identity i --tmpdir /t --events-backend file ps",
                Some(9),
            ),
            (
                "podman --runtime crun --conmon /c --network-cmd-path /n --storage-opt o run",
                Some(9),
            ),
            ("docker -- run", Some(2)),
            ("docker", None),
            ("docker -D", None),
            ("docker --host", None),
        ];
        for (argv, want) in cases {
            assert_eq!(subcommand(&v(argv)), *want, "{argv:?}");
        }
    }

    fn opts(args: &RunArgs) -> Vec<(String, Option<String>)> {
        args.options
            .iter()
            .map(|o| (o.flag.clone(), o.value.clone()))
            .collect()
    }

    fn o(flag: &str, value: Option<&str>) -> (String, Option<String>) {
        (flag.to_string(), value.map(str::to_string))
    }

    #[test]
    fn parse_run_reads_options_image_and_command() {
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, Option<&'a str>)],
            Option<&'a str>,
            &'a str,
        );
        let cases: &[Case] = &[
            (
                "-it fedora bash",
                &[("--interactive", None), ("--tty", None)],
                Some("fedora"),
                "bash",
            ),
            (
                "-dit --rm=true --name=x img",
                &[
                    ("--detach", None),
                    ("--interactive", None),
                    ("--tty", None),
                    ("--rm", Some("true")),
                    ("--name", Some("x")),
                ],
                Some("img"),
                "",
            ),
            (
                "-v /:/host --net host img",
                &[("--volume", Some("/:/host")), ("--network", Some("host"))],
                Some("img"),
                "",
            ),
            (
                "-v/:/host img",
                &[("--volume", Some("/:/host"))],
                Some("img"),
                "",
            ),
            (
                "-itv /a:/b img",
                &[
                    ("--interactive", None),
                    ("--tty", None),
                    ("--volume", Some("/a:/b")),
                ],
                Some("img"),
                "",
            ),
            ("-e=A=b img", &[("--env", Some("A=b"))], Some("img"), ""),
            (
                "--privileged=false img",
                &[("--privileged", Some("false"))],
                Some("img"),
                "",
            ),
            (
                "--unknown-flag img x",
                &[("--unknown-flag", None)],
                Some("img"),
                "x",
            ),
            (
                "--unknown=v img",
                &[("--unknown", Some("v"))],
                Some("img"),
                "",
            ),
            ("-Z img", &[("-Z", None)], Some("img"), ""),
            ("-- img --privileged", &[], Some("img"), "--privileged"),
            (
                "img echo --privileged -v /:/x",
                &[],
                Some("img"),
                "echo --privileged -v /:/x",
            ),
            (
                "--entrypoint /bin/sh img -c x",
                &[("--entrypoint", Some("/bin/sh"))],
                Some("img"),
                "-c x",
            ),
            (
                "--user 0 -w /tmp -h h img",
                &[
                    ("--user", Some("0")),
                    ("--workdir", Some("/tmp")),
                    ("--hostname", Some("h")),
                ],
                Some("img"),
                "",
            ),
            (
                "--cap-add SYS_ADMIN img",
                &[("--cap-add", Some("SYS_ADMIN"))],
                Some("img"),
                "",
            ),
            ("--name", &[("--name", None)], None, ""),
            (
                "-p 80:80 --pod p --uidmap 0:1:1 img",
                &[
                    ("--publish", Some("80:80")),
                    ("--pod", Some("p")),
                    ("--uidmap", Some("0:1:1")),
                ],
                Some("img"),
                "",
            ),
            (
                "--health-cmd true --memory-swap 1g --cpu-period 5 img",
                &[
                    ("--health-cmd", Some("true")),
                    ("--memory-swap", Some("1g")),
                    ("--cpu-period", Some("5")),
                ],
                Some("img"),
                "",
            ),
            ("--rootfs /r cmd", &[("--rootfs", None)], Some("/r"), "cmd"),
            ("", &[], None, ""),
        ];
        for (words, want_opts, image, command) in cases {
            let got = parse_run(&v(words));
            let want: Vec<_> = want_opts.iter().map(|(f, val)| o(f, *val)).collect();
            assert_eq!(opts(&got), want, "options of {words:?}");
            assert_eq!(got.image.as_deref(), *image, "image of {words:?}");
            assert_eq!(got.command, v(command), "command of {words:?}");
        }
    }

    #[test]
    fn written_keeps_the_original_spelling() {
        let got = parse_run(&v("--net=host -v /:/host -itv/a:/b --cap-add ALL img"));
        let written: Vec<_> = got.options.iter().map(|o| o.written.as_str()).collect();
        assert_eq!(
            written,
            [
                "--net=host",
                "-v /:/host",
                "-i",
                "-t",
                "-v/a:/b",
                "--cap-add ALL"
            ]
        );
    }
}
