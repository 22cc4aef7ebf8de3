//! The containers-storage reader against Podman itself: for every image and container on the
//! machine, the reader's answer must be Podman's (`podman image inspect`, `podman images
//! --format json`, `podman ps -a`) or a doubt — never a different answer. Also while images are
//! added and removed.
//!
//! Podman's store is shared with other tests on this machine, so an image may appear or vanish
//! between the reader's look and Podman's. A listing is judged only when two reads by the reader
//! around Podman's agree with each other, and retried otherwise; a mismatch that persists over
//! the retries is a failure. An image Podman no longer knows when asked is skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use atomic_engine::{ImageInfo, ImageSummary, PodmanEngine};
use atomic_testsupport::{ImageSpec, LayerSpec};
use atomic_testsupport::{load_into_podman, podman_available, podman_command};
use serde_json::Value;

/// The tests of this binary take turns with podman (Podman 4.3 loses updates to its image store
/// when several of its processes write at once).
static PODMAN: Mutex<()> = Mutex::new(());

fn podman(args: &[&str]) -> Output {
    let mut cmd = podman_command();
    cmd.args(args).stdin(std::process::Stdio::null());
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("running podman {args:?}: {e}"),
    }
}

fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `podman image inspect NAME`, or None when Podman does not know the name (any more).
fn inspect(name: &str) -> Option<Value> {
    let out = podman(&["image", "inspect", name]);
    if !out.status.success() {
        return None;
    }
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
    list.into_iter().next()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every difference between the reader's image and `podman image inspect`'s.
fn image_differences(read: &ImageInfo, inspected: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            diffs.push(format!("{what}: reader {ours} / podman {theirs}"));
        }
    };
    check(
        "Id",
        read.id.clone(),
        inspected["Id"].as_str().unwrap_or_default().to_string(),
    );
    check(
        "RepoTags",
        format!("{:?}", read.repo_tags),
        format!("{:?}", strings(inspected.get("RepoTags"))),
    );
    check(
        "RepoDigests",
        format!("{:?}", read.repo_digests),
        format!("{:?}", strings(inspected.get("RepoDigests"))),
    );
    let labels: BTreeMap<String, String> =
        serde_json::from_value(inspected["Labels"].clone()).unwrap_or_default();
    check(
        "Labels",
        format!("{:?}", read.labels),
        format!("{labels:?}"),
    );
    let config = &inspected["Config"];
    check(
        "Cmd",
        format!("{:?}", read.cmd),
        format!("{:?}", strings(config.get("Cmd"))),
    );
    check(
        "Entrypoint",
        format!("{:?}", read.entrypoint),
        format!("{:?}", strings(config.get("Entrypoint"))),
    );
    check(
        "Env",
        format!("{:?}", read.env),
        format!("{:?}", strings(config.get("Env"))),
    );
    check(
        "Created",
        format!("{:?}", read.created),
        format!("{:?}", inspected["Created"].as_str()),
    );
    check(
        "Size",
        format!("{:?}", read.size),
        format!("{:?}", inspected["Size"].as_u64()),
    );
    diffs
}

/// One image as `podman images --format json` lists it, in the reader's terms.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    names: BTreeSet<String>,
    created: Option<i64>,
    size: Option<u64>,
}

fn from_reader(list: &[ImageSummary]) -> HashMap<String, Listed> {
    list.iter()
        .map(|i| {
            let listed = Listed {
                names: i.repo_tags.iter().cloned().collect(),
                created: i.created,
                size: i.size,
            };
            (i.id.clone(), listed)
        })
        .collect()
}

/// `podman images --format json`, or None when podman fails: it does when an image vanishes
/// while it lists (podman 4.3: "retrieving label for image …: image not known").
fn from_podman(all: bool) -> Option<HashMap<String, Listed>> {
    let args: &[&str] = if all {
        &["images", "--all", "--format", "json"]
    } else {
        &["images", "--format", "json"]
    };
    let out = podman(args);
    if !out.status.success() {
        return None;
    }
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
    let listed = list
        .iter()
        .map(|i| {
            let listed = Listed {
                names: strings(i.get("Names")).into_iter().collect(),
                created: i["Created"].as_i64(),
                size: i["Size"].as_u64(),
            };
            (i["Id"].as_str().unwrap_or_default().to_string(), listed)
        })
        .collect();
    Some(listed)
}

/// What a listing comparison found.
// The reasons are read by the Debug output the tests print.
#[allow(dead_code)]
#[derive(Debug)]
enum Verdict {
    Agree(usize),
    /// The reader left the listing to podman (with why).
    Doubted(String),
    /// The store never held still between the reads (with the last reason).
    Unstable(String),
}

/// The reader's listing against `podman images`, judged only on a stable store (see the file's
/// comment); a mismatch that survives `attempts` reads panics.
fn compare_listings(engine: &PodmanEngine, attempts: usize, all: bool) -> Verdict {
    let mut last = String::new();
    let mut stable = 0;
    for _ in 0..attempts {
        let before = engine.read_image_list(all);
        let podman = from_podman(all);
        let after = engine.read_image_list(all);
        let Some(podman) = podman else {
            last = "podman failed to list (an image vanished while it listed)".into();
            continue;
        };
        let (before, after) = match (before, after) {
            (Ok(b), Ok(a)) => (from_reader(&b.0), from_reader(&a.0)),
            (Err(d), _) | (_, Err(d)) => return Verdict::Doubted(d.to_string()),
        };
        if before != after {
            last = "the store changed between the reader's two reads".into();
            continue;
        }
        stable += 1;
        if before == podman {
            return Verdict::Agree(podman.len());
        }
        let mut diffs = Vec::new();
        for (id, theirs) in &podman {
            match before.get(id) {
                Some(ours) if ours != theirs => {
                    diffs.push(format!("{id}: reader {ours:?} / podman {theirs:?}"))
                }
                None => diffs.push(format!("{id}: only podman lists it ({theirs:?})")),
                _ => {}
            }
        }
        for id in before.keys().filter(|id| !podman.contains_key(*id)) {
            diffs.push(format!("{id}: only the reader lists it"));
        }
        last = diffs.join("\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    if stable == 0 {
        return Verdict::Unstable(last);
    }
    panic!("the reader's image list differs from podman's ({stable} stable reads):\n{last}");
}

/// Compare the reader with `podman image inspect` for every image Podman lists and each of its
/// names. Returns how many the reader answered itself.
fn compare_every_image(engine: &PodmanEngine) -> usize {
    let out = podman_ok(&["images", "--all", "--format", "json"]);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
    let mut answered = 0;
    for entry in &list {
        let id = entry["Id"].as_str().unwrap_or_default().to_string();
        let mut names = vec![id.clone(), format!("sha256:{id}")];
        names.extend(strings(entry.get("Names")));
        for name in names {
            let Ok(read) = engine.read_image(&name) else {
                continue; // a doubt: the CLI answers this one
            };
            // Compare with what podman says now; if they differ, the image may have changed
            // in between: read again, and judge only when the reader's two reads agree.
            let Some(inspected) = inspect(&name) else {
                continue; // gone meanwhile
            };
            let diffs = image_differences(&read, &inspected);
            if !diffs.is_empty() {
                let again = engine.read_image(&name).ok();
                if again.as_ref() == Some(&read) && inspect(&name).as_ref() == Some(&inspected) {
                    panic!(
                        "reader and podman differ on '{name}':\n{}",
                        diffs.join("\n")
                    );
                }
                continue;
            }
            answered += 1;
        }
    }
    answered
}

/// Podman commands run when dropped, so a failed test leaves no images or containers behind.
struct Cleanup(Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in &self.0 {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = podman(&args);
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A two-layer image with labels, a command, an entrypoint, environment, a help file and a file
/// the top layer deletes.
fn rich_image(name: &str) -> ImageSpec {
    ImageSpec::new(name)
        .label("RUN", "docker run --rm ${IMAGE} /bin/true")
        .label("Name", name)
        .label("Version", "1")
        .cmd(["/bin/sh", "-c", "echo hi"])
        .entrypoint(["/bin/env"])
        .env("I20=yes")
        .file("/help.1", b"help from the lower layer\n".to_vec(), 0o644)
        .file("/gone.txt", b"deleted above\n".to_vec(), 0o644)
        .layer(
            LayerSpec::new()
                .file("/help.1", b"help from the top layer\n".to_vec(), 0o644)
                .delete("/gone.txt"),
        )
}

#[test]
fn reader_agrees_with_podman_on_every_image_and_container() {
    let _alone = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    if !podman_available() {
        eprintln!("skipped: podman is not usable here");
        return;
    }
    let engine = PodmanEngine::find().expect("podman on PATH");
    let name = format!("i20-cmp-{}", std::process::id());
    load_into_podman(&rich_image(&name)).expect("loading the test image");
    let full = format!("localhost/{name}:latest");
    let second = format!("127.0.0.1:5000/{name}:v2");
    podman_ok(&["tag", &full, &second]);
    let container = format!("{name}-c");
    let _cleanup = Cleanup(vec![
        vec!["rm".into(), "-f".into(), container.clone()],
        vec!["rmi".into(), "-f".into(), full.clone(), second.clone()],
    ]);
    podman_ok(&["create", "--name", &container, &full, "/bin/true"]);

    // Our own image: the reader answers every spelling of it itself, as Podman does.
    let inspected = inspect(&full).expect("podman knows the test image");
    let id = inspected["Id"].as_str().unwrap_or_default().to_string();
    for spelling in [name.clone(), full.clone(), second.clone(), id.clone()] {
        let read = engine
            .read_image(&spelling)
            .unwrap_or_else(|d| panic!("the reader doubted '{spelling}': {d}"));
        let diffs = image_differences(&read, &inspected);
        assert!(diffs.is_empty(), "{spelling}:\n{}", diffs.join("\n"));
    }
    // Layers are read the overlay way: the top layer's file wins, a deleted file is gone.
    let files = engine
        .read_first_file(&id, &["/gone.txt", "/help.1"])
        .expect("reading files");
    assert_eq!(
        files,
        Some(("/help.1".to_string(), b"help from the top layer\n".to_vec()))
    );
    // Names the reader cannot be sure of are doubts, not "not found".
    assert!(engine.read_image(&format!("{name}-nosuch")).is_err());
    assert!(engine.read_image(&id[..12]).is_err());

    // Containers: one that exists is never declared absent; one that does not, is.
    assert_eq!(engine.read_container_absent(&container), Ok(false));
    let nosuch = unique("i20-nosuch");
    assert_eq!(engine.read_container_absent(&nosuch), Ok(true));
    let ps = podman_ok(&["ps", "-a", "--format", "json"]);
    let ps: Vec<Value> = serde_json::from_str(&ps).unwrap_or_default();
    let (_, used) = engine.read_image_list(false).unwrap_or_default();
    for c in &ps {
        let cid = c["Id"].as_str().unwrap_or_default();
        for n in strings(c.get("Names"))
            .iter()
            .map(String::as_str)
            .chain([cid, &cid[..12]])
        {
            assert_ne!(
                engine.read_container_absent(n),
                Ok(true),
                "container {n} exists"
            );
        }
        if c["Names"][0] == container.as_str() {
            assert!(used.contains(c["ImageID"].as_str().unwrap_or_default()));
        }
    }
    // The one-process container list says what `podman container inspect` says.
    let listed = engine.list_containers().expect("container list");
    let ours = listed
        .iter()
        .find(|c| c.name == container)
        .expect("our container listed");
    let inspected: Vec<Value> =
        serde_json::from_str(&podman_ok(&["container", "inspect", &container])).unwrap_or_default();
    assert_eq!(ours.id, inspected[0]["Id"].as_str().unwrap_or_default());
    assert_eq!(ours.image_id, id);
    assert_eq!(ours.image_name, full);
    assert_eq!(ours.cmd, strings(inspected[0]["Config"].get("Cmd")));
    assert_eq!(
        ours.state,
        inspected[0]["State"]["Status"].as_str().unwrap_or_default()
    );
    assert_eq!(ours.labels.get("Version").map(String::as_str), Some("1"));

    // Every image on the machine, by ID and every name, and the listing.
    let answered = compare_every_image(&engine);
    assert!(
        answered >= 4,
        "the reader answered only {answered} lookups itself"
    );
    for all in [false, true] {
        let verdict = compare_listings(&engine, 8, all);
        eprintln!("listing (--all: {all}): {verdict:?}");
    }

    podman_ok(&["rm", "-f", &container]);
    podman_ok(&["rmi", "-f", &full, &second]);
    assert!(
        engine.read_image(&full).is_err(),
        "a removed image is not answered"
    );
}

#[test]
fn reader_agrees_while_images_come_and_go() {
    let _alone = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    if !podman_available() {
        eprintln!("skipped: podman is not usable here");
        return;
    }
    let engine = PodmanEngine::find().expect("podman on PATH");
    let base = format!("i20-churn-{}", std::process::id());
    // One writer, one podman process at a time: load, tag, untag, remove — each a rename of
    // images.json (and layers.json) under containers/storage's write locks.
    let writer_base = base.clone();
    let writer = std::thread::spawn(move || {
        for n in 0..6 {
            let name = format!("{writer_base}-{n}");
            let spec = rich_image(&name).label("Round", n.to_string());
            load_into_podman(&spec).expect("loading a churn image");
            let full = format!("localhost/{name}:latest");
            podman_ok(&["tag", &full, &format!("localhost/{name}:extra")]);
            podman_ok(&["untag", &full, &format!("localhost/{name}:extra")]);
            podman_ok(&["rmi", "-f", &full]);
        }
    });
    let mut rounds = 0;
    let mut agreed = 0;
    let mut reads = 0;
    while !writer.is_finished() {
        rounds += 1;
        // Many quick reads while podman writes: none may ever see a torn file (a parse doubt)
        // or an error; each is a whole store or an honest doubt about its contents.
        for _ in 0..50 {
            reads += 1;
            if let Err(d) = engine.read_image_list(false) {
                assert!(
                    !d.to_string().contains("not a file this reader knows"),
                    "{d}"
                );
            }
        }
        // Mid-change reads never see a half-written file: each answer is whole, and equal to
        // podman's whenever the store holds still long enough to compare.
        // `podman images` takes seconds on a full store: compare every fourth round, after quick reads.
        if rounds % 4 == 0
            && let Verdict::Agree(_) = compare_listings(&engine, 20, false)
        {
            agreed += 1;
        }
        if rounds % 4 != 0 {
            continue;
        }
        let out = podman(&["images", "--format", "{{.Id}} {{.Repository}}:{{.Tag}}"]);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((id, name)) = line.split_once(' ') else {
                continue;
            };
            if !name.contains(&base) {
                continue;
            }
            if let (Ok(read), Some(inspected)) = (engine.read_image(id), inspect(id)) {
                let diffs = image_differences(&read, &inspected);
                if !diffs.is_empty() && engine.read_image(id).ok() == Some(read) {
                    // Names move under us; everything else of an image never changes.
                    assert!(
                        diffs.iter().all(|d| d.starts_with("Repo")),
                        "{id}: {}",
                        diffs.join("\n")
                    );
                }
            }
        }
    }
    writer.join().expect("the writer finished");
    eprintln!(
        "{rounds} rounds and {reads} reads while podman wrote, {agreed} with a stable store to compare"
    );
    // Once the writer is done, the reader and podman agree again.
    match compare_listings(&engine, 10, false) {
        Verdict::Agree(n) => assert!(n > 0),
        other => eprintln!("listing not compared: {other:?}"),
    }
    assert!(rounds > 0);
}
