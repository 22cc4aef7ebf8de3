//! Registries a test starts for itself on a loopback port of its own: with TLS (a self-signed or
//! a CA-issued certificate), requiring client certificates, behind htpasswd, or as a mirror,
//! and stopped when dropped. Unlike the shared registry on 127.0.0.1:5000 they may be
//! configured and stopped at will. Certificates are made with the openssl CLI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How a private registry is set up.
#[derive(Debug, Clone, Default)]
pub struct PrivateRegistryConfig {
    /// Serve https with this certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require client certificates issued by these CAs.
    pub client_cas: Vec<PathBuf>,
    /// Require basic auth against this htpasswd file.
    pub htpasswd: Option<PathBuf>,
    /// Keep the data here instead of a fresh directory (two registries can serve one store).
    pub data_dir: Option<PathBuf>,
}

/// A running `docker-registry` on `127.0.0.1:PORT`, killed on drop.
#[derive(Debug)]
pub struct PrivateRegistry {
    addr: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// A free loopback port (the listener is closed before the registry binds it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

impl PrivateRegistry {
    /// Start a registry as `config` says and wait until it listens.
    pub fn start(config: &PrivateRegistryConfig) -> Result<PrivateRegistry> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let data = config
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            data.display()
        );
        if let Some((cert, key)) = &config.tls {
            yaml += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
            if !config.client_cas.is_empty() {
                yaml += "    clientcas:\n";
                for ca in &config.client_cas {
                    yaml += &format!("      - {}\n", ca.display());
                }
            }
        }
        if let Some(htpasswd) = &config.htpasswd {
            yaml += &format!(
                "auth:\n  htpasswd:\n    realm: atomic-test\n    path: {}\n",
                htpasswd.display()
            );
        }
        let conf = dir.path().join("registry.yml");
        std::fs::write(&conf, yaml)?;
        let log = dir.path().join("registry.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting docker-registry (install it with scripts/setup.sh)")?;
        let mut registry = PrivateRegistry {
            addr,
            child,
            log,
            _dir: dir,
        };
        registry.wait_listening()?;
        Ok(registry)
    }

    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("docker-registry exited ({status}): {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "docker-registry on {} did not listen within 30 s",
            self.addr
        )
    }

    /// Push `spec` here as `repo_tag` (`repo` or `repo:tag`, `latest` by default) with skopeo;
    /// `extra` options of `skopeo copy` (`--dest-creds U:P` for a registry behind htpasswd).
    pub fn push(
        &self,
        spec: &crate::ImageSpec,
        repo_tag: &str,
        extra: &[&str],
    ) -> Result<crate::OciImage> {
        crate::registry::push_image(&self.addr, spec, repo_tag, extra)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The registry's log so far (access log lines included).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many requests with `method` to a path containing `path_part` the access log shows.
    pub fn count_requests(&self, method: &str, path_part: &str) -> usize {
        let needle = format!("\"{method} ");
        self.log_text()
            .lines()
            .filter(|l| l.contains(&needle) && l.contains(path_part))
            .filter(|l| {
                // The access log's request field: "METHOD /path HTTP/1.1".
                l.split(&needle).nth(1).is_some_and(|rest| {
                    rest.split(' ')
                        .next()
                        .is_some_and(|p| p.contains(path_part))
                })
            })
            .count()
    }

    /// Stop it now (dropping does the same).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Certificates made with openssl for loopback registries.
#[derive(Debug)]
pub struct TestCerts {
    pub dir: PathBuf,
}

fn openssl(args: &[&str], cwd: &Path) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .context("running openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl TestCerts {
    /// Use `dir` for the files.
    pub fn new(dir: &Path) -> TestCerts {
        TestCerts {
            dir: dir.to_path_buf(),
        }
    }

    /// `NAME.crt`/`NAME.key`: a self-signed certificate for 127.0.0.1 as `openssl req -x509`
    /// makes it (CA:TRUE, used directly as the server's).
    pub fn self_signed(&self, name: &str) -> Result<(PathBuf, PathBuf)> {
        let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                &key,
                "-out",
                &crt,
            ],
            &self.dir,
        )?;
        Ok((self.dir.join(crt), self.dir.join(key)))
    }

    /// `NAME.crt`/`NAME.key`: a CA.
    pub fn ca(&self, name: &str) -> Result<(PathBuf, PathBuf)> {
        let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name} test CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                &key,
                "-out",
                &crt,
            ],
            &self.dir,
        )?;
        Ok((self.dir.join(crt), self.dir.join(key)))
    }

    /// `NAME.cert`/`NAME.key` issued by the CA `ca` (from [`TestCerts::ca`]): a server
    /// certificate for 127.0.0.1 when `server`, else a client certificate.
    pub fn issued(&self, ca: &str, name: &str, server: bool) -> Result<(PathBuf, PathBuf)> {
        let (cert, key, csr, ext) = (
            format!("{name}.cert"),
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
        );
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
            &self.dir,
        )?;
        let extensions = if server {
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        } else {
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
        };
        std::fs::write(self.dir.join(&ext), extensions)?;
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
            &self.dir,
        )?;
        Ok((self.dir.join(cert), self.dir.join(key)))
    }
}

/// Write an htpasswd file (bcrypt, as docker-registry requires) with one user.
pub fn htpasswd(path: &Path, user: &str, password: &str) -> Result<()> {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .stdin(Stdio::null())
        .output()
        .context("running htpasswd (apache2-utils; install it with scripts/setup.sh)")?;
    if !out.status.success() {
        bail!("htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::write(path, out.stdout)?;
    Ok(())
}
