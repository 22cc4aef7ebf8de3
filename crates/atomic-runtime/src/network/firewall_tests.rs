use super::*;
use crate::network::ports::Proto;

const NET_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CID: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn net(internal: bool) -> NetRules<'static> {
    NetRules {
        id: NET_ID,
        subnet: "10.96.1.0/24".parse().unwrap(),
        bridge: "atomic01234567",
        internal,
    }
}

fn port(host_ip: &str, host: u16, container: u16, range: u16, protocol: Proto) -> PortMapping {
    PortMapping {
        host_ip: host_ip.into(),
        container_port: container,
        host_port: host,
        range,
        protocol,
    }
}

fn container(ports: &[PortMapping]) -> ContainerRules<'_> {
    ContainerRules {
        id: CID,
        ip: "10.96.1.2".parse().unwrap(),
        ports,
    }
}

#[test]
fn the_first_container_makes_the_networks_chains_and_its_ports() {
    let ports = [
        port("127.0.0.1", 18160, 80, 1, Proto::Tcp),
        port("", 18171, 53, 3, Proto::Udp),
    ];
    let text = setup_script(&net(false), Expect::New, &container(&ports)).render();
    assert_eq!(
        text,
        "*nat
-N ATOMIC-N-0123456789ab
-A ATOMIC-N-0123456789ab -o atomic01234567 -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A ATOMIC-N-0123456789ab -s 10.96.1.0/24 -d 10.96.1.0/24 -j RETURN
-A ATOMIC-N-0123456789ab -s 10.96.1.0/24 ! -d 224.0.0.0/4 -j MASQUERADE
-A POSTROUTING -j ATOMIC-N-0123456789ab
-N ATOMIC-C-fedcba987654
-A ATOMIC-C-fedcba987654 -s 10.96.1.0/24 -d 127.0.0.1/32 -p tcp -m tcp --dport 18160 -j MARK --set-xmark 0x2000/0x2000
-A ATOMIC-C-fedcba987654 -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m tcp --dport 18160 -j MARK --set-xmark 0x2000/0x2000
-A ATOMIC-C-fedcba987654 -d 127.0.0.1/32 -p tcp -m tcp --dport 18160 -j DNAT --to-destination 10.96.1.2:80
-A ATOMIC-C-fedcba987654 -s 10.96.1.0/24 -p udp -m udp --dport 18171:18173 -j MARK --set-xmark 0x2000/0x2000
-A ATOMIC-C-fedcba987654 -s 127.0.0.1/32 -p udp -m udp --dport 18171:18173 -j MARK --set-xmark 0x2000/0x2000
-A ATOMIC-C-fedcba987654 -p udp -m udp --dport 18171:18173 -j DNAT --to-destination 10.96.1.2:53-55/18171
-A PREROUTING -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-A OUTPUT -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
COMMIT
*filter
-N ATOMIC-F-0123456789ab
-A ATOMIC-F-0123456789ab -d 10.96.1.0/24 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ATOMIC-F-0123456789ab -d 10.96.1.0/24 -m conntrack --ctstate DNAT -j ACCEPT
-A ATOMIC-F-0123456789ab -s 10.96.1.0/24 -j ACCEPT
-A FORWARD -j ATOMIC-F-0123456789ab
COMMIT
"
    );
}

#[test]
fn a_later_container_checks_the_networks_chains_and_adds_its_own() {
    let ports = [port("", 18160, 80, 1, Proto::Tcp)];
    let text = setup_script(&net(false), Expect::Present, &container(&ports)).render();
    assert_eq!(
        text,
        "*nat
-C POSTROUTING -j ATOMIC-N-0123456789ab
-N ATOMIC-C-fedcba987654
-A ATOMIC-C-fedcba987654 -s 10.96.1.0/24 -p tcp -m tcp --dport 18160 -j MARK --set-xmark 0x2000/0x2000
-A ATOMIC-C-fedcba987654 -s 127.0.0.1/32 -p tcp -m tcp --dport 18160 -j MARK --set-xmark 0x2000/0x2000
-A ATOMIC-C-fedcba987654 -p tcp -m tcp --dport 18160 -j DNAT --to-destination 10.96.1.2:80
-A PREROUTING -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-A OUTPUT -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
COMMIT
*filter
-C FORWARD -j ATOMIC-F-0123456789ab
COMMIT
"
    );
}

#[test]
fn an_internal_network_has_no_way_out() {
    let text = setup_script(&net(true), Expect::New, &container(&[])).render();
    assert!(!text.contains("! -d 224.0.0.0/4 -j MASQUERADE"), "{text}");
    assert!(
        text.contains("-A ATOMIC-F-0123456789ab -i atomic01234567 -j DROP\n"),
        "{text}"
    );
    assert!(
        !text.contains("ACCEPT\n-A ATOMIC-F-0123456789ab -s"),
        "{text}"
    );
}

#[test]
fn ipv6_host_addresses_and_sctp() {
    let ports = [
        port("::1", 18162, 80, 1, Proto::Tcp),
        port("", 18163, 9, 1, Proto::Sctp),
    ];
    let text = setup_script(&net(false), Expect::Present, &container(&ports)).render();
    assert!(!text.contains("18162"), "{text}");
    assert!(
        text.contains("-A ATOMIC-C-fedcba987654 -p sctp -m sctp --dport 18163 -j DNAT --to-destination 10.96.1.2:9\n"),
        "{text}"
    );
    // Only IPv6 ports: no chain at all.
    let only6 = [port("::1", 18162, 80, 1, Proto::Tcp)];
    let text = setup_script(&net(false), Expect::Present, &container(&only6)).render();
    assert!(!text.contains("ATOMIC-C-"), "{text}");
}

#[test]
fn teardown_removes_the_container_and_with_the_last_one_the_network() {
    let ports = [port("", 18160, 80, 1, Proto::Tcp)];
    let text = teardown_script(&net(false), false, &container(&ports)).render();
    assert_eq!(
        text,
        "*nat
-D PREROUTING -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-D OUTPUT -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-F ATOMIC-C-fedcba987654
-X ATOMIC-C-fedcba987654
COMMIT
"
    );
    // Not the last and no ports: nothing to run at all.
    assert!(teardown_script(&net(false), false, &container(&[])).is_empty());
    let text = teardown_script(&net(false), true, &container(&[])).render();
    assert_eq!(
        text,
        "*nat
-D POSTROUTING -j ATOMIC-N-0123456789ab
-F ATOMIC-N-0123456789ab
-X ATOMIC-N-0123456789ab
COMMIT
*filter
-D FORWARD -j ATOMIC-F-0123456789ab
-F ATOMIC-F-0123456789ab
-X ATOMIC-F-0123456789ab
COMMIT
"
    );
}

/// What `iptables-save` showed with a killed atomic's container and a duplicated jump.
const SAVED: &str = "# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ATOMIC-F-0123456789ab - [0:0]
:NETAVARK_FORWARD - [0:0]
-A FORWARD -m comment --comment \"netavark firewall plugin rules\" -j NETAVARK_FORWARD
-A FORWARD -j ATOMIC-F-0123456789ab
-A ATOMIC-F-0123456789ab -s 10.96.1.0/24 -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ATOMIC-C-fedcba987654 - [0:0]
:ATOMIC-N-0123456789ab - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-A OUTPUT -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-A POSTROUTING -j ATOMIC-N-0123456789ab
-A POSTROUTING -j ATOMIC-N-0123456789ab
-A ATOMIC-C-fedcba987654 -p tcp -m tcp --dport 18160 -j DNAT --to-destination 10.96.1.2:80
COMMIT
";

#[test]
fn a_repaired_setup_declares_the_chains_and_keeps_one_jump_each() {
    let saved = Saved::parse(SAVED);
    let ports = [port("", 18160, 80, 1, Proto::Tcp)];
    let text = setup_repair(&saved, &net(false), &container(&ports)).render();
    let lines: Vec<&str> = text.lines().collect();
    // Declared (made or emptied) and refilled; the jumps already there are not added again,
    // the second POSTROUTING one goes.
    for want in [
        ":ATOMIC-N-0123456789ab - [0:0]",
        ":ATOMIC-C-fedcba987654 - [0:0]",
        ":ATOMIC-F-0123456789ab - [0:0]",
        "-D POSTROUTING -j ATOMIC-N-0123456789ab",
    ] {
        assert!(lines.contains(&want), "{want}: {text}");
    }
    assert_eq!(text.matches("-A POSTROUTING").count(), 0, "{text}");
    assert_eq!(text.matches("-A PREROUTING").count(), 0, "{text}");
    assert_eq!(text.matches("-A FORWARD").count(), 0, "{text}");
    // On an empty firewall every jump is added.
    let text = setup_repair(&Saved::parse(""), &net(false), &container(&ports)).render();
    for want in [
        "-A POSTROUTING -j ATOMIC-N-0123456789ab",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654",
        "-A FORWARD -j ATOMIC-F-0123456789ab",
    ] {
        assert!(text.lines().any(|l| l == want), "{want}: {text}");
    }
}

#[test]
fn a_repaired_teardown_removes_whatever_is_left_and_nothing_else() {
    let saved = Saved::parse(SAVED);
    // The record has no ports any more; the saved chain of the container goes all the same.
    let text = teardown_repair(&saved, &net(false), true, &container(&[])).render();
    assert_eq!(
        text,
        "*nat
-D PREROUTING -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-D OUTPUT -m addrtype --dst-type LOCAL -j ATOMIC-C-fedcba987654
-F ATOMIC-C-fedcba987654
-X ATOMIC-C-fedcba987654
-D POSTROUTING -j ATOMIC-N-0123456789ab
-D POSTROUTING -j ATOMIC-N-0123456789ab
-F ATOMIC-N-0123456789ab
-X ATOMIC-N-0123456789ab
COMMIT
*filter
-D FORWARD -j ATOMIC-F-0123456789ab
-F ATOMIC-F-0123456789ab
-X ATOMIC-F-0123456789ab
COMMIT
"
    );
    // Not the last container: the network's chains stay.
    let text = teardown_repair(&saved, &net(false), false, &container(&[])).render();
    assert!(!text.contains("ATOMIC-N-"), "{text}");
    // Nothing left: nothing to run.
    let empty = Saved::parse("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n");
    assert!(teardown_repair(&empty, &net(false), true, &container(&[])).is_empty());
}
