use super::*;
use crate::dockercli::{DockerCommand, parse};
use crate::host::DeviceInfo;
use oci_spec::image::{Config, ConfigBuilder};
use oci_spec::runtime::{Capability, LinuxSeccompAction, Mount};
use std::collections::HashMap;

/// A host whose answers the test chooses.
struct FakeHost {
    bounding: CapSet,
    hard_nofile: Option<u64>,
    env: HashMap<String, String>,
    files: HashMap<PathBuf, Vec<u8>>,
    seccomp: Option<Vec<u8>>,
    init: Option<PathBuf>,
    cgroup: bool,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost {
            bounding: caps::ALL & !caps::bit("SYS_RESOURCE").unwrap(),
            hard_nofile: Some(524_288),
            env: HashMap::new(),
            files: HashMap::new(),
            seccomp: Some(PROFILE.as_bytes().to_vec()),
            init: Some("/usr/bin/tini-static".into()),
            cgroup: true,
        }
    }
}

impl Host for FakeHost {
    fn bounding_set(&self) -> CapSet {
        self.bounding
    }
    fn hard_limit(&self, kind: PosixRlimitType) -> Option<u64> {
        match kind {
            PosixRlimitType::RlimitNofile => self.hard_nofile,
            PosixRlimitType::RlimitCore => Some(0),
            _ => None,
        }
    }
    fn env(&self, key: &str) -> Option<String> {
        self.env.get(key).cloned()
    }
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn device(&self, path: &Path) -> io::Result<DeviceInfo> {
        match path.to_str() {
            Some("/dev/fuse") => Ok(DeviceInfo {
                block: false,
                major: 10,
                minor: 229,
                mode: 0o666,
                uid: 0,
                gid: 0,
            }),
            Some("/dev/sda") => Ok(DeviceInfo {
                block: true,
                major: 8,
                minor: 0,
                mode: 0o660,
                uid: 0,
                gid: 6,
            }),
            _ => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
    fn seccomp_profile(&self) -> Option<Vec<u8>> {
        self.seccomp.clone()
    }
    fn init_binary(&self) -> Option<PathBuf> {
        self.init.clone()
    }
    fn mount_cgroup(&self) -> bool {
        self.cgroup
    }
    fn kernel_version(&self) -> Option<(u32, u32)> {
        Some((6, 1))
    }
}

const PROFILE: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
              {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
  "syscalls": [
    {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
  ]}"#;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:alice\n";

fn request(args: &str) -> RunRequest {
    let argv: Vec<String> = format!("docker run {args}")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    match parse(&argv).unwrap() {
        DockerCommand::Run(r) => *r,
        other => panic!("{other:?}"),
    }
}

fn image(cmd: &[&str], entrypoint: &[&str]) -> Config {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut b = ConfigBuilder::default().env(v(&["PATH=/image/bin", "A=image"]));
    if !cmd.is_empty() {
        b = b.cmd(v(cmd));
    }
    if !entrypoint.is_empty() {
        b = b.entrypoint(v(entrypoint));
    }
    b.build().unwrap()
}

fn build_with(args: &str, config: Option<&Config>, host: &FakeHost) -> Result<Spec, SpecError> {
    let req = request(args);
    let read = |p: &str| match p {
        "/etc/passwd" => Some(PASSWD.as_bytes().to_vec()),
        "/etc/group" => Some(GROUP.as_bytes().to_vec()),
        _ => None,
    };
    let extra = [("container".to_string(), "atomic".to_string())];
    let input = SpecInput {
        request: &req,
        image: config,
        rootfs: Path::new("/var/lib/atomic/c1/merged"),
        hostname: "c1",
        files: ContainerFiles {
            hosts: Some("/run/atomic/c1/hosts".into()),
            hostname: None,
            resolv_conf: Some("/run/atomic/c1/resolv.conf".into()),
        },
        read_image_file: &read,
        extra_env: &extra,
    };
    build(&input, host)
}

fn spec(args: &str) -> Spec {
    build_with(
        &format!("{args} img"),
        Some(&image(&["sh"], &[])),
        &FakeHost::default(),
    )
    .unwrap()
}

fn process(s: &Spec) -> &Process {
    s.process().as_ref().unwrap()
}

fn linux_of(s: &Spec) -> &oci_spec::runtime::Linux {
    s.linux().as_ref().unwrap()
}

fn mount_at<'a>(s: &'a Spec, dst: &str) -> Option<&'a Mount> {
    s.mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new(dst))
}

fn options(m: &Mount) -> Vec<&str> {
    m.options().iter().flatten().map(String::as_str).collect()
}

#[test]
fn capabilities_default_privileged_and_clamped() {
    let caps_of = |s: &Spec| process(s).capabilities().clone().unwrap();
    let default = caps_of(&spec(""));
    let bounding = default.bounding().clone().unwrap();
    assert_eq!(bounding.len(), 14);
    assert!(bounding.contains(&Capability::NetBindService));
    assert_eq!(default.effective(), default.bounding());
    assert_eq!(default.permitted(), default.bounding());
    assert!(default.inheritable().is_none() && default.ambient().is_none());

    let privileged = caps_of(&spec("--privileged")).bounding().clone().unwrap();
    assert!(privileged.contains(&Capability::SysAdmin));
    // The host's bounding set lacks it: asking runc for it would fail with EPERM.
    assert!(!privileged.contains(&Capability::SysResource));
    assert_eq!(privileged.len(), 40);

    let added = caps_of(&spec(
        "--cap-add SYS_RESOURCE --cap-add sys_ptrace --cap-drop CHOWN",
    ));
    let added = added.bounding().clone().unwrap();
    assert!(added.contains(&Capability::SysPtrace));
    assert!(!added.contains(&Capability::SysResource) && !added.contains(&Capability::Chown));
}

#[test]
fn privileged_drops_confinement() {
    let (default, privileged) = (spec(""), spec("--privileged"));
    let l = linux_of(&default);
    assert!(
        l.masked_paths()
            .as_ref()
            .is_some_and(|p| p.iter().any(|x| x == "/proc/kcore"))
    );
    assert!(
        l.readonly_paths()
            .as_ref()
            .is_some_and(|p| p.iter().any(|x| x == "/proc/sys"))
    );
    assert!(l.seccomp().is_some());
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    assert!(!rules[0].allow() && rules.len() > 3);
    assert_eq!(
        mount_at(&default, "/dev").unwrap().typ().as_deref(),
        Some("tmpfs")
    );
    assert!(options(mount_at(&default, "/sys").unwrap()).contains(&"ro"));

    let l = linux_of(&privileged);
    assert!(l.masked_paths().is_none() && l.readonly_paths().is_none() && l.seccomp().is_none());
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].allow() && rules[0].typ().is_none());
    let dev = mount_at(&privileged, "/dev").unwrap();
    assert_eq!(dev.source().as_deref(), Some(Path::new("/dev")));
    assert!(options(dev).contains(&"rbind"));
    assert!(options(mount_at(&privileged, "/sys").unwrap()).contains(&"rw"));
}

#[test]
fn users_resolve_through_the_image_files() {
    type Case<'a> = (&'a str, u32, u32, Option<Vec<u32>>, &'a str);
    let cases: &[Case] = &[
        ("", 0, 0, None, "HOME=/root"),
        ("-u alice", 1000, 1000, Some(vec![10]), "HOME=/home/alice"),
        ("-u 1000:1000", 1000, 1000, None, "HOME=/home/alice"),
        ("-u 4242", 4242, 0, None, "HOME=/"),
        ("-u alice:wheel", 1000, 10, None, "HOME=/home/alice"),
    ];
    for (args, uid, gid, groups, home) in cases {
        let s = spec(args);
        let u = process(&s).user();
        assert_eq!(
            (u.uid(), u.gid(), u.additional_gids().clone()),
            (*uid, *gid, groups.clone()),
            "{args:?}"
        );
        assert!(
            process(&s).env().iter().flatten().any(|e| e == home),
            "{args:?}"
        );
    }
    let err = build_with("-u bob img", None, &FakeHost::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user bob: no matching entries in passwd file"
    );
    // The image's User applies without -u.
    let config = ConfigBuilder::default()
        .user("alice")
        .cmd(vec!["sh".to_string()])
        .build()
        .unwrap();
    let s = build_with("img", Some(&config), &FakeHost::default()).unwrap();
    assert_eq!(process(&s).user().uid(), 1000);
}

#[test]
fn entrypoint_and_command_follow_docker() {
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Option<&'a [&'a str]>);
    // (args, image Cmd, image Entrypoint, expected args or None for "no command")
    let cases: &[Case] = &[
        ("img", &["sh"], &[], Some(&["sh"])),
        ("img ls -l", &["sh"], &[], Some(&["ls", "-l"])),
        (
            "img",
            &["-c", "x"],
            &["/bin/sh"],
            Some(&["/bin/sh", "-c", "x"]),
        ),
        (
            "img echo hi",
            &["-c", "x"],
            &["/bin/sh"],
            Some(&["/bin/sh", "echo", "hi"]),
        ),
        (
            "--entrypoint /bin/ls img",
            &["-c", "x"],
            &["/bin/sh"],
            Some(&["/bin/ls"]),
        ),
        (
            "--entrypoint /bin/ls img -a",
            &["x"],
            &["/bin/sh"],
            Some(&["/bin/ls", "-a"]),
        ),
        ("--entrypoint= img id", &["x"], &["/bin/sh"], Some(&["id"])),
        ("--entrypoint= img", &["x"], &["/bin/sh"], None),
        ("img", &[], &[], None),
        ("--init img", &["sh"], &[], Some(&["/dev/init", "--", "sh"])),
        // The host's /dev is bound: keep runc from creating /dev/init on the host.
        (
            "--privileged --init img",
            &["sh"],
            &[],
            Some(&["/.atomic-init", "--", "sh"]),
        ),
        (
            "-v /dev:/dev --init img",
            &["sh"],
            &[],
            Some(&["/.atomic-init", "--", "sh"]),
        ),
        (
            "-v /shm:/dev/shm --init img",
            &["sh"],
            &[],
            Some(&["/dev/init", "--", "sh"]),
        ),
    ];
    for (line, cmd, entrypoint, want) in cases {
        let got = build_with(line, Some(&image(cmd, entrypoint)), &FakeHost::default());
        match want {
            Some(want) => assert_eq!(
                process(&got.unwrap()).args().as_deref().unwrap(),
                *want,
                "{line:?}"
            ),
            None => assert!(matches!(got, Err(SpecError::NoCommand)), "{line:?}"),
        }
    }
    let no_init = FakeHost {
        init: None,
        ..FakeHost::default()
    };
    assert!(matches!(
        build_with("--init img", Some(&image(&["sh"], &[])), &no_init),
        Err(SpecError::NoInit)
    ));
}

#[test]
fn environment_order() {
    let mut host = FakeHost::default();
    host.env.insert("FROM_HOST".into(), "h".into());
    host.files.insert(
        "/e.env".into(),
        b"# comment\n\nB=file\n  C=c\nFROM_HOST\nMISSING\n".to_vec(),
    );
    let s = build_with(
        "-t -e A=cli -e FROM_HOST -e UNSET --env-file /e.env -e B=later img",
        Some(&image(&["sh"], &[])),
        &host,
    )
    .unwrap();
    let env = process(&s).env().clone().unwrap();
    assert_eq!(
        env,
        [
            "PATH=/image/bin",
            "A=cli",
            "HOSTNAME=c1",
            "TERM=xterm",
            "HOME=/root",
            "FROM_HOST=h",
            "B=later",
            "C=c",
            "container=atomic",
        ]
    );
    let s = build_with("--uts host img", None, &FakeHost::default()).unwrap_err();
    assert!(matches!(s, SpecError::NoCommand));
    let s = spec("--uts host");
    let env = process(&s).env().clone().unwrap();
    assert!(
        !env.contains(&format!("PATH={DEFAULT_PATH}"))
            && !env.iter().any(|e| e.starts_with("HOSTNAME="))
    );
    assert!(s.hostname().is_none());
    assert_eq!(spec("--hostname h").hostname().as_deref(), Some("h"));
    assert_eq!(spec("").hostname().as_deref(), Some("c1"));
    let no_file = build_with(
        "--env-file /nope img",
        Some(&image(&["sh"], &[])),
        &FakeHost::default(),
    );
    assert!(matches!(no_file, Err(SpecError::EnvFile { .. })));
    let bare = build_with("img", None, &FakeHost::default());
    assert!(bare.is_err());
    let config = ConfigBuilder::default()
        .cmd(vec!["sh".to_string()])
        .build()
        .unwrap();
    let s = build_with("img", Some(&config), &FakeHost::default()).unwrap();
    assert!(
        process(&s)
            .env()
            .iter()
            .flatten()
            .any(|e| *e == format!("PATH={DEFAULT_PATH}"))
    );
}

#[test]
fn rlimits_are_clamped_to_the_hard_limit() {
    let limits = |s: &Spec| -> Vec<(PosixRlimitType, u64, u64)> {
        process(s)
            .rlimits()
            .iter()
            .flatten()
            .map(|r| (r.typ(), r.soft(), r.hard()))
            .collect()
    };
    assert_eq!(
        limits(&spec("")),
        [(PosixRlimitType::RlimitNofile, 524_288, 524_288)]
    );
    assert_eq!(
        limits(&spec(
            "--ulimit nofile=1024:2048 --ulimit core=-1 --ulimit nproc=10:20"
        )),
        [
            (PosixRlimitType::RlimitNofile, 1024, 2048),
            (PosixRlimitType::RlimitCore, 0, 0),
            (PosixRlimitType::RlimitNproc, 10, 20),
        ]
    );
    let unlimited = FakeHost {
        hard_nofile: None,
        ..FakeHost::default()
    };
    let s = build_with("img", Some(&image(&["sh"], &[])), &unlimited).unwrap();
    assert_eq!(
        limits(&s),
        [(
            PosixRlimitType::RlimitNofile,
            DEFAULT_NOFILE,
            DEFAULT_NOFILE
        )]
    );
}

#[test]
fn namespaces_follow_the_host_flags() {
    let kinds = |s: &Spec| -> Vec<LinuxNamespaceType> {
        linux_of(s)
            .namespaces()
            .iter()
            .flatten()
            .map(|n| n.typ())
            .collect()
    };
    use LinuxNamespaceType::*;
    assert_eq!(kinds(&spec("")), [Mount, Uts, Ipc, Pid, Network]);
    assert_eq!(kinds(&spec("--net none")), [Mount, Uts, Ipc, Pid, Network]);
    assert_eq!(kinds(&spec("--net=host --pid=host")), [Mount, Uts, Ipc]);
    assert_eq!(kinds(&spec("--uts host --ipc host")), [Mount, Pid, Network]);
}

#[test]
fn each_mount_form() {
    let s = spec(
        "-v /src:/a:ro,rshared --mount type=bind,src=/b,dst=/b --tmpfs /t:size=1m \
         --mount type=tmpfs,dst=/u,tmpfs-mode=700 -v /shm:/dev/shm --init --read-only",
    );
    let a = mount_at(&s, "/a").unwrap();
    assert_eq!(
        (a.typ().as_deref(), a.source().as_deref()),
        (Some("bind"), Some(Path::new("/src")))
    );
    assert_eq!(options(a), ["rbind", "rshared", "ro"]);
    assert_eq!(options(mount_at(&s, "/b").unwrap()), ["rbind", "rprivate"]);
    assert_eq!(
        options(mount_at(&s, "/t").unwrap()),
        ["noexec", "nosuid", "nodev", "size=1m"]
    );
    assert_eq!(
        options(mount_at(&s, "/u").unwrap()),
        ["noexec", "nosuid", "nodev", "mode=700"]
    );
    // The user's /dev/shm replaces the default one.
    let shm: Vec<_> = s
        .mounts()
        .iter()
        .flatten()
        .filter(|m| m.destination() == Path::new("/dev/shm"))
        .collect();
    assert_eq!(shm.len(), 1);
    assert_eq!(shm[0].source().as_deref(), Some(Path::new("/shm")));
    let init = mount_at(&s, "/dev/init").unwrap();
    assert_eq!(
        init.source().as_deref(),
        Some(Path::new("/usr/bin/tini-static"))
    );
    assert!(options(init).contains(&"ro"));
    assert_eq!(
        linux_of(&s).rootfs_propagation().as_deref(),
        Some("rshared")
    );
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
    assert_eq!(
        mount_at(&s, "/etc/hosts").unwrap().source().as_deref(),
        Some(Path::new("/run/atomic/c1/hosts"))
    );
    assert!(mount_at(&s, "/etc/resolv.conf").is_some() && mount_at(&s, "/etc/hostname").is_none());
    for dst in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ] {
        assert!(mount_at(&s, dst).is_some(), "{dst}");
    }
    let nested = FakeHost {
        cgroup: false,
        ..FakeHost::default()
    };
    let s = build_with("-v /x:/y:slave img", Some(&image(&["sh"], &[])), &nested).unwrap();
    assert!(mount_at(&s, "/sys/fs/cgroup").is_none());
    assert_eq!(linux_of(&s).rootfs_propagation().as_deref(), Some("rslave"));
    assert!(linux_of(&spec("")).rootfs_propagation().is_none());
}

#[test]
fn devices_are_added_with_a_cgroup_rule() {
    let s = spec("--device /dev/fuse --device /dev/sda:/dev/xvda:r");
    let devices = linux_of(&s).devices().clone().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(
        (
            devices[0].path().as_path(),
            devices[0].major(),
            devices[0].minor()
        ),
        (Path::new("/dev/fuse"), 10, 229)
    );
    assert_eq!(
        (devices[1].path().as_path(), devices[1].typ()),
        (Path::new("/dev/xvda"), LinuxDeviceType::B)
    );
    let rules = linux_of(&s)
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .clone()
        .unwrap();
    let last = rules.last().unwrap();
    assert!(last.allow() && last.major() == Some(8) && last.access().as_deref() == Some("r"));
    let missing = build_with(
        "--device /dev/nope img",
        Some(&image(&["sh"], &[])),
        &FakeHost::default(),
    );
    assert!(matches!(missing, Err(SpecError::Device { .. })));
}

#[test]
fn seccomp_follows_the_final_capabilities() {
    let action_for = |s: &Spec, name: &str| -> Vec<LinuxSeccompAction> {
        let seccomp = linux_of(s).seccomp().as_ref().unwrap();
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .filter(|c| c.names().iter().any(|n| n == name))
            .map(|c| c.action())
            .collect()
    };
    assert_eq!(
        action_for(&spec(""), "mount"),
        [LinuxSeccompAction::ScmpActErrno]
    );
    assert_eq!(
        action_for(&spec("--cap-add SYS_ADMIN"), "mount"),
        [LinuxSeccompAction::ScmpActAllow]
    );
    assert!(
        linux_of(&spec("--security-opt seccomp=unconfined"))
            .seccomp()
            .is_none()
    );
    let mut host = FakeHost {
        seccomp: None,
        ..FakeHost::default()
    };
    let s = build_with("img", Some(&image(&["sh"], &[])), &host).unwrap();
    assert!(linux_of(&s).seccomp().is_none());
    host.files
        .insert("/p.json".into(), PROFILE.as_bytes().to_vec());
    let s = build_with(
        "--security-opt seccomp=/p.json --privileged img",
        Some(&image(&["sh"], &[])),
        &host,
    )
    .unwrap();
    assert_eq!(action_for(&s, "mount"), [LinuxSeccompAction::ScmpActAllow]);
    host.files.insert("/bad.json".into(), b"{".to_vec());
    let bad = build_with(
        "--security-opt seccomp=/bad.json img",
        Some(&image(&["sh"], &[])),
        &host,
    );
    assert!(matches!(bad, Err(SpecError::Seccomp(_))));
    let missing = build_with(
        "--security-opt seccomp=/none.json img",
        Some(&image(&["sh"], &[])),
        &host,
    );
    assert!(matches!(missing, Err(SpecError::SeccompFile { .. })));
}

#[test]
fn security_options() {
    let s = spec("--security-opt no-new-privileges --security-opt label=type:spc_t");
    assert_eq!(process(&s).no_new_privileges(), Some(true));
    assert_eq!(
        process(&s).selinux_label().as_deref(),
        Some("system_u:system_r:spc_t:s0")
    );
    assert_eq!(
        linux_of(&s).mount_label().as_deref(),
        Some("system_u:object_r:container_file_t:s0")
    );
    let s = spec("--security-opt label=disable --security-opt label=type:x");
    assert!(process(&s).selinux_label().is_none());
    let s = spec("");
    assert_eq!(process(&s).no_new_privileges(), Some(false));
    assert!(process(&s).selinux_label().is_none() && linux_of(&s).mount_label().is_none());
    assert_eq!(process(&spec("-w /w")).cwd(), Path::new("/w"));
    assert_eq!(process(&spec("-t")).terminal(), Some(true));
    let json = serde_json::to_value(spec("")).unwrap();
    assert_eq!(json["root"]["path"], "/var/lib/atomic/c1/merged");
}
