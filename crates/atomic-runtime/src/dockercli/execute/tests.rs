//! The executor's logic against a recording fake engine (`fake.rs`): what each verb asks of
//! the engine, in which order, what it prints and what it returns. No root, no runc, no store.

mod fake;

use anyhow::Result;

use super::execute;
use crate::state::Status::{Created, Exited, Running};
use fake::Fake;

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Run `argv` on `engine` with the label's variables `env`: its result and its stdout.
fn docker_with(engine: &Fake, argv: &[String], env: &[(String, String)]) -> (Result<i32>, String) {
    let mut out = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = runtime.block_on(execute(argv, env, engine, &mut out));
    (result, String::from_utf8(out).unwrap())
}

fn docker(engine: &Fake, line: &str) -> (Result<i32>, String) {
    docker_with(engine, &argv(line), &[])
}

#[test]
fn start_names_a_running_container_and_starts_only_the_others() {
    let engine = Fake::new(&[], &[("web", Running), ("db", Exited), ("new", Created)]);
    let (code, out) = docker(&engine, "docker start web db new");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "web\ndb\nnew\n");
    assert_eq!(engine.calls(), ["start db", "start new"]);
}

#[test]
fn start_attached_runs_the_container_and_passes_its_exit_code() {
    let engine = Fake::new(&[], &[("db", Exited)]);
    let (code, out) = docker(&engine, "docker start -a db");
    assert_eq!(code.unwrap(), 7);
    assert_eq!(out, "", "an attached start prints no name");
    assert_eq!(engine.calls(), ["run db"]);
}

#[test]
fn start_of_a_missing_container_names_it() {
    let engine = Fake::new(&[], &[("web", Exited)]);
    let (code, out) = docker(&engine, "docker start nope web");
    let error = format!("{:#}", code.unwrap_err());
    assert!(error.contains("container 'nope' not found"), "{error}");
    assert_eq!(out, "");
    assert!(
        engine.calls().is_empty(),
        "nothing started: {:?}",
        engine.calls()
    );
}

#[test]
fn kill_sends_sigkill_unless_told_and_refuses_a_stopped_container_by_name() {
    let engine = Fake::new(&[], &[("web", Running), ("db", Exited), ("cache", Running)]);
    let (code, out) = docker(&engine, "docker kill web db cache");
    let error = code.unwrap_err().to_string();
    assert_eq!(error, "container db is not running");
    assert_eq!(
        out, "web\n",
        "the containers before the stopped one were killed"
    );
    assert_eq!(engine.calls(), ["kill SIGKILL web"]);

    let (code, out) = docker(&engine, "docker kill -s SIGHUP cache");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "cache\n");
    assert_eq!(engine.calls().last().unwrap(), "kill SIGHUP cache");
}

#[test]
fn rm_removes_each_name_in_order_and_stops_at_the_first_failure() {
    let engine = Fake::new(&[], &[("a", Exited), ("b", Running), ("c", Exited)]);
    let (code, out) = docker(&engine, "docker rm -f b a nope c");
    let error = format!("{:#}", code.unwrap_err());
    assert!(error.contains("'nope'"), "{error}");
    assert_eq!(out, "b\na\n");
    assert_eq!(
        engine.calls(),
        ["rm b force=true", "rm a force=true", "rm nope force=true"]
    );
    let left: Vec<String> = engine
        .containers
        .borrow()
        .iter()
        .map(|(r, _)| r.name.clone())
        .collect();
    assert_eq!(left, ["c"], "c, after the failure, is kept");
}

#[test]
fn rm_without_force_says_so_to_the_engine() {
    let engine = Fake::new(&[], &[("a", Exited)]);
    let (code, out) = docker(&engine, "docker rm a");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "a\n");
    assert_eq!(engine.calls(), ["rm a force=false"]);
}

#[test]
fn stop_passes_its_timeout_and_names_each_container() {
    let engine = Fake::new(&[], &[("web", Running), ("db", Running)]);
    let (code, out) = docker(&engine, "docker stop -t 3 web db");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "web\ndb\n");
    assert_eq!(engine.calls(), ["stop web Some(3)", "stop db Some(3)"]);

    let (code, _) = docker(&engine, "docker stop --time=0 web");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(engine.calls().last().unwrap(), "stop web Some(0)");
    let (code, _) = docker(&engine, "docker stop web");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(engine.calls().last().unwrap(), "stop web None");
}

#[test]
fn create_only_prints_the_new_id_and_runs_nothing() {
    let engine = Fake::new(&["busybox"], &[]);
    let (code, out) = docker(&engine, "docker create --name made busybox true");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, format!("{}\n", engine.id_of("made")));
    assert_eq!(engine.calls(), ["find busybox", "create busybox"]);
}

#[test]
fn run_detached_starts_under_the_supervisor_and_prints_the_id() {
    let engine = Fake::new(&["busybox"], &[]);
    let (code, out) = docker(&engine, "docker run -d --name bg busybox sleep 9");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, format!("{}\n", engine.id_of("bg")));
    assert_eq!(
        engine.calls(),
        ["find busybox", "create busybox", "start bg"]
    );
}

#[test]
fn run_pulls_a_missing_image_then_runs_attached_with_the_containers_exit_code() {
    let engine = Fake::new(&[], &[]);
    let (code, out) = docker(&engine, "docker run --rm --name fg alpine true");
    assert_eq!(code.unwrap(), 7);
    assert_eq!(out, "");
    assert_eq!(
        engine.calls(),
        ["find alpine", "pull alpine", "create alpine", "run fg"]
    );
}

#[test]
fn run_of_an_image_that_cannot_be_pulled_creates_nothing() {
    let engine = Fake::new(&[], &[]);
    let (code, _) = docker(&engine, "docker run --name x unreachable.example/img");
    let error = format!("{:#}", code.unwrap_err());
    assert!(error.contains("no such registry"), "{error}");
    assert_eq!(
        engine.calls(),
        [
            "find unreachable.example/img",
            "pull unreachable.example/img"
        ]
    );
    assert!(engine.containers.borrow().is_empty());
}

#[test]
fn pull_asks_the_engine_and_prints_nothing_on_stdout() {
    let engine = Fake::new(&[], &[]);
    let (code, out) = docker(&engine, "docker pull busybox:1.36");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "");
    assert_eq!(engine.calls(), ["pull busybox:1.36"]);
}

#[test]
fn inspect_format_renders_each_container_on_its_line() {
    let engine = Fake::new(&[], &[("web", Running), ("db", Exited)]);
    let mut line = argv("docker inspect --format");
    line.push("{{.Name}} {{.State.Status}} {{.State.Running}} {{.LogPath}}".into());
    line.extend(argv("web db"));
    let (code, out) = docker_with(&engine, &line, &[]);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(
        out,
        "/web running true /fake/web.log\n/db exited false /fake/db.log\n"
    );
}

#[test]
fn inspect_prints_a_json_array_in_dockers_shape() {
    let engine = Fake::new(&[], &[("web", Running)]);
    let (code, out) = docker(&engine, "docker inspect web");
    assert_eq!(code.unwrap(), 0);
    let items: serde_json::Value = serde_json::from_str(&out).unwrap();
    let web = &items[0];
    assert_eq!(web["Id"], engine.id_of("web"));
    assert_eq!(web["Config"]["Image"], "busybox");
    assert_eq!(web["State"]["Running"], true);
    assert_eq!(web["NetworkSettings"]["Networks"], serde_json::json!({}));
    assert_eq!(items.as_array().unwrap().len(), 1);
}

#[test]
fn inspect_with_a_go_function_is_refused_before_printing() {
    let engine = Fake::new(&[], &[("web", Running)]);
    let line = ["docker", "inspect", "-f", "{{json .State}}", "web"].map(String::from);
    let (code, out) = docker_with(&engine, &line, &[]);
    let error = code.unwrap_err().to_string();
    assert!(error.contains("only field paths"), "{error}");
    assert_eq!(out, "");
}

#[test]
fn exec_resolves_the_environment_as_docker_does() {
    let engine = Fake::new(&[], &[("web", Running)]);
    let line = argv("docker exec -i -e A=1 -e NAME -e I14_SURELY_UNSET web sh -c true");
    let label_env = [("NAME".to_string(), "web".to_string())];
    let (code, out) = docker_with(&engine, &line, &label_env);
    assert_eq!(code.unwrap(), 7, "exec passes the command's exit code");
    assert_eq!(out, "");
    assert_eq!(
        engine.calls(),
        [r#"exec ["sh", "-c", "true"] env=["A=1", "NAME=web"] stdin=true web"#]
    );
}

#[test]
fn exec_without_i_gives_the_command_no_stdin() {
    let engine = Fake::new(&[], &[("web", Running)]);
    let (code, _) = docker(&engine, "docker exec web true");
    assert_eq!(code.unwrap(), 7);
    assert_eq!(engine.calls(), [r#"exec ["true"] env=[] stdin=false web"#]);
}

#[test]
fn logs_print_on_the_given_writer() {
    let engine = Fake::new(&[], &[("web", Exited)]);
    let (code, out) = docker(&engine, "docker logs --tail 5 web");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "hello from web\n");
    assert_eq!(engine.calls(), ["logs web"]);
}

#[test]
fn port_lists_nothing_for_a_container_without_ports_and_names_a_missing_one() {
    let engine = Fake::new(&[], &[("web", Running)]);
    let (code, out) = docker(&engine, "docker port web");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "");
    let (code, _) = docker(&engine, "docker port web 80");
    let error = code.unwrap_err().to_string();
    assert_eq!(error, "no public port '80/tcp' published for web");
}

#[test]
fn network_verbs_print_what_docker_prints() {
    let engine = Fake::new(&[], &[]);
    let (code, out) = docker(&engine, "docker network ls -q");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "", "no network yet");

    let (code, out) = docker(
        &engine,
        "docker network create --subnet 10.214.3.0/24 i14-net",
    );
    assert_eq!(code.unwrap(), 0);
    let id = out.trim().to_string();
    assert_eq!(id.len(), 64, "the new network's ID: {out:?}");

    let (code, out) = docker(&engine, "docker network ls");
    assert_eq!(code.unwrap(), 0);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].starts_with("NETWORK ID"), "{out}");
    assert!(
        rows[1].starts_with(&id[..12]) && rows[1].ends_with("10.214.3.0/24"),
        "{out}"
    );

    let line = [
        "docker",
        "network",
        "inspect",
        "-f",
        "{{.Name}} {{.Internal}}",
        "i14-net",
    ];
    let (code, out) = docker_with(&engine, &line.map(String::from), &[]);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "i14-net false\n");

    let (code, out) = docker(&engine, "docker network rm i14-net");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "i14-net\n");
    let (code, out) = docker(&engine, "docker network ls -q");
    assert_eq!((code.unwrap(), out.as_str()), (0, ""));
}

#[test]
fn a_command_line_the_parser_refuses_runs_nothing() {
    let engine = Fake::new(&["busybox"], &[]);
    let (code, out) = docker(&engine, "docker run --memory 1g busybox");
    let error = code.unwrap_err().to_string();
    assert!(error.contains("--memory"), "{error}");
    assert_eq!(out, "");
    assert!(engine.calls().is_empty());
}
