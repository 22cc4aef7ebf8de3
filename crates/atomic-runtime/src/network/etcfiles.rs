//! A container's `/etc/hosts` and `/etc/resolv.conf`, as docker writes them.

use std::net::IpAddr;

/// docker's `/etc/hosts`: loopback and IPv6 names, `--add-host` entries, then the container's
/// own address and hostname (loopback's 127.0.1.1 without a network).
pub fn hosts(hostname: &str, own: Option<IpAddr>, extra: &[(String, IpAddr)]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    match own {
        Some(ip) => out.push_str(&format!("{ip}\t{hostname}\n")),
        None => out.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    out
}

/// What the container's resolver is told.
#[derive(Debug, Default)]
pub struct DnsSettings<'a> {
    /// `--dns`.
    pub servers: &'a [IpAddr],
    /// `--dns-search`.
    pub search: &'a [String],
    /// `--dns-option`.
    pub options: &'a [String],
    /// The network's own DNS server (aardvark-dns on the gateway), when it has one.
    pub network_dns: Option<IpAddr>,
}

/// docker's rule: `--dns` servers if given; else the network's DNS server on a network with
/// name resolution; else the host's servers without loopback ones (unreachable from the
/// container's namespace), and if none is left, the network's DNS or docker's fallback
/// (Google's public servers). Search domains and options are the host's unless given.
pub fn resolv_conf(host: &str, dns: &DnsSettings) -> String {
    let mut host_servers = Vec::new();
    let (mut host_search, mut host_options) = (Vec::new(), Vec::new());
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                    host_servers.push(ip);
                }
            }
            Some("search") | Some("domain") => {
                host_search = words.map(str::to_string).collect();
            }
            Some("options") => host_options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    let servers: Vec<IpAddr> = if !dns.servers.is_empty() {
        dns.servers.to_vec()
    } else if let Some(net) = dns.network_dns {
        vec![net]
    } else {
        let usable: Vec<IpAddr> = host_servers
            .into_iter()
            .filter(|ip| !ip.is_loopback())
            .collect();
        if usable.is_empty() {
            ["8.8.8.8", "8.8.4.4"]
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect()
        } else {
            usable
        }
    };
    let search = if dns.search.is_empty() {
        host_search
    } else {
        dns.search.to_vec()
    };
    let options = if dns.options.is_empty() {
        host_options
    } else {
        dns.options.to_vec()
    };
    let mut out = String::new();
    if !search.is_empty() && search != ["."] {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ip in servers {
        out.push_str(&format!("nameserver {ip}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn hosts_end_with_the_containers_own_line() {
        let text = hosts(
            "web",
            Some(ip("10.90.0.2")),
            &[("db".into(), ip("10.0.0.9"))],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[6], "10.0.0.9\tdb");
        assert_eq!(lines[7], "10.90.0.2\tweb");
        assert!(hosts("x", None, &[]).ends_with("127.0.1.1\tx\n"));
    }

    #[test]
    fn resolv_conf_follows_dockers_rules() {
        let host = "# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\n\
                    search corp.example\noptions edns0\n";
        let plain = resolv_conf(host, &DnsSettings::default());
        assert_eq!(
            plain,
            "search corp.example\nnameserver 10.255.255.53\noptions edns0\n"
        );
        let only_loopback = resolv_conf("nameserver 127.0.0.53\n", &DnsSettings::default());
        assert_eq!(only_loopback, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        let net = DnsSettings {
            network_dns: Some(ip("10.91.0.1")),
            ..DnsSettings::default()
        };
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\n", &net),
            "nameserver 10.91.0.1\n"
        );
        let given = DnsSettings {
            servers: &[ip("1.1.1.1")],
            search: &["a.example".into(), "b.example".into()],
            options: &["ndots:2".into()],
            network_dns: Some(ip("10.91.0.1")),
        };
        assert_eq!(
            resolv_conf(host, &given),
            "search a.example b.example\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
    }
}
