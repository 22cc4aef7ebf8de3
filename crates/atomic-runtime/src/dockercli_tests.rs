use super::*;
use oci_spec::runtime::PosixRlimitType;
use std::path::PathBuf;

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn run(s: &str) -> RunRequest {
    match parse(&argv(&format!("docker run {s}"))) {
        Ok(DockerCommand::Run(r)) => *r,
        other => panic!("{s:?}: {other:?}"),
    }
}

fn run_err(s: &str) -> CliError {
    parse(&argv(&format!("docker run {s}"))).expect_err(s)
}

#[test]
fn run_flags_set_typed_fields() {
    type Check = fn(&RunRequest) -> bool;
    let cases: &[(&str, Check)] = &[
        ("-dit img", |r| r.detach && r.interactive && r.tty),
        ("-d --detach=false img", |r| !r.detach),
        ("--rm img", |r| r.remove),
        ("--rm=false img", |r| !r.remove),
        ("--rm=true img", |r| r.remove),
        ("--name x img", |r| r.name.as_deref() == Some("x")),
        ("--name=x img", |r| r.name.as_deref() == Some("x")),
        ("--privileged img", |r| r.privileged),
        ("--net=host img", |r| r.network == NetworkMode::Host),
        ("--net host img", |r| r.network == NetworkMode::Host),
        ("--network none img", |r| r.network == NetworkMode::None),
        ("--network=bridge img", |r| r.network == NetworkMode::Bridge),
        ("img", |r| r.network == NetworkMode::Bridge && !r.pid_host),
        ("--net mynet img", |r| {
            r.network == NetworkMode::Named("mynet".into())
        }),
        ("--network container:db img", |r| {
            r.network == NetworkMode::Container("db".into())
        }),
        ("-p 127.0.0.1:8080:80/udp -P --expose 9000-9001 img", |r| {
            r.net.publish.len() == 1 && r.net.publish_all && r.net.expose.len() == 2
        }),
        (
            "--dns 1.1.1.1 --dns-search a.example --dns-opt ndots:2 --add-host db:10.0.0.9 img",
            |r| {
                r.net.dns.len() == 1
                    && r.net.dns_search == ["a.example"]
                    && r.net.dns_options == ["ndots:2"]
                    && r.net.add_hosts == [("db".to_string(), "10.0.0.9".to_string())]
            },
        ),
        (
            "--net n --ip 10.91.0.9 --mac-address 02:42:AC:11:00:02 --network-alias w img",
            |r| {
                r.net.ip == Some("10.91.0.9".parse().unwrap())
                    && r.net.mac.as_deref() == Some("02:42:ac:11:00:02")
                    && r.net.aliases == ["w"]
            },
        ),
        ("--pid=host --ipc host --uts=host img", |r| {
            r.pid_host && r.ipc_host && r.uts_host
        }),
        ("--ipc shareable img", |r| !r.ipc_host),
        ("--userns host img", |_| true),
        ("--userns= img", |_| true),
        ("-e A=1 -e B --env=C=x=y img", |r| {
            r.env
                == [
                    EnvEntry::Set("A".into(), "1".into()),
                    EnvEntry::FromHost("B".into()),
                    EnvEntry::Set("C".into(), "x=y".into()),
                ]
        }),
        ("--env-file /e -e A=1 img", |r| {
            r.env
                == [
                    EnvEntry::File("/e".into()),
                    EnvEntry::Set("A".into(), "1".into()),
                ]
        }),
        (
            "--cap-add sys_admin --cap-add=CAP_NET_ADMIN,all --cap-drop MKNOD img",
            |r| {
                r.cap_add == ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "ALL"]
                    && r.cap_drop == ["CAP_MKNOD"]
            },
        ),
        ("--security-opt label=disable img", |r| {
            r.security.label_disable
        }),
        (
            "--security-opt label=type:spc_t --security-opt label=level:s0:c1 img",
            |r| {
                r.security.label_type.as_deref() == Some("spc_t")
                    && r.security.label_level.as_deref() == Some("s0:c1")
            },
        ),
        (
            "--security-opt label=user:u --security-opt label=role:r img",
            |r| {
                r.security.label_user.as_deref() == Some("u")
                    && r.security.label_role.as_deref() == Some("r")
            },
        ),
        ("--security-opt seccomp=unconfined img", |r| {
            r.security.seccomp == SeccompOpt::Unconfined
        }),
        ("--security-opt seccomp=/p.json img", |r| {
            r.security.seccomp == SeccompOpt::Profile("/p.json".into())
        }),
        ("--security-opt no-new-privileges img", |r| {
            r.security.no_new_privileges
        }),
        ("--security-opt no-new-privileges=true img", |r| {
            r.security.no_new_privileges
        }),
        ("--security-opt no-new-privileges:false img", |r| {
            !r.security.no_new_privileges
        }),
        ("--security-opt apparmor=unconfined img", |_| true),
        ("-u 1000:1000 -w /tmp img", |r| {
            r.user.as_deref() == Some("1000:1000") && r.workdir.as_deref() == Some("/tmp")
        }),
        ("--user=nobody --workdir=/w img", |r| {
            r.user.as_deref() == Some("nobody")
        }),
        ("--entrypoint /bin/sh img -c x", |r| {
            r.entrypoint.as_deref() == Some("/bin/sh") && r.command == ["-c", "x"]
        }),
        ("--entrypoint= img", |r| r.entrypoint.as_deref() == Some("")),
        ("--hostname h img", |r| r.hostname.as_deref() == Some("h")),
        ("-h h img", |r| r.hostname.as_deref() == Some("h")),
        ("--read-only img", |r| r.read_only),
        ("--init img", |r| r.init),
        ("-l a=b --label c img", |r| {
            r.labels == [("a".into(), "b".into()), ("c".into(), String::new())]
        }),
        ("--stop-signal SIGINT --stop-timeout 5 img", |r| {
            r.stop_signal.as_deref() == Some("SIGINT") && r.stop_timeout == Some(5)
        }),
        ("--ulimit nofile=1024:2048 --ulimit core=-1 img", |r| {
            r.ulimits
                == [
                    Ulimit {
                        kind: PosixRlimitType::RlimitNofile,
                        soft: 1024,
                        hard: 2048,
                    },
                    Ulimit {
                        kind: PosixRlimitType::RlimitCore,
                        soft: u64::MAX,
                        hard: u64::MAX,
                    },
                ]
        }),
        ("--restart always img", |r| {
            r.restart == RestartPolicy::Always
        }),
        ("--restart=unless-stopped img", |r| {
            r.restart == RestartPolicy::UnlessStopped
        }),
        ("--restart on-failure img", |r| {
            r.restart == RestartPolicy::OnFailure { max_retries: None }
        }),
        ("--restart on-failure:3 img", |r| {
            r.restart
                == RestartPolicy::OnFailure {
                    max_retries: Some(3),
                }
        }),
        ("--restart no img", |r| r.restart == RestartPolicy::No),
        ("--device /dev/fuse img", |r| {
            r.devices
                == [DeviceRequest {
                    host: "/dev/fuse".into(),
                    container: "/dev/fuse".into(),
                    permissions: "rwm".into(),
                }]
        }),
        ("--device /dev/sda:/dev/xvda:r img", |r| {
            r.devices[0].container == "/dev/xvda" && r.devices[0].permissions == "r"
        }),
        ("--device /dev/sda:rw img", |r| {
            r.devices[0].container == "/dev/sda" && r.devices[0].permissions == "rw"
        }),
        ("img echo --privileged", |r| {
            !r.privileged && r.image == "img" && r.command == ["echo", "--privileged"]
        }),
    ];
    for (args, check) in cases {
        assert!(check(&run(args)), "{args:?}: {:?}", run(args));
    }
}

fn bind(src: &str, create: bool, prop: Option<Propagation>, relabel: Option<Relabel>) -> MountKind {
    MountKind::Bind {
        source: PathBuf::from(src),
        create_source: create,
        propagation: prop,
        relabel,
    }
}

#[test]
fn mount_forms() {
    let tmpfs = |o: &[&str]| MountKind::Tmpfs {
        options: o.iter().map(|s| s.to_string()).collect(),
    };
    let cases: &[(&str, &str, bool, MountKind)] = &[
        ("-v /:/host", "/host", false, bind("/", true, None, None)),
        (
            "--volume=/a:/b:ro",
            "/b",
            true,
            bind("/a", true, None, None),
        ),
        (
            "-v /a:/b:ro,Z",
            "/b",
            true,
            bind("/a", true, None, Some(Relabel::Private)),
        ),
        (
            "-v /a:/b:rw,z,nocopy",
            "/b",
            false,
            bind("/a", true, None, Some(Relabel::Shared)),
        ),
        (
            "-v /a:/b:rshared",
            "/b",
            false,
            bind("/a", true, Some(Propagation::Rshared), None),
        ),
        (
            "-v /a:/b:slave",
            "/b",
            false,
            bind("/a", true, Some(Propagation::Slave), None),
        ),
        (
            "-v /a:/b:private,ro",
            "/b",
            true,
            bind("/a", true, Some(Propagation::Private), None),
        ),
        (
            "--mount type=bind,source=/a,target=/b,readonly",
            "/b",
            true,
            bind("/a", false, None, None),
        ),
        (
            "--mount type=bind,src=/a,dst=/b,ro=false,bind-propagation=rslave",
            "/b",
            false,
            bind("/a", false, Some(Propagation::Rslave), None),
        ),
        (
            "--mount type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1777",
            "/t",
            false,
            tmpfs(&["size=64m", "mode=1777"]),
        ),
        ("--tmpfs /run", "/run", false, tmpfs(&[])),
        (
            "--tmpfs /run:rw,size=1m,exec",
            "/run",
            false,
            tmpfs(&["size=1m", "exec"]),
        ),
        ("--tmpfs /ro:ro", "/ro", true, tmpfs(&[])),
    ];
    for (args, dst, ro, kind) in cases {
        let r = run(&format!("{args} img"));
        let want = MountRequest {
            destination: dst.to_string(),
            readonly: *ro,
            kind: kind.clone(),
        };
        assert_eq!(r.mounts, [want], "{args:?}");
    }
    let r = run("-v /a:/b --mount type=bind,src=/c,dst=/d img");
    assert_eq!(
        r.sources_to_create().collect::<Vec<_>>(),
        [std::path::Path::new("/a")]
    );
}

#[test]
fn run_link_is_a_name_and_an_alias() {
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let r = run("--link db:database --link=/cache --net mynet img");
    assert_eq!(
        r.net.links,
        pairs(&[("db", "database"), ("cache", "cache")])
    );
    assert_eq!(
        run("--link 0123abcd: img").net.links,
        pairs(&[("0123abcd", "0123abcd")])
    );
    for bad in ["--link :x img", "--link a:b:c img", "--link= img"] {
        assert!(
            matches!(run_err(bad), CliError::InvalidValue { ref flag, .. } if flag.starts_with("--link")),
            "{bad}"
        );
    }
    for mode in ["none", "host", "container:db"] {
        let e = run_err(&format!("--network {mode} --link db img"));
        assert!(
            matches!(&e, CliError::InvalidValue { reason, .. } if reason.contains("--link cannot be used")),
            "{mode}: {e:?}"
        );
    }
}

#[test]
fn run_errors_name_the_flag() {
    type Check = fn(&CliError) -> bool;
    let cases: &[(&str, Check)] = &[
        (
            "-p 80:80:80:80 img",
            |e| matches!(e, CliError::InvalidValue { flag, .. } if flag == "-p 80:80:80:80"),
        ),
        ("--publish=0 img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        (
            "--net host -P img",
            |e| matches!(e, CliError::InvalidValue { reason, .. } if reason.contains("cannot be used")),
        ),
        (
            "--network-alias a img",
            |e| matches!(e, CliError::InvalidValue { reason, .. } if reason.contains("user-defined")),
        ),
        ("--mac-address zz img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--add-host nohost img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--dns not-an-ip img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        (
            "--memory 1g img",
            |e| matches!(e, CliError::UnsupportedFlag { flag } if flag == "--memory 1g"),
        ),
        ("--label-file /l img", |e| {
            matches!(e, CliError::UnsupportedFlag { .. })
        }),
        (
            "-x img",
            |e| matches!(e, CliError::UnsupportedFlag { flag } if flag == "-x"),
        ),
        ("--pod p img", |e| {
            matches!(e, CliError::UnsupportedFlag { .. })
        }),
        ("--userns keep-id img", |e| {
            matches!(e, CliError::UnsupportedFlag { .. })
        }),
        ("--pid container:x img", |e| {
            matches!(e, CliError::UnsupportedFlag { .. })
        }),
        ("--security-opt apparmor=docker-default img", |e| {
            matches!(e, CliError::UnsupportedFlag { .. })
        }),
        ("-v data:/data img", |e| {
            matches!(e, CliError::NamedVolume(_))
        }),
        ("--mount type=volume,src=data,dst=/d img", |e| {
            matches!(e, CliError::NamedVolume(_))
        }),
        ("--mount source=data,dst=/d img", |e| {
            matches!(e, CliError::NamedVolume(_))
        }),
        ("-v /data img", |e| {
            matches!(e, CliError::AnonymousVolume(_))
        }),
        ("-v /a:rel img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("-v /a:/b:bogus img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--mount type=bind,src=/a,dst=/b,consistency=x img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        (
            "--cap-add NOPE img",
            |e| matches!(e, CliError::InvalidValue { flag, .. } if flag == "--cap-add NOPE"),
        ),
        ("--rm=maybe img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--ulimit nofile=10:5 img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--ulimit bogus=1 img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--restart sometimes img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("--stop-timeout x img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("-w rel img", |e| matches!(e, CliError::InvalidValue { .. })),
        ("--device rel img", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        ("", |e| matches!(e, CliError::MissingArgument(..))),
        ("--name", |e| {
            matches!(e, CliError::MissingValue(_) | CliError::MissingArgument(..))
        }),
    ];
    for (args, check) in cases {
        let err = run_err(args);
        assert!(check(&err), "{args:?}: {err:?}");
    }
    let msg = run_err("--memory 1g img").to_string();
    assert!(
        msg.contains("'--memory 1g'") && msg.contains("--storage docker"),
        "{msg}"
    );
    let msg = run_err("-p 80:x img").to_string();
    assert!(
        msg.contains("'-p 80:x'") && msg.contains("[IP:][HOSTPORT:]CONTAINERPORT"),
        "{msg}"
    );
    assert!(
        run_err("-v data:/data img")
            .to_string()
            .contains("named volumes are not supported")
    );
}

#[test]
fn subcommands() {
    let cases: &[(&str, DockerCommand)] = &[
        (
            "docker start -ai a b",
            DockerCommand::Start {
                attach: true,
                interactive: true,
                names: argv("a b"),
            },
        ),
        (
            "podman container start a",
            DockerCommand::Start {
                attach: false,
                interactive: false,
                names: argv("a"),
            },
        ),
        (
            "docker stop -t 3 a",
            DockerCommand::Stop {
                time: Some(3),
                names: argv("a"),
            },
        ),
        (
            "docker stop a --time=4",
            DockerCommand::Stop {
                time: Some(4),
                names: argv("a"),
            },
        ),
        (
            "docker stop a",
            DockerCommand::Stop {
                time: None,
                names: argv("a"),
            },
        ),
        (
            "docker rm -fv a b",
            DockerCommand::Rm {
                force: true,
                volumes: true,
                names: argv("a b"),
            },
        ),
        (
            "docker rm --force=false a",
            DockerCommand::Rm {
                force: false,
                volumes: false,
                names: argv("a"),
            },
        ),
        (
            "docker kill -s HUP a",
            DockerCommand::Kill {
                signal: Some("HUP".into()),
                names: argv("a"),
            },
        ),
        (
            "docker kill --signal=9 a",
            DockerCommand::Kill {
                signal: Some("9".into()),
                names: argv("a"),
            },
        ),
        (
            "docker logs -f --tail 10 -t a",
            DockerCommand::Logs(LogsArgs {
                follow: true,
                tail: Some("10".into()),
                timestamps: true,
                name: "a".into(),
                ..Default::default()
            }),
        ),
        (
            "docker inspect -f {{.Id}} a",
            DockerCommand::Inspect {
                format: Some("{{.Id}}".into()),
                names: argv("a"),
            },
        ),
        (
            "docker inspect --format={{.Id}} a",
            DockerCommand::Inspect {
                format: Some("{{.Id}}".into()),
                names: argv("a"),
            },
        ),
        (
            "/usr/bin/docker pull busybox",
            DockerCommand::Pull {
                image: "busybox".into(),
            },
        ),
        (
            "docker exec -it -e A=1 -u 0 -w /tmp --privileged c sh -c x",
            DockerCommand::Exec(ExecRequest {
                interactive: true,
                tty: true,
                detach: false,
                privileged: true,
                env: vec![EnvEntry::Set("A".into(), "1".into())],
                user: Some("0".into()),
                workdir: Some("/tmp".into()),
                name: "c".into(),
                command: argv("sh -c x"),
            }),
        ),
        (
            "docker container exec -d c true",
            DockerCommand::Exec(ExecRequest {
                detach: true,
                name: "c".into(),
                command: argv("true"),
                ..ExecRequest::default()
            }),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(&parse(&argv(line)).unwrap(), want, "{line:?}");
    }
    match parse(&argv("podman container create --name x img")).unwrap() {
        DockerCommand::Run(r) => assert!(r.create_only && r.name.as_deref() == Some("x")),
        other => panic!("{other:?}"),
    }
    match parse(&argv("docker run img")).unwrap() {
        DockerCommand::Run(r) => assert!(!r.create_only),
        other => panic!("{other:?}"),
    }
}

#[test]
fn subcommand_errors() {
    type Check = fn(&CliError) -> bool;
    let cases: &[(&str, Check)] = &[
        (
            "docker -H tcp://x run img",
            |e| matches!(e, CliError::GlobalOption(g) if g == "-H tcp://x"),
        ),
        (
            "podman --root /r run img",
            |e| matches!(e, CliError::GlobalOption(g) if g == "--root /r"),
        ),
        (
            "docker build .",
            |e| matches!(e, CliError::UnsupportedSubcommand(s) if s == "build"),
        ),
        ("docker container ls", |e| {
            matches!(e, CliError::UnsupportedSubcommand(_))
        }),
        ("docker", |e| matches!(e, CliError::MissingSubcommand(_))),
        ("docker container", |e| {
            matches!(e, CliError::MissingSubcommand(_))
        }),
        ("docker stop", |e| {
            matches!(e, CliError::MissingArgument(..))
        }),
        ("docker stop -t", |e| matches!(e, CliError::MissingValue(_))),
        ("docker stop -t x a", |e| {
            matches!(e, CliError::InvalidValue { .. })
        }),
        (
            "docker rm --link a",
            |e| matches!(e, CliError::UnsupportedFlag { flag } if flag == "--link"),
        ),
        (
            "docker start -x a",
            |e| matches!(e, CliError::UnsupportedFlag { flag } if flag == "-x"),
        ),
        ("docker logs a b", |e| {
            matches!(e, CliError::ExtraArgument { .. })
        }),
        ("docker pull", |e| {
            matches!(e, CliError::MissingArgument(..))
        }),
        ("docker exec c", |e| {
            matches!(e, CliError::MissingArgument(..))
        }),
        ("docker exec --env-file /e c true", |e| {
            matches!(e, CliError::UnsupportedFlag { .. })
        }),
    ];
    for (line, check) in cases {
        let err = parse(&argv(line)).expect_err(line);
        assert!(check(&err), "{line:?}: {err:?}");
    }
}

#[test]
fn log_driver_and_tag_are_read_and_checked() {
    use crate::logs::{LogDriver, LogOpts, TagInfo};
    let r = run("--log-driver journald --log-opt tag={{.Name}}/{{.ID}} img");
    assert_eq!(r.log_driver, Some(LogDriver::Journald));
    let info = TagInfo {
        id: "0123456789abcdef".into(),
        name: "web".into(),
        image_name: "img".into(),
        image_id: "ff".into(),
    };
    assert_eq!(r.log_opts.tag.unwrap().render(&info), "web/0123456789ab");
    let sized = run("--log-opt max-size=10m --log-opt=max-file=3 img").log_opts;
    assert_eq!((sized.max_size, sized.max_file), (Some(10 << 20), Some(3)));
    assert_eq!(
        run("--log-driver=none img").log_driver,
        Some(LogDriver::None)
    );
    assert_eq!(
        run("--log-driver json-file img").log_driver,
        Some(LogDriver::JsonFile)
    );
    assert_eq!(run("img").log_driver, None);
    assert_eq!(run("img").log_opts, LogOpts::default());

    for (args, needle) in [
        ("--log-driver syslog img", "unknown log driver 'syslog'"),
        ("--log-opt labels-regex=a img", "log option 'labels-regex'"),
        ("--log-opt max-size=huge img", "max-size 'huge'"),
        ("--log-opt tag img", "expected KEY=VALUE"),
        ("--log-opt tag={{.Bogus}} img", "not '.Bogus'"),
    ] {
        let err = run_err(args);
        assert!(
            matches!(err, CliError::InvalidValue { .. }) && err.to_string().contains(needle),
            "{args}: {err}"
        );
    }
    match parse(&argv("docker logs --since 10m --until=1m -n 3 a")).unwrap() {
        DockerCommand::Logs(args) => {
            assert_eq!(args.since.as_deref(), Some("10m"));
            assert_eq!(args.until.as_deref(), Some("1m"));
            assert_eq!(args.tail.as_deref(), Some("3"));
        }
        other => panic!("{other:?}"),
    }
}
