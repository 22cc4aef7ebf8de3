//! Networks of the native engine, for real: netavark, aardvark-dns and the host's firewall.
//! Published ports answer from the host, containers on a user network find each other by name,
//! the default bridge reaches the host, and nothing is left behind (firewall rules, netavark's
//! and aardvark's files, addresses, namespaces) after `--rm`, a delete, or a killed atomic.
//!
//! Every test has a subnet of its own (atomic.conf `default_network_subnet`, or
//! `network create --subnet`) in 10.96.0.0/16 and host ports in 18160-18179, so that its
//! firewall rules can be told apart from those of tests running at the same time.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use atomic_testsupport::ImageSpec;
use common::native::{Stored, docker, docker_ok, pull_oci};
use common::{Kind, World, stderr, stdout};

/// Root, runc and netavark are needed.
fn usable() -> bool {
    if !Kind::Native.usable() {
        return false;
    }
    let found = ["/usr/libexec/podman/netavark", "/usr/lib/podman/netavark"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !found {
        assert_ne!(
            std::env::var("ATOMIC_TEST_REQUIRE_ENGINES").as_deref(),
            Ok("1"),
            "netavark is required (ATOMIC_TEST_REQUIRE_ENGINES=1) but not installed"
        );
        eprintln!("SKIP: netavark is not installed");
    }
    found
}

/// A world whose default network is 10.96.N.0/24, and whose containers are removed when the
/// test ends, even when it fails (their networks are the host's).
struct NetWorld(World);

impl std::ops::Deref for NetWorld {
    type Target = World;
    fn deref(&self) -> &World {
        &self.0
    }
}

impl Drop for NetWorld {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(self.0.store_root().join("containers")) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.len() == 64 {
                    let _ = docker(&self.0, &["rm", "-f", &id]);
                }
            }
        }
        // A bridge a failed test left (the others went with their last container).
        for bridge in bridges(&self.0) {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &bridge])
                .output();
        }
    }
}

/// The bridges of the world's networks.
fn bridges(world: &World) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(world.store_root().join("networks")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter_map(|net| net["network_interface"].as_str().map(str::to_owned))
        .collect()
}

fn world(n: u8) -> NetWorld {
    let world = World::new();
    std::fs::write(
        world.conf(),
        format!("default_network_subnet: 10.96.{n}.0/24\n"),
    )
    .unwrap();
    NetWorld(world)
}

/// An image with busybox's httpd content; `run` is its RUN label.
fn web_image(world: &World, name: &str, run_label: &str) -> Stored {
    pull_oci(
        world,
        &ImageSpec::new(name)
            .file("/www/index.html", "hello from i16\n", 0o644)
            .expose("80/tcp")
            .label("RUN", run_label),
    )
}

fn native(world: &World, args: &[&str]) -> Output {
    world
        .atomic()
        .env("ATOMIC_STORAGE", "native")
        .args(args)
        .output()
        .unwrap()
}

/// GET / from `addr` until it answers (a detached httpd starts a moment after `run` returns).
fn http_get(addr: &str) -> String {
    let start = Instant::now();
    loop {
        let attempt = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
                let mut body = String::new();
                s.read_to_string(&mut body)?;
                Ok(body)
            });
        match attempt {
            Ok(body) if body.contains("hello from i16") => return body,
            other => assert!(
                start.elapsed() < Duration::from_secs(15),
                "{addr} did not answer: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn program_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// What this test put on the host: firewall rules that mention its subnet, ports or
/// containers (iptables and nftables views), bridges, netavark's and aardvark's files,
/// allocated addresses and ports, kept namespaces.
fn host_state(world: &World, needles: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let rules = program_output("iptables-save", &[]) + &program_output("nft", &["list", "ruleset"]);
    for line in rules.lines() {
        if !line.starts_with('#') && needles.iter().any(|n| line.contains(n)) {
            out.push(format!("rule: {line}"));
        }
    }
    let aardvark = world.store_root().join("networks/netavark/aardvark-dns");
    if let Ok(entries) = std::fs::read_dir(&aardvark) {
        for e in entries {
            out.push(format!(
                "aardvark: {}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    if let Ok(text) = std::fs::read_to_string(world.store_root().join("networks/.allocations")) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for key in ["addresses", "ports"] {
            if v[key].as_object().is_some_and(|o| !o.is_empty()) {
                out.push(format!("allocations: {}", v[key]));
            }
        }
    }
    // A test's store is not the host's: its bridges go with their last container.
    for bridge in bridges(world) {
        if Path::new("/sys/class/net").join(&bridge).exists() {
            out.push(format!("bridge: {bridge}"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(world.store_root().join("containers")) {
        for e in entries {
            let netns = e.unwrap().path().join("netns");
            if netns.exists() {
                out.push(format!("netns: {}", netns.display()));
            }
        }
    }
    out
}

fn containers_left(world: &World) -> usize {
    std::fs::read_dir(world.store_root().join("containers"))
        .map(|d| {
            d.filter(|e| e.as_ref().unwrap().file_name().len() == 64)
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn published_port_label_answers_from_the_host_and_leaves_nothing() {
    if !usable() {
        return;
    }
    let world = world(1);
    let needles = ["10.96.1.", "18160"];
    web_image(
        &world,
        "i16-web",
        "docker run -d -p 127.0.0.1:18160:80 --name ${NAME} ${IMAGE} busybox httpd -f -p 80 -h /www",
    );
    let before = host_state(&world, &needles);
    assert_eq!(before, Vec::<String>::new(), "a clean start");

    let out = native(&world, &["run", "-q", "i16-web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert!(http_get("127.0.0.1:18160").contains("hello from i16"));

    // What docker users read: docker port, docker inspect, containers list.
    assert_eq!(
        docker_ok(&world, &["port", "i16-web"]),
        "80/tcp -> 127.0.0.1:18160\n"
    );
    assert_eq!(
        docker_ok(&world, &["port", "i16-web", "80"]),
        "127.0.0.1:18160\n"
    );
    let ip = docker_ok(
        &world,
        &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "i16-web"],
    );
    assert!(ip.starts_with("10.96.1."), "{ip}");
    let list = stdout(&native(&world, &["containers", "list", "--json"]));
    assert!(list.contains("127.0.0.1:18160->80/tcp"), "{list}");
    let table = stdout(&native(&world, &["containers", "list"]));
    assert!(table.contains("127.0.0.1:18160->80/tcp"), "{table}");
    // /etc/hosts names the container's own address, as docker writes it.
    let hosts = docker_ok(&world, &["exec", "i16-web", "cat", "/etc/hosts"]);
    assert!(
        hosts.ends_with(&format!("{}\t{}\n", ip.trim(), &id[..12])),
        "{hosts}"
    );
    // The default bridge is the built-in driver's: its chains, not netavark's.
    let up = host_state(&world, &needles);
    assert!(up.iter().any(|l| l.contains("ATOMIC-C-")), "{up:#?}");
    assert!(!up.iter().any(|l| l.contains("NETAVARK")), "{up:#?}");

    let out = native(&world, &["containers", "delete", "-f", "-y", "i16-web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(host_state(&world, &needles), before);
    assert!(
        TcpStream::connect("127.0.0.1:18160").is_err(),
        "nothing answers"
    );
}

#[test]
fn publish_all_and_a_udp_port() {
    if !usable() {
        return;
    }
    let world = world(2);
    let needles = ["10.96.2.", "18161"];
    web_image(
        &world,
        "i16-pall",
        "docker run -d -P -p 127.0.0.1:18161:9999/udp --name ${NAME} ${IMAGE} \
         busybox httpd -f -p 80 -h /www",
    );
    let out = native(&world, &["run", "-q", "i16-pall"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // -P: the image's EXPOSE 80 is published on a free host port, on every address.
    let published = docker_ok(&world, &["port", "i16-pall", "80/tcp"]);
    let port = published.trim().rsplit(':').next().unwrap().to_string();
    assert!(published.starts_with("0.0.0.0:"), "{published}");
    http_get(&format!("127.0.0.1:{port}"));

    // UDP: a datagram to the host port arrives in the container's namespace.
    let id = docker_ok(&world, &["inspect", "-f", "{{.Id}}", "i16-pall"]);
    let netns = world
        .store_root()
        .join("containers")
        .join(id.trim())
        .join("netns");
    let mut listener = std::process::Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args([
            "python3",
            "-c",
            "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             s.bind(('0.0.0.0',9999))\nprint('ready',flush=True)\n\
             print(s.recvfrom(100)[0].decode(),flush=True)",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = listener.stdout.take().unwrap();
    let mut ready = [0u8; 6];
    pipe.read_exact(&mut ready).unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let got = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    });
    for _ in 0..20 {
        sender.send_to(b"ping-udp", "127.0.0.1:18161").unwrap();
        if listener.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = listener.kill();
    listener.wait().unwrap();
    assert_eq!(got.join().unwrap().trim(), "ping-udp");

    assert!(
        native(&world, &["containers", "delete", "-f", "-y", "i16-pall"])
            .status
            .success()
    );
    let needles: Vec<&str> = needles.iter().copied().chain([port.as_str()]).collect();
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

#[test]
fn containers_on_a_user_network_find_each_other_by_name_and_alias() {
    if !usable() {
        return;
    }
    let world = world(3);
    let needles = ["10.96.103."];
    web_image(&world, "i16-dns", "true");
    let net = "i16-net";
    docker_ok(
        &world,
        &["network", "create", "--subnet", "10.96.103.0/24", net],
    );
    let listed = stdout(&native(&world, &["network", "list"]));
    assert!(
        listed.contains(net) && listed.contains("10.96.103.0/24"),
        "{listed}"
    );
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--network",
            net,
            "--network-alias",
            "web-alias",
            "--name",
            "i16-srv",
            "i16-dns",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    // A network with DNS goes through netavark (aardvark-dns), whatever the default driver.
    let up = host_state(&world, &needles);
    assert!(up.iter().any(|l| l.contains("NETAVARK")), "{up:#?}");
    assert!(!up.iter().any(|l| l.contains("ATOMIC-")), "{up:#?}");
    for target in ["i16-srv", "web-alias"] {
        // The server's httpd binds its port a moment after `run -d` returns: a few tries.
        let script = format!(
            "for i in 1 2 3 4 5 6 7 8 9 10; do busybox wget -q -O - http://{target}/ \
             && exit 0; sleep 0.3; done; exit 1"
        );
        let out = docker(
            &world,
            &[
                "run",
                "--rm",
                "--network",
                net,
                "i16-dns",
                "sh",
                "-c",
                &script,
            ],
        );
        assert!(out.status.success(), "{target}: {}", stderr(&out));
        assert_eq!(stdout(&out), "hello from i16\n", "{target}");
    }
    // --network container:NAME shares the server's namespace: its httpd is on loopback.
    let out = docker(
        &world,
        &[
            "run",
            "--rm",
            "--network",
            "container:i16-srv",
            "i16-dns",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://127.0.0.1/",
        ],
    );
    assert_eq!(stdout(&out), "hello from i16\n", "{}", stderr(&out));
    // A fixed address and MAC address.
    let out = docker(
        &world,
        &[
            "run",
            "--rm",
            "--network",
            net,
            "--ip",
            "10.96.103.50",
            "--mac-address",
            "02:42:0a:60:67:32",
            "i16-dns",
            "busybox",
            "ip",
            "addr",
            "show",
            "eth0",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("inet 10.96.103.50/24") && text.contains("02:42:0a:60:67:32"),
        "{text}{}",
        stderr(&out)
    );
    let inspect = docker_ok(&world, &["network", "inspect", net]);
    assert!(inspect.contains("10.96.103.0/24"), "{inspect}");
    // A network in use is not removed.
    let busy = docker(&world, &["network", "rm", net]);
    assert!(stderr(&busy).contains("in use"), "{}", stderr(&busy));
    docker_ok(&world, &["rm", "-f", "i16-srv"]);
    let out = native(&world, &["network", "delete", net]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

/// This host's first non-loopback IPv4 address.
fn host_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks the route and source address.
    socket.connect("192.0.2.255:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback()).then_some(ip)
}

#[test]
fn the_default_bridge_reaches_a_service_on_a_host_address() {
    if !usable() {
        return;
    }
    let Some(host_ip) = host_address() else {
        eprintln!("SKIP: no non-loopback address");
        return;
    };
    let world = world(4);
    web_image(&world, "i16-out", "true");
    let listener = TcpListener::bind((host_ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello from the host\n")
            .unwrap();
    });
    let out = docker(
        &world,
        &[
            "run",
            "--rm",
            "i16-out",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://{addr}/"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from the host\n");
    server.join().unwrap();
    assert_eq!(host_state(&world, &["10.96.4."]), Vec::<String>::new());
    assert_eq!(containers_left(&world), 0);
}

#[test]
fn a_killed_atomic_leaves_a_network_the_next_delete_reclaims() {
    if !usable() {
        return;
    }
    let world = world(5);
    let needles = ["10.96.5.", "18162"];
    web_image(
        &world,
        "i16-kill",
        "docker run -p 127.0.0.1:18162:80 --name ${NAME} ${IMAGE} busybox httpd -f -p 80 -h /www",
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
        .current_dir(world.path())
        .env("ATOMIC_CONF", world.conf())
        .env("ATOMIC_INSTALL_JSON", world.install_json())
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .args(["run", "-q", "--storage", "native", "i16-kill"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    http_get("127.0.0.1:18162");
    child.kill().unwrap();
    child.wait().unwrap();
    // The container goes on without its atomic, and so does its network.
    http_get("127.0.0.1:18162");
    assert!(!host_state(&world, &needles).is_empty());
    let out = native(&world, &["containers", "delete", "-f", "-y", "i16-kill"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
    assert_eq!(containers_left(&world), 0);
}

#[test]
fn a_restarted_container_keeps_its_ports() {
    if !usable() {
        return;
    }
    let world = world(6);
    let needles = ["10.96.6.", "18163"];
    web_image(&world, "i16-restart", "true");
    docker_ok(
        &world,
        &[
            "run",
            "-d",
            "--restart",
            "on-failure",
            "-p",
            "127.0.0.1:18163:80",
            "--name",
            "i16-rs",
            "i16-restart",
            "sh",
            "-c",
            "busybox httpd -p 80 -h /www; sleep 1; busybox pkill httpd; exit 1",
        ],
    );
    http_get("127.0.0.1:18163");
    // After the restart (the process exits 1 a second in), the same port answers again.
    std::thread::sleep(Duration::from_millis(1500));
    http_get("127.0.0.1:18163");
    docker_ok(&world, &["rm", "-f", "i16-rs"]);
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

#[test]
fn a_start_reclaims_the_network_a_killed_atomic_left() {
    if !usable() {
        return;
    }
    let world = world(9);
    let needles = ["10.96.9.", "18166"];
    web_image(
        &world,
        "i16-stale",
        "docker run -p 127.0.0.1:18166:80 --name ${NAME} ${IMAGE} sh -c \
         'busybox httpd -p 80 -h /www; sleep 2'",
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
        .current_dir(world.path())
        .env("ATOMIC_CONF", world.conf())
        .env("ATOMIC_INSTALL_JSON", world.install_json())
        .env("ATOMIC_STORE_ROOT", world.store_root())
        .args(["run", "-q", "--storage", "native", "i16-stale"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    http_get("127.0.0.1:18166");
    child.kill().unwrap();
    child.wait().unwrap();
    // The process ends by itself; nobody took its network down.
    let start = Instant::now();
    while docker_ok(&world, &["inspect", "-f", "{{.State.Status}}", "i16-stale"]).trim() != "exited"
    {
        assert!(start.elapsed() < Duration::from_secs(15), "it did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !host_state(&world, &needles).is_empty(),
        "the stale network"
    );
    docker_ok(&world, &["start", "i16-stale"]);
    http_get("127.0.0.1:18166");
    docker_ok(&world, &["rm", "-f", "i16-stale"]);
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

#[test]
fn twenty_runs_and_two_atomics_at_once_leak_nothing_and_share_no_address() {
    if !usable() {
        return;
    }
    let world = world(7);
    let needles = ["10.96.7."];
    web_image(&world, "i16-cycle", "true");
    for i in 0..20 {
        let out = docker(&world, &["run", "--rm", "i16-cycle", "true"]);
        assert!(out.status.success(), "cycle {i}: {}", stderr(&out));
    }
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());

    let starts: Vec<_> = (0..2)
        .map(|i| {
            let name = format!("i16-pair-{i}");
            let world_dir = world.path().to_path_buf();
            let conf = world.conf();
            let store = world.store_root();
            std::thread::spawn(move || {
                std::process::Command::new(assert_cmd::cargo::cargo_bin("atomic"))
                    .current_dir(world_dir)
                    .env("ATOMIC_CONF", conf)
                    .env("ATOMIC_STORE_ROOT", store)
                    .args([
                        "native-docker",
                        "docker",
                        "run",
                        "-d",
                        "--name",
                        &name,
                        "i16-cycle",
                        "sleep",
                        "60",
                    ])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for s in starts {
        let out = s.join().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let ip = |name: &str| {
        docker_ok(
            &world,
            &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name],
        )
    };
    let (a, b) = (ip("i16-pair-0"), ip("i16-pair-1"));
    assert_ne!(a, b);
    assert!(
        a.starts_with("10.96.7.") && b.starts_with("10.96.7."),
        "{a} {b}"
    );
    docker_ok(&world, &["rm", "-f", "i16-pair-0", "i16-pair-1"]);
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

#[test]
fn port_conflicts_unknown_networks_and_bad_ports_are_clear_errors_that_create_nothing() {
    if !usable() {
        return;
    }
    let world = world(8);
    let needles = ["10.96.8.", "18164", "18165"];
    web_image(&world, "i16-err", "true");
    // A host program holds the port.
    let holder = TcpListener::bind("127.0.0.1:18164").unwrap();
    let out = docker(
        &world,
        &[
            "run",
            "-d",
            "-p",
            "127.0.0.1:18164:80",
            "--name",
            "i16-e1",
            "i16-err",
            "sleep",
            "9",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("18164"), "{}", stderr(&out));
    drop(holder);
    // Another container holds it.
    docker_ok(
        &world,
        &[
            "run", "-d", "-p", "18165:80", "--name", "i16-e2", "i16-err", "sleep", "60",
        ],
    );
    let out = docker(
        &world,
        &["run", "--rm", "-p", "127.0.0.1:18165:80", "i16-err", "true"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("18165") && err.contains("already published"),
        "{err}"
    );
    docker_ok(&world, &["rm", "-f", "i16-e2"]);

    for (args, want) in [
        (
            vec!["--network", "i16-nonet"],
            "network 'i16-nonet' not found",
        ),
        (vec!["-p", "80:80:80:80"], "-p 80:80:80:80"),
        (vec!["-p", "99999"], "not a port number"),
        (vec!["--network", "none", "-p", "80"], "cannot be used"),
    ] {
        let mut all = vec!["run", "--rm"];
        all.extend(args.iter().copied());
        all.extend(["i16-err", "true"]);
        let out = docker(&world, &all);
        // atomic's own failure in a docker command line: 125, as docker says it.
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(containers_left(&world), 0);
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

#[test]
fn link_puts_a_running_containers_address_in_etc_hosts_under_its_alias() {
    if !usable() {
        return;
    }
    let world = world(10);
    let needles = ["10.96.10."];
    web_image(&world, "i17-link", "true");
    docker_ok(
        &world,
        &[
            "run", "-d", "--name", "db", "i17-link", "busybox", "httpd", "-f", "-p", "18167", "-h",
            "/www",
        ],
    );
    // The default bridge has no name resolution: `database` is found in /etc/hosts only.
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do busybox wget -q -O - \
                  http://database:18167/ && exit 0; sleep 0.3; done; exit 1";
    let out = docker(
        &world,
        &[
            "run",
            "--rm",
            "--link",
            "db:database",
            "i17-link",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from i16\n");
    let hosts = docker_ok(
        &world,
        &[
            "run",
            "--rm",
            "--link",
            "db:database",
            "i17-link",
            "cat",
            "/etc/hosts",
        ],
    );
    let line = hosts
        .lines()
        .find(|l| l.contains("database"))
        .unwrap_or_else(|| panic!("{hosts}"));
    let (ip, names) = line.split_once('\t').unwrap();
    assert!(ip.starts_with("10.96.10."), "{line}");
    let names: Vec<&str> = names.split(' ').collect();
    assert_eq!(names[..2], ["database", "db"], "{line}");
    assert_eq!(names.len(), 3, "{line}");

    // Refused before anything is made: an unknown container, a host or no network, a
    // stopped container.
    let refused = |args: &[&str], want: &str| {
        let mut all = vec!["run", "--rm"];
        all.extend(args);
        all.extend(["i17-link", "true"]);
        let out = docker(&world, &all);
        // atomic's own failure in a docker command line: 125, as docker says it.
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert_eq!(containers_left(&world), 1, "{args:?}");
    };
    refused(&["--link", "i17-nosuch:x"], "no such container");
    refused(&["--network", "host", "--link", "db"], "cannot be used");
    refused(&["--network", "none", "--link", "db:x"], "cannot be used");
    docker_ok(&world, &["stop", "db"]);
    refused(&["--link", "db:database"], "not running");
    docker_ok(&world, &["rm", "-f", "db"]);
    assert_eq!(containers_left(&world), 0);
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}

#[test]
fn the_default_bridge_through_netavark_when_atomic_conf_says_so() {
    if !usable() {
        return;
    }
    let world = world(11);
    let conf = std::fs::read_to_string(world.conf()).unwrap();
    std::fs::write(world.conf(), format!("{conf}network_driver: netavark\n")).unwrap();
    let needles = ["10.96.11.", "18168"];
    web_image(
        &world,
        "i16-nvk",
        "docker run -d -p 127.0.0.1:18168:80 --name ${NAME} ${IMAGE} busybox httpd -f -p 80 -h /www",
    );
    let out = native(&world, &["run", "-q", "i16-nvk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    http_get("127.0.0.1:18168");
    let up = host_state(&world, &needles);
    assert!(up.iter().any(|l| l.contains("NETAVARK-DN-")), "{up:#?}");
    assert!(!up.iter().any(|l| l.contains("ATOMIC-")), "{up:#?}");

    // Back to the built-in driver while a netavark container is on the network: a new
    // container there shares its driver (each driver removes the network's rules with its
    // own last container).
    std::fs::write(world.conf(), &conf).unwrap();
    docker_ok(
        &world,
        &["run", "-d", "--name", "i16-nvk2", "i16-nvk", "sleep", "60"],
    );
    let both = host_state(&world, &needles);
    assert!(!both.iter().any(|l| l.contains("ATOMIC-")), "{both:#?}");
    let ip = docker_ok(
        &world,
        &[
            "inspect",
            "-f",
            "{{.NetworkSettings.IPAddress}}",
            "i16-nvk2",
        ],
    );
    assert!(ip.starts_with("10.96.11."), "{ip}");
    docker_ok(&world, &["rm", "-f", "i16-nvk", "i16-nvk2"]);
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());

    // With the network empty, the next container takes the built-in driver again.
    let out = docker(
        &world,
        &["run", "--rm", "-p", "127.0.0.1:18168:80", "i16-nvk", "true"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(host_state(&world, &needles), Vec::<String>::new());
}
