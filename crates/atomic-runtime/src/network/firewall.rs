//! The built-in bridge driver's firewall: what netavark 1.4's iptables driver does for a
//! bridge network (NAT out, forwarding, published ports), written as one `iptables-restore
//! --noflush -w` per setup and one per teardown instead of netavark's three dozen `iptables`
//! calls.
//!
//! Every rule lives in a chain of atomic's own, and the built-in chains (`POSTROUTING`,
//! `FORWARD`, `PREROUTING`, `OUTPUT`) only jump to them, so that a chain's existence says
//! whether its jumps are there (iptables refuses a jump to a missing chain):
//!
//! ```text
//! nat     ATOMIC-N-<network>   POSTROUTING → it: masquerade the subnet going out (unless
//!                              the network is internal), and what is published to
//!                              containers from the host's loopback or the subnet (hairpin)
//! filter  ATOMIC-F-<network>   FORWARD → it: accept the subnet's traffic (dockerd may set
//!                              FORWARD's policy to DROP); internal: keep it on the bridge
//! nat     ATOMIC-C-<container> PREROUTING, OUTPUT (local destinations) → it: the container's
//!                              published ports (DNAT, marking what must be masqueraded)
//! ```
//!
//! A network's chains are made with its first container (its bridge is new) and removed with
//! its last one (its bridge is gone); a container's with its published ports. The script that
//! expects a state checks it in the same transaction (`-N` fails on a chain that exists, `-C`
//! on a jump that does not, `-D` on a rule that is gone): when the host's firewall is not what
//! was expected (a killed atomic's leftovers, a flushed firewall, a second teardown) the
//! script fails as a whole, and a repair script made from `iptables-save`'s view of the
//! chains replaces it. Only atomic's chains and the jumps to them are ever touched.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, Result, anyhow};
use ipnet::Ipv4Net;

use atomic_exec::Task;

use super::ports::PortMapping;

/// The mark of connections to published ports that must leave masqueraded (netavark's and
/// the CNI plugins' bit).
const MASQ_MARK: &str = "0x2000/0x2000";
const MULTICAST_V4: &str = "224.0.0.0/4";

/// A network as its firewall rules see it.
#[derive(Debug, Clone, Copy)]
pub struct NetRules<'a> {
    /// The network's ID (its chains are named after it: the host's firewall is shared by
    /// every store, whose `atomic0`s differ).
    pub id: &'a str,
    pub subnet: Ipv4Net,
    pub bridge: &'a str,
    pub internal: bool,
}

/// A container's published ports on a network.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRules<'a> {
    pub id: &'a str,
    pub ip: Ipv4Addr,
    pub ports: &'a [PortMapping],
}

/// What setup may assume about the network's own chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Its bridge was just made: its chains should not exist yet.
    New,
    /// Its bridge was there (other containers): so should its chains be.
    Present,
}

fn short(id: &str) -> &str {
    crate::state::short_id(id)
}

impl NetRules<'_> {
    fn nat_chain(&self) -> String {
        format!("ATOMIC-N-{}", short(self.id))
    }

    fn filter_chain(&self) -> String {
        format!("ATOMIC-F-{}", short(self.id))
    }

    /// The nat chain's rules (without `-A CHAIN`).
    fn nat_rules(&self) -> Vec<String> {
        let (sub, br) = (self.subnet, self.bridge);
        let mut rules = vec![
            // Published ports reached from the host's loopback or from the subnet itself
            // (marked in the container's chain): the reply must come back through the host.
            format!("-o {br} -m mark --mark {MASQ_MARK} -j MASQUERADE"),
            format!("-s {sub} -d {sub} -j RETURN"),
        ];
        if !self.internal {
            rules.push(format!("-s {sub} ! -d {MULTICAST_V4} -j MASQUERADE"));
        }
        rules
    }

    fn filter_rules(&self) -> Vec<String> {
        let (sub, br) = (self.subnet, self.bridge);
        if self.internal {
            // docker's --internal: the containers reach each other, nothing else.
            return vec![
                format!("-i {br} -o {br} -j ACCEPT"),
                format!("-i {br} -j DROP"),
                format!("-o {br} -j DROP"),
            ];
        }
        vec![
            format!("-d {sub} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            // Connections to published ports from other hosts.
            format!("-d {sub} -m conntrack --ctstate DNAT -j ACCEPT"),
            format!("-s {sub} -j ACCEPT"),
        ]
    }

    /// The network's chains: (table, chain, rules, the built-in chains that jump to it).
    fn chains(&self) -> [OwnChain; 2] {
        [
            OwnChain {
                table: "nat",
                name: self.nat_chain(),
                rules: self.nat_rules(),
                jumps: vec![("POSTROUTING", String::new())],
            },
            OwnChain {
                table: "filter",
                name: self.filter_chain(),
                rules: self.filter_rules(),
                jumps: vec![("FORWARD", String::new())],
            },
        ]
    }
}

impl ContainerRules<'_> {
    fn chain_name(&self) -> String {
        format!("ATOMIC-C-{}", short(self.id))
    }

    /// The container's DNAT chain, None without published (IPv4) ports.
    fn chain(&self, net: &NetRules) -> Option<OwnChain> {
        let mut rules = Vec::new();
        for m in self.ports {
            let dst = match m.host_ip.parse::<IpAddr>() {
                Err(_) => String::new(),
                Ok(IpAddr::V4(ip)) => format!("-d {ip}/32 "),
                // The network is IPv4 only: an IPv6 host address has nothing to reach (as
                // netavark, which skips it).
                Ok(IpAddr::V6(_)) => continue,
            };
            let proto = m.protocol.as_str();
            let range = m.host_range();
            let dport = if range.start == range.end {
                range.start.to_string()
            } else {
                format!("{}:{}", range.start, range.end)
            };
            let matches = format!("{dst}-p {proto} -m {proto} --dport {dport}");
            let to = if m.range > 1 {
                let end = m.container_port + (m.range - 1);
                format!("{}:{}-{end}/{}", self.ip, m.container_port, m.host_port)
            } else {
                format!("{}:{}", self.ip, m.container_port)
            };
            rules.push(format!(
                "-s {} {matches} -j MARK --set-xmark {MASQ_MARK}",
                net.subnet
            ));
            rules.push(format!(
                "-s 127.0.0.1/32 {matches} -j MARK --set-xmark {MASQ_MARK}"
            ));
            rules.push(format!("{matches} -j DNAT --to-destination {to}"));
        }
        if rules.is_empty() {
            return None;
        }
        let local = "-m addrtype --dst-type LOCAL ".to_string();
        Some(OwnChain {
            table: "nat",
            name: self.chain_name(),
            rules,
            jumps: vec![("PREROUTING", local.clone()), ("OUTPUT", local)],
        })
    }
}

/// One of atomic's chains, its rules, and the jumps to it from built-in chains (the jump's
/// matches before `-j`).
#[derive(Debug, Clone)]
struct OwnChain {
    table: &'static str,
    name: String,
    rules: Vec<String>,
    jumps: Vec<(&'static str, String)>,
}

impl OwnChain {
    fn jump(&self, builtin: &str, matches: &str) -> String {
        format!("{builtin} {matches}-j {}", self.name)
    }
}

/// An `iptables-restore` input, table by table (nat first: it holds the checks most likely
/// to fail, and each table is committed on its own).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Script {
    tables: BTreeMap<&'static str, Vec<String>>,
}

const TABLE_ORDER: [&str; 2] = ["nat", "filter"];

impl Script {
    fn push(&mut self, table: &'static str, line: String) {
        self.tables.entry(table).or_default().push(line);
    }

    pub fn is_empty(&self) -> bool {
        self.tables.values().all(Vec::is_empty)
    }

    /// The text `iptables-restore` reads.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for table in TABLE_ORDER {
            let Some(lines) = self.tables.get(table).filter(|l| !l.is_empty()) else {
                continue;
            };
            out.push_str(&format!("*{table}\n"));
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    /// A new chain with its rules and jumps; with `guard` it is made with `-N` (which fails
    /// when it exists), else declared (made, or emptied when it exists).
    fn add_chain(&mut self, chain: &OwnChain, guard: bool) {
        let t = chain.table;
        if guard {
            self.push(t, format!("-N {}", chain.name));
        } else {
            self.push(t, format!(":{} - [0:0]", chain.name));
        }
        for rule in &chain.rules {
            self.push(t, format!("-A {} {rule}", chain.name));
        }
    }

    fn add_jumps(&mut self, chain: &OwnChain, verb: &str) {
        for (builtin, matches) in &chain.jumps {
            self.push(
                chain.table,
                format!("{verb} {}", chain.jump(builtin, matches)),
            );
        }
    }

    /// Remove a chain expected to be there, with its jumps (`-D` fails when one is gone).
    fn remove_chain(&mut self, chain: &OwnChain) {
        self.add_jumps(chain, "-D");
        self.push(chain.table, format!("-F {}", chain.name));
        self.push(chain.table, format!("-X {}", chain.name));
    }
}

/// The setup script: the network's chains as `expect`ed (made, or checked and refilled), the
/// container's published ports.
pub fn setup_script(net: &NetRules, expect: Expect, container: &ContainerRules) -> Script {
    let mut script = Script::default();
    for chain in net.chains() {
        match expect {
            Expect::New => {
                script.add_chain(&chain, true);
                script.add_jumps(&chain, "-A");
            }
            // Only checked: emptying and refilling the chains would make this a transaction
            // that deletes rules, which costs a grace period of the kernel's (see
            // `teardown`).
            Expect::Present => script.add_jumps(&chain, "-C"),
        }
    }
    if let Some(chain) = container.chain(net) {
        script.add_chain(&chain, true);
        script.add_jumps(&chain, "-A");
    }
    script
}

/// The teardown script: the container's published ports, and the network's chains when it
/// was the network's last container (`last`).
pub fn teardown_script(net: &NetRules, last: bool, container: &ContainerRules) -> Script {
    let mut script = Script::default();
    if let Some(chain) = container.chain(net) {
        script.remove_chain(&chain);
    }
    if last {
        for chain in net.chains() {
            script.remove_chain(&chain);
        }
    }
    script
}

/// atomic's chains and the jumps to them as `iptables-save` shows them.
#[derive(Debug, Default)]
pub struct Saved {
    /// (table, chain) of every chain.
    chains: Vec<(String, String)>,
    /// (table, built-in chain, the rule after `-A CHAIN `, its jump target).
    jumps: Vec<(String, String, String, String)>,
}

impl Saved {
    /// Read `iptables-save` output.
    pub fn parse(text: &str) -> Saved {
        let mut saved = Saved::default();
        let mut table = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.trim().to_string();
            } else if let Some(decl) = line.strip_prefix(':') {
                if let Some(name) = decl.split_whitespace().next() {
                    saved.chains.push((table.clone(), name.to_string()));
                }
            } else if let Some(rule) = line.strip_prefix("-A ") {
                let mut words = rule.split_whitespace();
                let Some(chain) = words.next() else { continue };
                let words: Vec<&str> = words.collect();
                let target = words
                    .windows(2)
                    .rev()
                    .find(|w| w[0] == "-j")
                    .map(|w| w[1].to_string());
                if let Some(target) = target.filter(|t| t.starts_with("ATOMIC-")) {
                    let spec = rule[chain.len()..].trim().to_string();
                    saved
                        .jumps
                        .push((table.clone(), chain.to_string(), spec, target));
                }
            }
        }
        saved
    }

    fn has_chain(&self, table: &str, name: &str) -> bool {
        self.chains.iter().any(|(t, c)| t == table && c == name)
    }

    /// The saved jumps from built-in chain `from` to `chain`.
    fn jumps_to<'a>(&'a self, chain: &'a OwnChain, from: &'a str) -> impl Iterator<Item = &'a str> {
        self.jumps
            .iter()
            .filter(move |(t, c, _, target)| t == chain.table && c == from && *target == chain.name)
            .map(|(_, _, spec, _)| spec.as_str())
    }
}

/// Bring the host's firewall to the setup's state from what it is (`saved`): the chains
/// declared and filled, each jump there exactly once.
pub fn setup_repair(saved: &Saved, net: &NetRules, container: &ContainerRules) -> Script {
    let mut script = Script::default();
    let chains = net.chains().into_iter().chain(container.chain(net));
    for chain in chains {
        script.add_chain(&chain, false);
        for (builtin, matches) in &chain.jumps {
            // Any jump of a built-in chain to this one is atomic's: the first stays (its
            // place in the chain too), the others go.
            let mut found = saved.jumps_to(&chain, builtin);
            if found.next().is_none() {
                script.push(chain.table, format!("-A {}", chain.jump(builtin, matches)));
            }
            for extra in found {
                script.push(chain.table, format!("-D {builtin} {extra}"));
            }
        }
    }
    script
}

/// Remove from the host's firewall (as `saved` shows it) what teardown removes, whatever of
/// it is left.
pub fn teardown_repair(
    saved: &Saved,
    net: &NetRules,
    last: bool,
    container: &ContainerRules,
) -> Script {
    let mut script = Script::default();
    // Without published ports now, the container may have had some when it was set up (the
    // record was changed since): its chain goes all the same.
    let mut chains = vec![container.chain(net).unwrap_or_else(|| OwnChain {
        table: "nat",
        name: container.chain_name(),
        rules: Vec::new(),
        jumps: vec![("PREROUTING", String::new()), ("OUTPUT", String::new())],
    })];
    if last {
        chains.extend(net.chains());
    }
    for chain in &chains {
        for (builtin, _) in &chain.jumps {
            for spec in saved.jumps_to(chain, builtin) {
                script.push(chain.table, format!("-D {builtin} {spec}"));
            }
        }
        if saved.has_chain(chain.table, &chain.name) {
            script.push(chain.table, format!("-F {}", chain.name));
            script.push(chain.table, format!("-X {}", chain.name));
        }
    }
    script
}

/// Where iptables lives when atomic's PATH lacks the sbin directories (a supervisor started
/// from a user's shell).
const SBIN: [&str; 2] = ["/usr/sbin", "/sbin"];

/// The iptables program `name`: on PATH, else in an sbin directory; None when not installed.
pub fn program(name: &str) -> Option<std::path::PathBuf> {
    atomic_exec::find_program(name)
        .or_else(|| atomic_exec::find_in(name, SBIN.iter().map(std::path::PathBuf::from)))
}

fn task(what: &str, name: &str) -> Task {
    match program(name) {
        Some(path) => Task::new(what, path),
        // Run by name: the error says it is not installed.
        None => Task::new(what, name),
    }
}

fn restore_task() -> Task {
    task("changing the firewall", "iptables-restore").args(["--noflush", "-w"])
}

/// `iptables-restore --noflush -w` of `script`.
fn restore(script: &Script) -> Result<(), atomic_exec::Error> {
    restore_task()
        .run_with_input(script.render().as_bytes())
        .map(|_| ())
}

/// `iptables-save`'s view of the firewall.
fn save() -> Result<Saved> {
    let out = task("reading the firewall", "iptables-save").run()?;
    Ok(Saved::parse(&String::from_utf8_lossy(&out.stdout)))
}

/// A script on its way: `iptables-restore` started (None: nothing to do).
type Running = Option<Result<atomic_exec::Started, atomic_exec::Error>>;

fn start(fast: &Script) -> Running {
    (!fast.is_empty()).then(|| restore_task().start_with_input(fast.render().into_bytes()))
}

/// Wait for the script; when the firewall was not as it expected, run `repair` (made from
/// what is there).
fn conclude(running: Running, repair: impl FnOnce(&Saved) -> Script) -> Result<()> {
    let Some(started) = running else {
        return Ok(());
    };
    match started.and_then(atomic_exec::Started::finish) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Err(anyhow!(e)).context(
            "the built-in network driver needs iptables-restore: install the iptables package \
             (or set network_driver: netavark in atomic.conf)",
        ),
        Err(first) => {
            tracing::debug!("the firewall was not as expected ({first}); repairing");
            let fix = repair(&save()?);
            if fix.is_empty() {
                return Ok(());
            }
            restore(&fix).map_err(|e| anyhow!(e))
        }
    }
}

/// A setup of the firewall under way (see [`start_setup`]).
pub struct PendingSetup<'a> {
    running: Running,
    net: NetRules<'a>,
    container: ContainerRules<'a>,
}

/// Start setting up the firewall of `container` on `net`: `iptables-restore` runs while the
/// caller makes the links (the rules name the bridge, which need not exist yet).
pub fn start_setup<'a>(
    net: &NetRules<'a>,
    expect: Expect,
    container: &ContainerRules<'a>,
) -> PendingSetup<'a> {
    PendingSetup {
        running: start(&setup_script(net, expect, container)),
        net: *net,
        container: *container,
    }
}

impl PendingSetup<'_> {
    /// Wait for the setup (repairing the firewall when it was not as expected).
    pub fn finish(self) -> Result<()> {
        let (net, container) = (self.net, self.container);
        conclude(self.running, |saved| setup_repair(saved, &net, &container))
    }
}

/// Remove the firewall rules of `container` on `net`, and the network's own when `last`.
/// Whatever is already gone is no error.
///
/// Returns once the rules are committed, without waiting for `iptables-restore` to exit: a
/// transaction that deleted rules makes the kernel wait for an RCU grace period when the
/// program closes its netlink socket, 15-30 ms on this VM just after a container exited (the
/// rules are gone by then; only their memory is not freed yet). The program goes on exiting
/// by itself.
pub fn teardown(net: &NetRules, last: bool, container: &ContainerRules) -> Result<()> {
    let fast = teardown_script(net, last, container);
    if fast.is_empty() {
        return Ok(());
    }
    match restore_committed(&fast) {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Err(anyhow!(e)).context(
            "the built-in network driver needs iptables-restore: install the iptables package \
             (or set network_driver: netavark in atomic.conf)",
        ),
        Err(first) => {
            tracing::debug!("the firewall was not as expected ({first}); repairing");
            let fix = teardown_repair(&save()?, net, last, container);
            if fix.is_empty() {
                return Ok(());
            }
            restore(&fix).map_err(|e| anyhow!(e))
        }
    }
}

/// Comment lines written after a script: more than a pipe holds (64 KiB) and the program's
/// read buffer (4 KiB), so that writing them all is only possible once `iptables-restore` has
/// read past the script's last `COMMIT`, that is, done it (it commits each table as it reads
/// its `COMMIT` line, and reads on only when that succeeded: on failure it exits, and the
/// write fails).
const PADDING_LINES: usize = 256;

/// Run `script`, returning once its last table is committed (see [`teardown`]).
fn restore_committed(script: &Script) -> Result<(), atomic_exec::Error> {
    use std::io::Write;
    use std::process::Stdio;
    reap_lingering();
    let task = restore_task();
    let mut child = task
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| task.spawn_error(e))?;
    let mut input = script.render();
    let comment = format!("#{}\n", "-".repeat(1022));
    for _ in 0..PADDING_LINES {
        input.push_str(&comment);
    }
    let written = match child.stdin.take() {
        Some(mut stdin) => stdin.write_all(input.as_bytes()).is_ok(),
        None => false,
    };
    if !written {
        // It stopped reading: it failed, and says why.
        let out = child.wait_with_output().map_err(|e| task.spawn_error(e))?;
        return Err(task.failure(out.status, &out.stderr));
    }
    // Its stdin is closed (dropped above): it reads the end of its input and exits.
    lingering().push(child);
    Ok(())
}

/// `iptables-restore`s that committed and are still exiting: reaped later, so that a
/// long-lived supervisor keeps no zombies.
fn lingering() -> std::sync::MutexGuard<'static, Vec<std::process::Child>> {
    static LINGERING: std::sync::Mutex<Vec<std::process::Child>> =
        std::sync::Mutex::new(Vec::new());
    LINGERING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn reap_lingering() {
    lingering().retain_mut(|child| matches!(child.try_wait(), Ok(None)));
}

#[cfg(test)]
#[path = "firewall_tests.rs"]
mod tests;
