//! `atomic trust show|add|delete|default`: the host's image trust — policy.json (the global
//! `--signature-policy`, else `$TRUST_POLICY`, else /etc/containers/policy.json) and
//! registries.d (`--registries.d`, else /etc/containers/registries.d), edited by temporary file
//! and rename, keeping every key atomic does not know. Podman (`podman image trust show`) and
//! skopeo read the result the same way.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use fn_error_context::context;
use serde_json::{Value, json};

use atomic_trust::edit;
use atomic_trust::gpg::{Gpg, GpgProgram};
use atomic_trust::policy::KeySource;
use atomic_trust::{RegistriesD, simple};

use super::GlobalArgs;

#[derive(Subcommand, Debug)]
pub enum TrustVerb {
    /// Show the trust policy: every scope, its type, trusted keys and signature storage
    Show(ShowArgs),
    /// Add or replace the trust policy of a registry or repository
    Add(AddArgs),
    /// Remove the trust policy of a registry or repository
    Delete(DeleteArgs),
    /// Set the default for images no scope names: accept or reject
    Default(DefaultArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Print the policy file as it is
    #[arg(long)]
    raw: bool,
    /// Print the table as JSON
    #[arg(short = 'j', long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrustType {
    #[value(name = "signedBy")]
    SignedBy,
    #[value(name = "insecureAcceptAnything", alias = "accept")]
    InsecureAcceptAnything,
    #[value(name = "reject")]
    Reject,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyType {
    #[value(name = "GPGKeys")]
    GpgKeys,
    #[value(name = "sigstoreSigned")]
    SigstoreSigned,
}

/// Where signatures of the scope live, as the original named it: `web` is a registry
/// (transport docker), `local` a directory (dir), `atomic` atomic's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SigstoreType {
    Web,
    Local,
    Atomic,
}

impl SigstoreType {
    fn transport(self) -> &'static str {
        match self {
            SigstoreType::Web => "docker",
            SigstoreType::Local => "dir",
            SigstoreType::Atomic => "atomic",
        }
    }
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// A public key to trust, stored in the policy (keyData): a key file, or a key ID that
    /// gpg exports. Repeatable
    #[arg(short = 'k', long = "pubkeys", value_name = "KEY")]
    pubkeys: Vec<String>,
    /// A public key file to trust, referred to by its absolute path (keyPath). Repeatable
    #[arg(short = 'f', long = "pubkeysfile", value_name = "FILE")]
    pubkeysfile: Vec<PathBuf>,
    /// What the scope requires
    #[arg(short = 't', long = "type", value_enum, default_value = "signedBy")]
    kind: TrustType,
    /// The kind of keys: GPG (simple signing) or sigstore public keys
    #[arg(long, value_enum, default_value = "GPGKeys")]
    keytype: KeyType,
    /// Where signatures for this scope are read from (registries.d lookaside URL)
    #[arg(short = 's', long, value_name = "URL")]
    sigstore: Option<String>,
    #[arg(long, value_enum, default_value = "web")]
    sigstoretype: SigstoreType,
    /// Registry or repository (REGISTRY[/REPOSITORY]) the policy is for
    registry: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[arg(long, value_enum, default_value = "web")]
    sigstoretype: SigstoreType,
    /// Keep the registries.d entry of the scope
    #[arg(long)]
    save_sigstore: bool,
    registry: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DefaultKind {
    Accept,
    Reject,
}

#[derive(Args, Debug)]
pub struct DefaultArgs {
    #[arg(value_enum)]
    kind: DefaultKind,
}

/// The files `trust` works on.
struct Files {
    policy: PathBuf,
    registries_d: PathBuf,
}

impl Files {
    fn new(global: &GlobalArgs) -> Files {
        let policy = global
            .signature_policy
            .clone()
            .or_else(|| std::env::var_os("TRUST_POLICY").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(atomic_trust::SYSTEM_POLICY));
        let registries_d = global
            .registries_d
            .clone()
            .unwrap_or_else(|| PathBuf::from(atomic_trust::registries_d::SYSTEM_DIR));
        Files {
            policy,
            registries_d,
        }
    }

    /// The policy as JSON; the original's default when there is no file.
    fn read_policy(&self) -> Result<Value> {
        match std::fs::read_to_string(&self.policy) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", self.policy.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(edit::default_policy()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.policy.display())),
        }
    }

    fn write_policy(&self, policy: &Value) -> Result<()> {
        // What is written must be a policy Podman and skopeo accept.
        let text = edit::to_text(policy);
        atomic_trust::Policy::parse(&text)
            .with_context(|| "the edited policy would not be valid; nothing was written")?;
        write_atomically(&self.policy, text.as_bytes())
    }
}

pub fn trust(verb: TrustVerb, global: &GlobalArgs) -> Result<i32> {
    let files = Files::new(global);
    match verb {
        TrustVerb::Show(args) => show(&files, &args),
        TrustVerb::Add(args) => add(&files, &args, global.assumeyes),
        TrustVerb::Delete(args) => delete(&files, &args),
        TrustVerb::Default(args) => {
            let mut policy = files.read_policy()?;
            let kind = match args.kind {
                DefaultKind::Accept => "insecureAcceptAnything",
                DefaultKind::Reject => "reject",
            };
            edit::set_default(&mut policy, kind).map_err(anyhow::Error::msg)?;
            files.write_policy(&policy)?;
            Ok(0)
        }
    }
}

#[context("showing the trust policy {}", files.policy.display())]
fn show(files: &Files, args: &ShowArgs) -> Result<i32> {
    let text = match std::fs::read_to_string(&files.policy) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            edit::to_text(&edit::default_policy())
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    if args.raw {
        out.write_all(text.as_bytes())?;
        return Ok(0);
    }
    let regd = RegistriesD::load_dir(&files.registries_d).map_err(anyhow::Error::msg)?;
    let rows = edit::rows(&text, &regd, &key_identities).map_err(anyhow::Error::msg)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        out.write_all(edit::table(&rows).as_bytes())?;
    }
    Ok(0)
}

/// The user IDs of a requirement's keys (the file name when a key cannot be read).
fn key_identities(keys: &KeySource) -> Vec<String> {
    let from_bytes = |b: &[u8], fallback: String| match simple::parse_keyring(b) {
        Ok(keys) if !keys.is_empty() => keys.iter().flat_map(simple::user_ids).collect(),
        _ => vec![fallback],
    };
    let from_path = |p: &Path| match std::fs::read(p) {
        Ok(b) => from_bytes(&b, p.display().to_string()),
        Err(_) => vec![p.display().to_string()],
    };
    match keys {
        KeySource::Path(p) => from_path(p),
        KeySource::Paths(ps) => ps.iter().flat_map(|p| from_path(p)).collect(),
        KeySource::Data(d) => from_bytes(d, "(keyData)".to_string()),
    }
}

#[context("adding a trust policy for {}", args.registry)]
fn add(files: &Files, args: &AddArgs, assumeyes: bool) -> Result<i32> {
    validate_scope(&args.registry)?;
    let transport = args.sigstoretype.transport();
    if args.sigstore.is_some() && args.sigstoretype == SigstoreType::Atomic {
        bail!("--sigstore cannot be used with --sigstoretype atomic");
    }
    let reqs = requirements(args)?;
    let mut policy = files.read_policy()?;
    let exists = policy
        .get("transports")
        .and_then(|t| t.get(transport))
        .and_then(|s| s.get(&args.registry))
        .is_some();
    if exists && !assumeyes && !confirm_overwrite(transport, &args.registry)? {
        return Ok(1);
    }
    edit::add(&mut policy, transport, &args.registry, reqs).map_err(anyhow::Error::msg)?;
    let attachments = args.keytype == KeyType::SigstoreSigned && args.kind == TrustType::SignedBy;
    if args.sigstore.is_some() || attachments {
        let path = files
            .registries_d
            .join(edit::registries_d_file_name(&args.registry));
        let old = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let text = edit::set_lookaside(
            old.as_deref(),
            &args.registry,
            args.sigstore.as_deref(),
            attachments,
        )
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("editing {}", path.display()))?;
        write_atomically(&path, text.as_bytes())?;
    }
    files.write_policy(&policy)?;
    Ok(0)
}

fn confirm_overwrite(transport: &str, scope: &str) -> Result<bool> {
    if !crate::command::stdin_is_tty() {
        bail!("a trust policy is already defined for {transport}:{scope}; pass -y to replace it");
    }
    eprint!(
        "Trust policy already defined for {transport}:{scope}\nDo you want to overwrite? (y/N) "
    );
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The requirements `add` writes: one per key, as the original and `podman image trust set`
/// write them (so with several keys, every one of them must have signed).
fn requirements(args: &AddArgs) -> Result<Value> {
    let kind = match args.kind {
        TrustType::InsecureAcceptAnything => {
            return Ok(json!([{"type": "insecureAcceptAnything"}]));
        }
        TrustType::Reject => return Ok(json!([{"type": "reject"}])),
        TrustType::SignedBy => args.keytype,
    };
    let mut reqs = Vec::new();
    let base = |key: (&str, Value)| match kind {
        KeyType::GpgKeys => json!({"type": "signedBy", "keyType": "GPGKeys", key.0: key.1}),
        KeyType::SigstoreSigned => json!({"type": "sigstoreSigned", key.0: key.1}),
    };
    for file in &args.pubkeysfile {
        let abs = std::path::absolute(file)?;
        if !abs.is_file() {
            bail!("the key file {} does not exist", abs.display());
        }
        reqs.push(base(("keyPath", json!(abs.display().to_string()))));
    }
    for key in &args.pubkeys {
        let bytes = if Path::new(key).is_file() {
            std::fs::read(key).with_context(|| format!("reading {key}"))?
        } else if kind == KeyType::GpgKeys {
            GpgProgram { gnupghome: None }
                .export(key)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("'{key}' is neither a key file nor a key gpg knows"))?
        } else {
            bail!("the sigstore public key {key} does not exist");
        };
        check_key(kind, &bytes).with_context(|| format!("the key {key}"))?;
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        reqs.push(base(("keyData", json!(data))));
    }
    if reqs.is_empty() {
        bail!("signedBy needs at least one key: pass --pubkeys or --pubkeysfile");
    }
    Ok(Value::Array(reqs))
}

/// A key stored in the policy must be one the policy can use.
fn check_key(kind: KeyType, bytes: &[u8]) -> Result<()> {
    match kind {
        KeyType::GpgKeys => match simple::parse_keyring(bytes) {
            Ok(k) if !k.is_empty() => Ok(()),
            Ok(_) => bail!("holds no OpenPGP public key"),
            Err(e) => Err(e.into()),
        },
        KeyType::SigstoreSigned => atomic_trust::cosign::parse_public_keys(bytes)
            .map(drop)
            .map_err(anyhow::Error::msg),
    }
}

#[context("deleting the trust policy for {}", args.registry)]
fn delete(files: &Files, args: &DeleteArgs) -> Result<i32> {
    let mut policy = files.read_policy()?;
    edit::delete(&mut policy, args.sigstoretype.transport(), &args.registry)
        .map_err(anyhow::Error::msg)?;
    if !args.save_sigstore {
        let path = files
            .registries_d
            .join(edit::registries_d_file_name(&args.registry));
        if let Ok(text) = std::fs::read_to_string(&path) {
            match edit::remove_scope(&text, &args.registry) {
                Ok(Some(rest)) => write_atomically(&path, rest.as_bytes())?,
                Ok(None) => std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?,
                // The file is about something else: leave it.
                Err(_) => {}
            }
        }
    }
    files.write_policy(&policy)?;
    Ok(0)
}

/// A registry or repository as the original accepted it: a host, then lowercase path parts.
fn validate_scope(scope: &str) -> Result<()> {
    let (host, path) = scope.split_once('/').unwrap_or((scope, ""));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    let path_ok = !scope.contains('/')
        || path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        });
    if !host_ok || !path_ok {
        bail!("'{scope}' is not a registry or repository (REGISTRY[:PORT][/REPOSITORY])");
    }
    Ok(())
}

/// Write through a temporary file in the same directory and rename it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_as_the_original() {
        for ok in ["docker.io", "127.0.0.1:5000/i15a", "r.io/a/b-c"] {
            validate_scope(ok).unwrap();
        }
        for bad in ["", "r.io/UP", "r.io//a", "r.io/a/", "r io"] {
            assert!(validate_scope(bad).is_err(), "{bad}");
        }
    }
}
