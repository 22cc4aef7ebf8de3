//! An application on disk: its Nulecule, its nested applications (`source: docker://IMAGE`,
//! unpacked beforehand into `external/<item>/`), its artifacts, and the order of its components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::model::{self, ArtifactEntry, GraphItem, Nulecule};

/// The largest artifact or Nulecule read: text files of a few kilobytes in practice.
const MAX_FILE: u64 = 4 << 20;

/// An application and, by graph item name, the applications its items point to.
#[derive(Debug, Clone)]
pub struct App {
    pub dir: PathBuf,
    pub nulecule: Nulecule,
    pub children: BTreeMap<String, App>,
}

/// One component in deployment order: where its values live and what it is.
#[derive(Debug, Clone)]
pub struct Component<'a> {
    /// Its answers section: the item's name, `ITEM:CHILD` inside a nested application.
    pub section: String,
    /// The section of the application it belongs to (`general` at the top; else the item that
    /// pulled the nested application in).
    pub app_section: String,
    pub app: &'a App,
    pub item: &'a GraphItem,
}

impl App {
    /// Read the application in `dir`. A `source:` item's application must already be in
    /// `dir/external/<item>/` (the binary unpacks them there first).
    pub fn load(dir: &Path) -> Result<App> {
        let nulecule = read_nulecule(dir)?;
        let mut children = BTreeMap::new();
        for item in &nulecule.graph {
            if item.source.is_some() {
                let child_dir = external_dir(dir, &item.name);
                let child = App::load(&child_dir).with_context(|| {
                    format!(
                        "reading the application of graph item '{}' from {}",
                        item.name,
                        child_dir.display()
                    )
                })?;
                children.insert(item.name.clone(), child);
            }
        }
        Ok(App {
            dir: dir.to_path_buf(),
            nulecule,
            children,
        })
    }

    /// The application's id.
    pub fn id(&self) -> &str {
        &self.nulecule.id
    }

    /// Every component in deployment order, nested applications expanded in place.
    pub fn components(&self) -> Vec<Component<'_>> {
        let mut out = Vec::new();
        self.collect("", crate::answers::GENERAL, &mut out);
        out
    }

    fn collect<'a>(&'a self, prefix: &str, app_section: &str, out: &mut Vec<Component<'a>>) {
        for item in &self.nulecule.graph {
            let section = format!("{prefix}{}", item.name);
            match self.children.get(&item.name) {
                Some(child) => child.collect(&format!("{section}:"), &section, out),
                None => out.push(Component {
                    section,
                    app_section: app_section.to_string(),
                    app: self,
                    item,
                }),
            }
        }
    }

    /// Every application of the tree with the section its global params live in
    /// (`general` for the top one), parents first.
    pub fn apps(&self) -> Vec<(String, &App)> {
        let mut out = vec![(crate::answers::GENERAL.to_string(), self)];
        self.collect_apps("", &mut out);
        out
    }

    fn collect_apps<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a App)>) {
        for item in &self.nulecule.graph {
            if let Some(child) = self.children.get(&item.name) {
                let section = format!("{prefix}{}", item.name);
                out.push((section.clone(), child));
                child.collect_apps(&format!("{section}:"), out);
            }
        }
    }

    /// The artifact files of `item` for `provider`, in the order written: `file://` entries
    /// (a directory gives its non-hidden regular files, sorted), `inherit` spliced in.
    pub fn artifacts(&self, item: &GraphItem, provider: &str) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        self.expand(item, provider, &mut vec![provider.to_string()], &mut out)
            .with_context(|| {
                format!(
                    "artifacts of component '{}' for provider '{provider}'",
                    item.name
                )
            })?;
        Ok(out)
    }

    fn expand(
        &self,
        item: &GraphItem,
        provider: &str,
        chain: &mut Vec<String>,
        out: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let Some(entries) = item.artifacts.get(provider) else {
            bail!("the component has no artifacts for provider '{provider}'");
        };
        for entry in entries {
            match entry {
                ArtifactEntry::Url(url) => out.extend(self.files_of(url)?),
                ArtifactEntry::Inherit { inherit } => {
                    for other in inherit {
                        if chain.contains(other) {
                            bail!("'inherit' loops: {} → {other}", chain.join(" → "));
                        }
                        chain.push(other.clone());
                        self.expand(item, other, chain, out)?;
                        chain.pop();
                    }
                }
                ArtifactEntry::Repo { source, .. } => bail!(
                    "artifact source '{source}': repositories as artifacts are not supported; \
                     put the files in the application"
                ),
                ArtifactEntry::Resource { resource, .. } => bail!(
                    "artifact '{resource}' with 'params' pointers (Atomic App's experimental \
                     form) is not supported; write $name in the file instead"
                ),
            }
        }
        Ok(())
    }

    /// The files a `file://` URL names, confined to the application's directory.
    fn files_of(&self, url: &str) -> Result<Vec<PathBuf>> {
        let Some(rel) = url
            .strip_prefix("file://")
            .or_else(|| url.strip_prefix("file:"))
        else {
            bail!(
                "artifact '{url}': only file:// artifacts (inside the application) are supported"
            );
        };
        let rel = rel.trim_start_matches('/');
        if rel.is_empty() {
            bail!("artifact '{url}' names no file");
        }
        let root = self
            .dir
            .canonicalize()
            .with_context(|| format!("reading {}", self.dir.display()))?;
        let path = root.join(rel);
        let real = path
            .canonicalize()
            .with_context(|| format!("artifact '{url}': {} is missing", path.display()))?;
        if !real.starts_with(&root) {
            bail!("artifact '{url}' points outside the application");
        }
        if real.is_file() {
            return Ok(vec![real]);
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&real).with_context(|| format!("reading {url}"))? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') || !entry.file_type()?.is_file() {
                continue;
            }
            files.push(entry.path());
        }
        if files.is_empty() {
            bail!("artifact directory '{url}' holds no files");
        }
        files.sort();
        Ok(files)
    }
}

/// The directory a nested application of item `item` is unpacked into.
pub fn external_dir(dir: &Path, item: &str) -> PathBuf {
    dir.join("external").join(item)
}

/// Read and parse `dir/Nulecule`.
pub fn read_nulecule(dir: &Path) -> Result<Nulecule> {
    let path = dir.join(model::FILE);
    let text = read_text(&path)?;
    Nulecule::parse(&text).with_context(|| format!("reading {}", path.display()))
}

/// A text file of an application, bounded in size.
pub fn read_text(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        bail!(
            "{} is not a regular file of at most {MAX_FILE} bytes",
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The image a `source:` names (`docker://IMAGE`), checked against the chain of images being
/// unpacked so that an application that contains itself is refused.
pub fn source_image<'a>(item: &'a GraphItem, chain: &[String]) -> Result<Option<&'a str>> {
    let Some(source) = &item.source else {
        return Ok(None);
    };
    let Some(image) = source.strip_prefix("docker://") else {
        bail!(
            "graph item '{}': source '{source}' is not docker://IMAGE, the only kind supported",
            item.name
        );
    };
    if image.is_empty() {
        bail!("graph item '{}': source names no image", item.name);
    }
    if chain.iter().any(|c| same_image(c, image)) {
        bail!(
            "graph item '{}': application {} includes itself: {} → {image}",
            item.name,
            image,
            chain.join(" → ")
        );
    }
    Ok(Some(image))
}

/// `x`, `x:latest`, `docker.io/library/x` and `localhost/x` are one image.
fn same_image(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s
            .trim_start_matches("docker.io/")
            .trim_start_matches("library/")
            .trim_start_matches("localhost/");
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') || last.contains('@') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    norm(a) == norm(b)
}
