//! `atomic top`: the processes of running containers, on every engine, in the original's
//! columns:
//!
//! ```text
//! CONTAINER    NAME       PID     %CPU  %MEM  UID   GID   CMD
//! 3f2a7c9e1b04 web        81233    0.3   0.1  0     0     httpd -f -p 8080
//! ```
//!
//! Processes are read from the host's /proc (every engine here runs its containers as host
//! processes): a container's are its main process and all its descendants. %CPU is over the
//! last interval (since the process started, on the first), %MEM the share of MemTotal.
//! On a terminal the screen is redrawn every `-d` seconds until Ctrl-C; without one, `-n`
//! tables are printed (one by default), so `atomic top | grep` works.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use atomic_engine::ContainerInfo;

use crate::cli::StorageArg;
use crate::cli::images::engines;
use crate::config::Config;
use crate::output;

#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(flatten)]
    storage: StorageArg,
    /// Seconds between refreshes
    #[arg(short = 'd', value_name = "SECONDS", default_value_t = 1)]
    delay: u64,
    /// Show these columns too (repeatable)
    #[arg(short = 'o', long = "optional", value_enum)]
    optional: Vec<Optional>,
    /// Number of tables to print (default: until interrupted on a terminal, else 1)
    #[arg(short = 'n', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    iterations: Option<u64>,
    /// Containers to show (names or ID prefixes; default: every running container)
    #[arg(value_name = "CONTAINER")]
    containers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Optional {
    Time,
    Stime,
    Ppid,
    User,
    Group,
}

/// One process as /proc shows it.
#[derive(Debug, Clone)]
struct Proc {
    pid: i32,
    ppid: i32,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    /// Since boot, in clock ticks.
    start_ticks: u64,
    rss_pages: u64,
    uid: u32,
    gid: u32,
    cmd: String,
}

pub async fn top(args: TopArgs, config: &Config) -> Result<i32> {
    let selection = args.storage.selection(config)?;
    let mut targets: Vec<ContainerInfo> = Vec::new();
    for engine in engines(&selection)? {
        match engine.list_containers().await {
            Ok(found) => targets.extend(found.into_iter().filter(|c| c.pid.is_some())),
            Err(e) if selection.explicit.is_some() => return Err(e.into()),
            Err(e) => eprintln!("warning: cannot list {} containers: {e}", engine.kind()),
        }
    }
    if !args.containers.is_empty() {
        for wanted in &args.containers {
            if !targets.iter().any(|c| matches(c, wanted)) {
                bail!("container '{wanted}' is not running");
            }
        }
        targets.retain(|c| args.containers.iter().any(|w| matches(c, w)));
    }
    if targets.is_empty() {
        output::line("No containers running")?;
        return Ok(0);
    }
    targets.sort_by(|a, b| a.id.cmp(&b.id));

    let tty = std::io::stdout().is_terminal();
    let iterations = args.iterations.unwrap_or(if tty { u64::MAX } else { 1 });
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let mut previous: HashMap<i32, u64> = HashMap::new();
    let mut last = Instant::now();
    for i in 0..iterations {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(args.delay));
        }
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        let procs = read_procs();
        let rows = rows(&targets, &procs, &previous, elapsed, ticks);
        previous = procs.values().map(|p| (p.pid, p.cpu_ticks)).collect();
        let table = render(&rows, &args.optional, tty);
        if tty {
            // The original's refresh: clear the screen, title, reverse-video header.
            output::text_out(&format!("\x1bc{:^80}\n\n{table}", "ATOMIC TOP"))?;
        } else {
            if i > 0 {
                output::text_out("\n")?;
            }
            output::text_out(&table)?;
        }
    }
    Ok(0)
}

fn matches(c: &ContainerInfo, wanted: &str) -> bool {
    c.name == wanted || c.id.starts_with(wanted)
}

/// One row: the container, the process, and its CPU share.
struct Row<'a> {
    container: &'a ContainerInfo,
    proc: &'a Proc,
    cpu: f64,
    mem: f64,
}

/// Each container's main process and its descendants.
fn rows<'a>(
    targets: &'a [ContainerInfo],
    procs: &'a BTreeMap<i32, Proc>,
    previous: &HashMap<i32, u64>,
    elapsed: f64,
    ticks: f64,
) -> Vec<Row<'a>> {
    let uptime = read_uptime();
    let mem_total = mem_total_bytes();
    let page = rustix::param::page_size() as f64;
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in procs.values() {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    for container in targets {
        let Some(root) = container.pid else { continue };
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            let Some(proc) = procs.get(&pid) else {
                continue;
            };
            let cpu = match previous.get(&pid) {
                Some(before) if elapsed > 0.0 => {
                    (proc.cpu_ticks.saturating_sub(*before)) as f64 / ticks / elapsed * 100.0
                }
                _ => {
                    // First look: ps's %CPU, over the process's whole life.
                    let life = uptime - proc.start_ticks as f64 / ticks;
                    if life > 0.0 {
                        proc.cpu_ticks as f64 / ticks / life * 100.0
                    } else {
                        0.0
                    }
                }
            };
            let mem = if mem_total > 0.0 {
                proc.rss_pages as f64 * page / mem_total * 100.0
            } else {
                0.0
            };
            out.push(Row {
                container,
                proc,
                cpu,
                mem,
            });
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().rev());
            }
        }
    }
    out
}

fn render(rows: &[Row], optional: &[Optional], tty: bool) -> String {
    let name_width = rows
        .iter()
        .map(|r| r.container.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    let ticks = rustix::param::clock_ticks_per_second() as u64;
    // The host's users and groups (the processes are the host's), through NSS as ps sees
    // them; each ID asked once.
    let names = uzers::UsersCache::new();
    let mut head = format!(
        "{:12} {:name_width$} {:>7} {:>5} {:>5} {:5} {:5}",
        "CONTAINER", "NAME", "PID", "%CPU", "%MEM", "UID", "GID"
    );
    for o in optional {
        head.push_str(&format!(" {:10}", o.title()));
    }
    head.push_str(" CMD");
    let mut out = if tty {
        format!("\x1b[7m{head}\x1b[0m\n")
    } else {
        format!("{head}\n")
    };
    for r in rows {
        let mut line = format!(
            "{:12} {:name_width$} {:>7} {:>5.1} {:>5.1} {:<5} {:<5}",
            &r.container.id[..12.min(r.container.id.len())],
            r.container.name,
            r.proc.pid,
            r.cpu,
            r.mem,
            r.proc.uid,
            r.proc.gid
        );
        for o in optional {
            let value = match o {
                Optional::Time => clock(r.proc.cpu_ticks / ticks.max(1)),
                Optional::Stime => clock(r.proc.start_ticks / ticks.max(1)),
                Optional::Ppid => r.proc.ppid.to_string(),
                Optional::User => {
                    use uzers::Users;
                    names.get_user_by_uid(r.proc.uid).map_or_else(
                        || r.proc.uid.to_string(),
                        |u| u.name().to_string_lossy().into_owned(),
                    )
                }
                Optional::Group => {
                    use uzers::Groups;
                    names.get_group_by_gid(r.proc.gid).map_or_else(
                        || r.proc.gid.to_string(),
                        |g| g.name().to_string_lossy().into_owned(),
                    )
                }
            };
            line.push_str(&format!(" {value:10}"));
        }
        line.push(' ');
        line.push_str(&r.proc.cmd);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

impl Optional {
    fn title(self) -> &'static str {
        match self {
            Optional::Time => "TIME",
            Optional::Stime => "STIME",
            Optional::Ppid => "PPID",
            Optional::User => "USER",
            Optional::Group => "GROUP",
        }
    }
}

/// Seconds as `H:MM:SS`.
fn clock(seconds: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Every process on the host, by PID.
fn read_procs() -> BTreeMap<i32, Proc> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // A process may end while it is read: it is simply not shown.
        if let Some(p) = read_proc(pid) {
            out.insert(pid, p);
        }
    }
    out
}

fn read_proc(pid: i32) -> Option<Proc> {
    let dir = format!("/proc/{pid}");
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    let (comm_part, rest) = stat.rsplit_once(')')?;
    let comm = comm_part.split_once('(')?.1.to_string();
    // Fields after the command, starting with field 3 (state).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let id_of = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u32>().ok())
    };
    let cmdline = std::fs::read(format!("{dir}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        String::from_utf8_lossy(&cmdline)
            .trim_end_matches('\0')
            .replace('\0', " ")
    };
    Some(Proc {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        cpu_ticks: num(14)? + num(15)?,
        start_ticks: num(22)?,
        rss_pages: num(24)?,
        uid: id_of("Uid:")?,
        gid: id_of("Gid:")?,
        cmd,
    })
}

fn read_uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn mem_total_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_from_proc() {
        let me = read_proc(std::process::id() as i32).expect("our own /proc entry");
        assert_eq!(me.pid, std::process::id() as i32);
        assert_eq!(me.uid, rustix::process::getuid().as_raw());
        assert!(me.start_ticks > 0 && me.rss_pages > 0);
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(0), "0:00:00");
        assert_eq!(clock(3_725), "1:02:05");
    }
}
