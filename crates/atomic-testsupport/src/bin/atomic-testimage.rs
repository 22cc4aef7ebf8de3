//! `atomic-testimage`: builds a busybox test image without a network, for scripts and demos.
//!
//! ```text
//! atomic-testimage --name atomic-demo --label RUN='docker run --rm IMAGE' \
//!     --cmd '["/bin/sh"]' --docker-archive /tmp/demo.tar
//! ```
//! Prints the image ID on stdout.

// Test support may fail loudly, but says why: expect, not unwrap.
#![warn(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use atomic_testsupport::{
    ImageSpec, load_into_docker, load_into_podman, write_docker_archive, write_oci_layout,
};
use clap::{ArgGroup, Parser};

#[derive(Parser, Debug)]
#[command(version, about = "Build a busybox test image without a network")]
#[command(group(ArgGroup::new("output").required(true).multiple(true)
    .args(["docker_archive", "oci", "load_docker", "load_podman"])))]
struct Args {
    /// Repository name, e.g. atomic-demo or localhost/x
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "latest")]
    tag: String,
    /// A label, KEY=VALUE (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// The image's Cmd as a JSON array, e.g. '["/bin/sh","-c","echo hi"]'
    #[arg(long, value_name = "JSON")]
    cmd: Option<String>,
    /// The image's Entrypoint as a JSON array
    #[arg(long, value_name = "JSON")]
    entrypoint: Option<String>,
    /// An environment entry, KEY=VALUE (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Copy HOST_PATH into the image at IMAGE_PATH, keeping its permission bits (repeatable)
    #[arg(long = "file", value_name = "IMAGE_PATH=HOST_PATH")]
    files: Vec<String>,
    /// Write a `docker save` archive (for docker load / podman load)
    #[arg(long, value_name = "OUT.tar")]
    docker_archive: Option<PathBuf>,
    /// Write (or add to) an OCI image layout, under ref name TAG
    #[arg(long, value_name = "DIR")]
    oci: Option<PathBuf>,
    /// Load the image into Docker (skipped when it is already there)
    #[arg(long)]
    load_docker: bool,
    /// Load the image into Podman (skipped when it is already there)
    #[arg(long)]
    load_podman: bool,
}

fn split_pair<'a>(what: &str, s: &'a str) -> Result<(&'a str, &'a str)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => bail!("{what} {s:?} is not of the form KEY=VALUE"),
    }
}

fn json_argv(what: &str, s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s)
        .with_context(|| format!("{what} must be a JSON array of strings, e.g. '[\"/bin/sh\"]'"))
}

fn spec_from(args: &Args) -> Result<ImageSpec> {
    let mut spec = ImageSpec::new(&args.name).tag(&args.tag);
    for label in &args.labels {
        let (k, v) = split_pair("--label", label)?;
        spec = spec.label(k, v);
    }
    if let Some(cmd) = &args.cmd {
        spec = spec.cmd(json_argv("--cmd", cmd)?);
    }
    if let Some(entrypoint) = &args.entrypoint {
        spec = spec.entrypoint(json_argv("--entrypoint", entrypoint)?);
    }
    for env in &args.env {
        split_pair("--env", env)?;
        spec = spec.env(env);
    }
    for file in &args.files {
        let (image_path, host_path) = split_pair("--file", file)?;
        let data = std::fs::read(host_path).with_context(|| format!("reading {host_path}"))?;
        let mode = std::fs::metadata(host_path)?.permissions().mode() & 0o7777;
        spec = spec.file(image_path, data, mode);
    }
    Ok(spec)
}

fn main() -> std::process::ExitCode {
    match run(&Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}`: the whole context chain on one line, without the backtrace that
            // returning the error from main would print when RUST_BACKTRACE is set.
            eprintln!("atomic-testimage: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let spec = spec_from(args)?;
    let mut id = None;
    if let Some(out) = &args.docker_archive {
        id = Some(write_docker_archive(&spec, out)?);
    }
    if let Some(dir) = &args.oci {
        id = Some(write_oci_layout(&spec, dir)?.id);
    }
    if args.load_docker {
        load_into_docker(&spec)?;
    }
    if args.load_podman {
        load_into_podman(&spec)?;
    }
    let id = match id {
        Some(id) => id,
        None => atomic_testsupport::image_id(&spec)?,
    };
    println!("{id}");
    Ok(())
}
