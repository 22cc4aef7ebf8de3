//! atomic reaches the Docker daemon the `docker` CLI would reach (DOCKER_HOST unix and tcp,
//! Docker contexts), against this machine's real dockerd.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;

use common::{Kind, World, images, stderr, stdout};
use sha2::{Digest, Sha256};

const SOCKET: &str = "/var/run/docker.sock";

/// `atomic info --storage docker atomic-test-1` with `envs` set.
fn info(world: &World, envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = world.on(Kind::Docker, &["info"], &["atomic-test-1"]);
    cmd.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", world.path().join("docker-config"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn assert_found(out: &std::process::Output, why: &str) {
    assert!(out.status.success(), "{why}: {}", stderr(out));
    assert!(
        stdout(out).contains("Image Name: atomic-test-1"),
        "{why}: {}",
        stdout(out)
    );
}

#[test]
fn a_docker_context_is_followed_when_docker_host_is_unset() {
    if !Kind::Docker.usable() {
        return;
    }
    images::test1(Kind::Docker);
    let world = World::new();
    let config = world.path().join("docker-config");
    write_context(&config, "here", &format!("unix://{SOCKET}"));
    write_context(&config, "nowhere", "unix:///nonexistent/docker.sock");
    std::fs::write(config.join("config.json"), r#"{"currentContext":"here"}"#).unwrap();
    assert_found(&info(&world, &[]), "currentContext");
    let out = info(&world, &[("DOCKER_CONTEXT", "nowhere")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/docker.sock"),
        "{}",
        stderr(&out)
    );
    let out = info(&world, &[("DOCKER_CONTEXT", "missing")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("context 'missing'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn docker_host_may_be_a_tcp_address() {
    if !Kind::Docker.usable() {
        return;
    }
    images::test1(Kind::Docker);
    let world = World::new();
    let port = tcp_to_unix_proxy();
    let host = format!("tcp://127.0.0.1:{port}");
    assert_found(&info(&world, &[("DOCKER_HOST", &host)]), "tcp");
    let out = info(&world, &[("DOCKER_HOST", "ssh://me@127.0.0.1")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ssh://"), "{}", stderr(&out));
}

/// What `docker context create` writes: meta.json under the SHA-256 of the context's name.
fn write_context(config: &Path, name: &str, host: &str) {
    let key = hex::encode(Sha256::digest(name.as_bytes()));
    let dir = config.join("contexts/meta").join(key);
    std::fs::create_dir_all(&dir).unwrap();
    let meta = serde_json::json!({
        "Name": name,
        "Metadata": {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}},
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
}

/// A TCP port on 127.0.0.1 that forwards every connection to dockerd's unix socket (dockerd
/// itself listens on the socket only here). The threads end with the test process.
fn tcp_to_unix_proxy() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = UnixStream::connect(SOCKET) else {
                continue;
            };
            pipe(client, server);
        }
    });
    port
}

fn pipe(client: TcpStream, server: UnixStream) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_read, mut c_write) = (server, client);
    std::thread::spawn(move || copy(&mut c_read, &mut s_write));
    std::thread::spawn(move || copy(&mut s_read, &mut c_write));
}

fn copy(from: &mut impl Read, to: &mut impl Write) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}
