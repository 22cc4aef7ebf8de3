//! Puts the git commit atomic is built from into `ATOMIC_GIT_COMMIT`, for `atomic --version`.
//!
//! Where it comes from, first match wins:
//! 1. `$ATOMIC_GIT_COMMIT` at build time: a build from a release tarball (no `.git`) names its
//!    commit this way (`scripts/package.sh` passes it on when it knows it);
//! 2. `git rev-parse --short=12 HEAD` in the source tree;
//! 3. otherwise `unknown`: a tarball without the variable still builds.
//!
//! Cargo is told to run this again when HEAD moves (a commit, a checkout), not on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ATOMIC_GIT_COMMIT");
    let from_env = std::env::var("ATOMIC_GIT_COMMIT")
        .ok()
        .filter(|commit| !commit.trim().is_empty());
    let commit = match from_env {
        Some(commit) => commit.trim().to_string(),
        None => {
            watch_git_head();
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=ATOMIC_GIT_COMMIT={commit}");
}

/// `git ARGS` in this crate's directory: its trimmed stdout, or None when git is missing, this
/// is no git checkout, or git fails.
fn git(args: &[&str]) -> Option<String> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let output = Command::new("git")
        .args(args)
        .current_dir(manifest_dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// Rerun when HEAD or the branch it names changes. Only files that exist are named: cargo
/// would rerun on every build for a missing one.
fn watch_git_head() {
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) else {
        return;
    };
    // A worktree's HEAD is in its own git dir, its branches in the common one.
    let common_dir = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![git_dir.join("HEAD"), common_dir.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(branch));
    }
    for path in watched.iter().filter(|path| Path::new(path).is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
