//! The test images, modelled on the original's `tests/test-images/` and rebuilt
//! from busybox-static so they need no network. Each function returns the spec after making sure
//! the engine holds the image.

use atomic_testsupport::ImageSpec;

use super::Kind;

/// The original's atomic-test-1 labels: RUN, INSTALL and UNINSTALL that use every variable.
pub const TEST1_RUN: &str = "/usr/bin/docker run -t --user ${SUDO_UID}:${SUDO_GID} ${OPT1} \
    -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 --name ${NAME} ${IMAGE} \
    $OPT3 echo I am the run label.";
pub const TEST1_INSTALL: &str = "/usr/bin/docker ${OPT1} run -v /etc/${NAME}:/etc \
    -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 --name ${NAME} ${IMAGE} \
    $OPT3 echo I am the install label.";
pub const TEST1_UNINSTALL: &str = "/usr/bin/docker ${OPT1} run -v /etc/${NAME}:/etc \
    -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 --name ${NAME} ${IMAGE} \
    $OPT3 echo I am the uninstall label.";

/// A man page with a tbl table, as the original's test-1 shipped (test_help.sh checks that the
/// `allbox` markup is rendered, not shown).
pub const HELP_PAGE: &str = r#".TH "ATOMIC-TEST-1" "1" "2016" "atomic" "atomic tests"
.SH NAME
atomic-test-1 \- an image to test atomic help
.SH DESCRIPTION
This image exists to test the rendering of help pages.
.TS
allbox;
l l.
Label	Meaning
RUN	how to run the image
.TE
"#;

fn ensure(kind: Kind, spec: ImageSpec) -> ImageSpec {
    kind.load(&spec);
    spec
}

/// RUN, INSTALL and UNINSTALL with every variable; `/help.1`.
pub fn test1(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-1")
            .label("Name", "atomic-test-1")
            .label("Version", "1.0")
            .label("Release", "3")
            .label("RUN", TEST1_RUN)
            .label("INSTALL", TEST1_INSTALL)
            .label("UNINSTALL", TEST1_UNINSTALL)
            .file("/help.1", HELP_PAGE.as_bytes(), 0o644)
            .cmd(["/bin/sh"]),
    )
}

/// A HELP label that runs the image.
pub fn test3(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-3")
            .label("HELP", "docker run --rm IMAGE /bin/sh /help.sh")
            .file("/help.sh", b"echo Testing help\n", 0o755),
    )
}

/// A lower-case `help` label.
pub fn test4(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-4")
            .label("help", "docker run --rm IMAGE /bin/sh /help.sh")
            .file("/help.sh", b"echo Testing lowercase help\n", 0o755),
    )
}

/// `LABEL RUN printenv`: a label command that runs on the host, not in a container.
pub fn test5(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-5").label("RUN", "printenv"),
    )
}

/// The original's test-6: argument passing, RUN_OPTS_FILE, STOP.
pub fn test6(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-6")
            .file(
                "/bin/install.sh",
                b"#!/bin/sh\nfor arg in \"$@\"; do echo \"$arg\"; done\n",
                0o755,
            )
            .file(
                "/bin/show-hostname.sh",
                b"#!/bin/sh\necho \"$(hostname):$VAR1\"\n",
                0o755,
            )
            .label(
                "INSTALL",
                "docker run --rm=true --net=host -v /:/host -e NAME=${NAME} -e IMAGE=${IMAGE} \
                 -e HOST=/host ${IMAGE} /bin/install.sh",
            )
            .label("RUN_OPTS_FILE", "$PWD/docker-run-opts-${NAME}")
            .label(
                "RUN",
                "docker run --rm=true ${RUN_OPTS} ${IMAGE} /bin/show-hostname.sh",
            )
            .label("STOP", "docker stop $NAME"),
    )
}

/// No labels at all, like the `centos` of the original tests.
pub fn plain(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-plain").cmd(["/bin/sh", "-c", "echo plain default command"]),
    )
}

/// An image that belongs to one test and is removed with it: tests that uninstall refuse while
/// other containers use the image, so sharing one between concurrent tests would race.
pub struct OwnImage {
    pub kind: Kind,
    pub name: String,
}

impl Drop for OwnImage {
    fn drop(&mut self) {
        self.kind.remove_image(&self.name);
    }
}

/// A full lifecycle: INSTALL and UNINSTALL leave a trace, RUN starts a long-running named
/// container, STOP stops it quickly. A distinct image (own name and ID) for each call.
pub fn lifecycle(kind: Kind) -> OwnImage {
    let name = super::unique("atomic-test-lifecycle");
    ensure(
        kind,
        ImageSpec::new(&name)
            .label("Instance", &name)
            .label("INSTALL", "docker run --rm IMAGE /bin/echo installed NAME")
            .label("RUN", "docker run -d --name NAME IMAGE /bin/sleep 300")
            .label("STOP", "docker stop -t 0 NAME")
            .label(
                "UNINSTALL",
                "docker run --rm IMAGE /bin/echo uninstalled NAME",
            )
            .cmd(["/bin/sleep", "300"]),
    );
    OwnImage { kind, name }
}

/// A long-running container without labels (exec and start paths of `atomic run`).
pub fn sleeper(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-sleeper").cmd(["/bin/sleep", "300"]),
    )
}

/// `${VAR:-default}`, documented by the original and broken there.
pub fn defaults(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-defaults").label(
            "RUN",
            r#"docker run --rm -e FOO="${FOO:-bar baz}" IMAGE /bin/sh -c 'echo "$FOO"'"#,
        ),
    )
}

/// A label with an unbalanced quote.
pub fn malformed(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-malformed").label("RUN", r#"docker run "unterminated IMAGE"#),
    )
}

/// Labels that try to get a shell to run something.
pub fn hostile(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-hostile")
            .label(
                "RUN",
                "docker run --rm IMAGE /bin/echo ; touch /tmp/atomic-pwned-label && $(touch \
                 /tmp/atomic-pwned-subst) `touch /tmp/atomic-pwned-tick` $EVIL",
            )
            .label("INSTALL", "docker run --rm IMAGE /bin/install.sh")
            .file(
                "/bin/install.sh",
                b"#!/bin/sh\nfor arg in \"$@\"; do echo \"[$arg]\"; done\n",
                0o755,
            ),
    )
}

/// A JSON-array RUN label: exact argv.
pub fn json_label(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-json").label(
            "RUN",
            r#"["docker", "run", "--rm", "IMAGE", "/bin/echo", "two  spaces", "$NAME"]"#,
        ),
    )
}

/// Both `run` and `RUN`: the exact key wins, deterministically.
pub fn case_variants(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-case")
            .label("RUN", "docker run --rm IMAGE /bin/echo upper")
            .label("run", "docker run --rm IMAGE /bin/echo lower"),
    )
}

/// A RUN_OPTS_FILE that is not an absolute path.
pub fn relative_opts(kind: Kind) -> ImageSpec {
    ensure(
        kind,
        ImageSpec::new("atomic-test-relopts")
            .label("RUN_OPTS_FILE", "opts-${NAME}")
            .label("RUN", "docker run --rm ${RUN_OPTS} IMAGE true"),
    )
}
