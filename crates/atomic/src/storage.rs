//! Choosing the engine ("storage", atomic's word for it) and finding images and containers.
//!
//! The choice is `--storage`, else `$ATOMIC_STORAGE`, else `default_storage` in atomic.conf. With
//! no choice, every available engine is asked at once (Docker if its socket exists, Podman if it
//! is installed, the native store if it exists); a name found in two engines is an error that
//! asks for `--storage`, never a silent pick.

use anyhow::{Result, anyhow, bail};

use atomic_engine::{
    ContainerInfo, Engine, EngineError, EngineKind, EngineSettings, ImageInfo, Lookup, NativeEngine,
};

use crate::config::Config;

/// The user's storage choice, if any, and how to reach the engines.
#[derive(Debug, Clone)]
pub struct Selection {
    pub explicit: Option<EngineKind>,
    pub settings: EngineSettings,
}

impl Selection {
    /// `flag` carries `--storage` or, through clap's `env`, `$ATOMIC_STORAGE`.
    pub fn new(flag: Option<&str>, config: &Config) -> Result<Selection> {
        let explicit = match flag {
            // clap fills the flag from the environment too: say which one was wrong.
            Some(name) if std::env::var("ATOMIC_STORAGE").as_deref() == Ok(name) => Some(
                name.parse::<EngineKind>()
                    .map_err(|e| anyhow::Error::from(e).context("in $ATOMIC_STORAGE"))?,
            ),
            Some(name) => Some(name.parse::<EngineKind>()?),
            None => config.storage()?,
        };
        Ok(Selection {
            explicit,
            settings: config.engine_settings(),
        })
    }

    fn candidates(&self) -> Vec<EngineKind> {
        match self.explicit {
            Some(kind) => vec![kind],
            None => EngineKind::ALL.to_vec(),
        }
    }

    pub fn connect(&self, kind: EngineKind) -> Result<Engine, EngineError> {
        Engine::connect(kind, &self.settings)
    }

    /// The native engine, when the store exists (asking a store that is not there would only
    /// ever say "not found").
    pub fn native_if_present(&self) -> Option<NativeEngine> {
        let native = NativeEngine::with_settings(&self.settings);
        native.exists().then_some(native)
    }
}

/// The engine to act on, with what it holds under the names asked for.
pub struct Target {
    pub engine: Engine,
    pub image: Option<ImageInfo>,
    pub container: Option<ContainerInfo>,
}

/// Look an image and/or a container up, in the chosen engine or in every available one.
pub async fn find(
    selection: &Selection,
    image: Option<&str>,
    container: Option<&str>,
) -> Result<Target> {
    if let Some(kind) = selection.explicit {
        let engine = selection.connect(kind)?;
        let Lookup { image, container } = engine.lookup(image, container).await?;
        return Ok(Target {
            engine,
            image,
            container,
        });
    }

    let answers = ask_every_engine(selection, image, container).await;
    let mut found: Vec<Target> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (kind, answer) in answers {
        match answer {
            Ok((engine, lookup)) => found.push(Target {
                engine,
                image: lookup.image,
                container: lookup.container,
            }),
            Err(e) => problems.push(format!("{kind}: {e}")),
        }
    }
    for problem in &problems {
        tracing::info!("engine unavailable: {problem}");
    }

    match choose(&found, image, container)? {
        Some(pick) => Ok(found.swap_remove(pick)),
        // Nothing anywhere: a pull goes to the native store, which needs no daemon.
        None => Ok(Target {
            engine: selection.connect(EngineKind::Native)?,
            image: None,
            container: None,
        }),
    }
}

/// What one engine holds under the names asked for, as the choice between engines sees it
/// (a trait so that the rule is tested with fake engines).
trait Holding {
    fn kind(&self) -> EngineKind;
    fn has_image(&self) -> bool;
    fn has_container(&self) -> bool;
}

impl Holding for Target {
    fn kind(&self) -> EngineKind {
        self.engine.kind()
    }

    fn has_image(&self) -> bool {
        self.image.is_some()
    }

    fn has_container(&self) -> bool {
        self.container.is_some()
    }
}

/// The engine to act on among those that answered: the one holding the container, else the one
/// holding the image; a name held by two engines is an error asking for `--storage`, never a
/// silent pick. None: no engine holds either.
fn choose<T: Holding>(
    found: &[T],
    image: Option<&str>,
    container: Option<&str>,
) -> Result<Option<usize>> {
    let with_container: Vec<usize> = (0..found.len())
        .filter(|&i| found[i].has_container())
        .collect();
    let with_image: Vec<usize> = (0..found.len()).filter(|&i| found[i].has_image()).collect();
    if with_container.len() > 1 {
        bail!(ambiguous(
            "container",
            container.unwrap_or_default(),
            found,
            &with_container
        ))
    }
    if let [i] = with_container[..] {
        return Ok(Some(i));
    }
    if with_image.len() > 1 {
        bail!(ambiguous(
            "image",
            image.unwrap_or_default(),
            found,
            &with_image
        ))
    }
    Ok(with_image.first().copied())
}

/// Every engine (or the one chosen) that holds `name` as a container or an image, for verbs
/// that take either and must not guess between engines (mount).
pub async fn holders(selection: &Selection, name: &str) -> Result<Vec<Target>> {
    if let Some(kind) = selection.explicit {
        let engine = selection.connect(kind)?;
        let Lookup { image, container } = engine.lookup(Some(name), Some(name)).await?;
        if image.is_none() && container.is_none() {
            return Ok(Vec::new());
        }
        return Ok(vec![Target {
            engine,
            image,
            container,
        }]);
    }
    Ok(ask_every_engine(selection, Some(name), Some(name))
        .await
        .into_iter()
        .filter_map(|(_, answer)| answer.ok())
        .filter(|(_, lookup)| lookup.image.is_some() || lookup.container.is_some())
        .map(|(engine, lookup)| Target {
            engine,
            image: lookup.image,
            container: lookup.container,
        })
        .collect())
}

fn ambiguous<T: Holding>(what: &str, name: &str, found: &[T], hits: &[usize]) -> String {
    let engines: Vec<&str> = hits.iter().map(|&i| found[i].kind().as_str()).collect();
    format!(
        "{what} '{name}' was found in more than one storage ({}); choose one with --storage {}",
        engines.join(" and "),
        engines.join("|")
    )
}

type Answer = Result<(Engine, Lookup), EngineError>;

/// Ask Docker, Podman and the native store concurrently: Podman is a process of its own, Docker
/// a socket request, the native store a file read.
async fn ask_every_engine(
    selection: &Selection,
    image: Option<&str>,
    container: Option<&str>,
) -> Vec<(EngineKind, Answer)> {
    let mut answers = Vec::new();
    let wanted = selection.candidates();
    let podman = wanted.contains(&EngineKind::Podman).then(|| {
        let (image, container) = (image.map(str::to_string), container.map(str::to_string));
        let settings = selection.settings.clone();
        tokio::task::spawn_blocking(move || -> Answer {
            let engine = Engine::connect(EngineKind::Podman, &settings)?;
            let lookup = match &engine {
                Engine::Podman(p) => p.lookup(image.as_deref(), container.as_deref())?,
                _ => unreachable!("connected to podman"),
            };
            Ok((engine, lookup))
        })
    });
    if wanted.contains(&EngineKind::Docker) && docker_socket_exists() {
        let answer = async {
            let engine = selection.connect(EngineKind::Docker)?;
            let lookup = engine.lookup(image, container).await?;
            Ok((engine, lookup))
        }
        .await;
        answers.push((EngineKind::Docker, answer));
    }
    if let Some(task) = podman {
        let answer = task.await.unwrap_or_else(|e| {
            Err(EngineError::Failed {
                engine: EngineKind::Podman,
                action: "lookup".into(),
                detail: e.to_string(),
            })
        });
        // Podman not being installed is not worth mentioning when Docker answered.
        if !matches!(answer, Err(EngineError::PodmanMissing)) || answers.is_empty() {
            answers.push((EngineKind::Podman, answer));
        }
    }
    if wanted.contains(&EngineKind::Native)
        && let Some(native) = selection.native_if_present()
    {
        let answer = native
            .lookup(image, container)
            .map(|lookup| (Engine::Native(native), lookup));
        answers.push((EngineKind::Native, answer));
    }
    answers
}

/// Without a socket there is no daemon to ask (and no point in a connection error). A `tcp://`
/// endpoint (DOCKER_HOST or a context) is always asked; a broken context is left to the
/// engine, which then says what is wrong with it.
pub fn docker_socket_exists() -> bool {
    use atomic_store::docker_client::{Endpoint, ProcessEnvironment};
    match Endpoint::resolve(&ProcessEnvironment) {
        Ok(endpoint) => endpoint
            .host
            .strip_prefix("unix://")
            .is_none_or(|path| std::path::Path::new(path).exists()),
        Err(_) => true,
    }
}

/// A clear "not found" error that says where atomic looked and what to do.
pub fn image_not_found(image: &str, selection: &Selection) -> anyhow::Error {
    // Pulling a name that cannot be a name is no advice: say what is wrong with it instead.
    let hex = image.strip_prefix("sha256:").unwrap_or(image);
    let looks_like_id = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !looks_like_id && let Err(e) = atomic_store::ImageName::parse(image) {
        return anyhow!("'{image}' is neither an image name nor an image ID: {e}");
    }
    match selection.explicit {
        Some(kind) => anyhow!(
            "image '{image}' not found in storage '{kind}'; pull it with 'atomic pull \
             --storage {kind} {image}'"
        ),
        None => anyhow!(
            "image '{image}' not found in docker, podman or the native storage; pull it with \
             'atomic pull {image}'"
        ),
    }
}

pub fn container_not_found(name: &str, selection: &Selection) -> anyhow::Error {
    match selection.explicit {
        Some(EngineKind::Native) => anyhow!("container '{name}' not found in storage 'native'"),
        Some(kind) => anyhow!("container '{name}' not found in storage '{kind}'"),
        None => anyhow!("container '{name}' not found in docker, podman or the native storage"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that holds the image and/or the container asked for.
    struct FakeEngine {
        kind: EngineKind,
        image: bool,
        container: bool,
    }

    impl Holding for FakeEngine {
        fn kind(&self) -> EngineKind {
            self.kind
        }

        fn has_image(&self) -> bool {
            self.image
        }

        fn has_container(&self) -> bool {
            self.container
        }
    }

    fn engine(kind: EngineKind, image: bool, container: bool) -> FakeEngine {
        FakeEngine {
            kind,
            image,
            container,
        }
    }

    use EngineKind::{Docker, Native, Podman};

    #[test]
    fn the_one_engine_holding_the_name_is_chosen() {
        let found = [
            engine(Docker, false, false),
            engine(Podman, true, false),
            engine(Native, false, false),
        ];
        assert_eq!(choose(&found, Some("x"), None).unwrap(), Some(1));
    }

    #[test]
    fn a_container_wins_over_an_image_of_another_engine() {
        let found = [engine(Docker, true, false), engine(Native, false, true)];
        assert_eq!(choose(&found, Some("x"), Some("x")).unwrap(), Some(1));
    }

    #[test]
    fn an_image_in_two_engines_asks_for_storage() {
        let found = [
            engine(Docker, true, false),
            engine(Podman, false, false),
            engine(Native, true, false),
        ];
        let err = choose(&found, Some("busybox"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image 'busybox' was found in more than one storage (docker and native); choose \
             one with --storage docker|native"
        );
    }

    #[test]
    fn a_container_in_two_engines_asks_for_storage_even_when_one_image_is_found() {
        let found = [engine(Docker, false, true), engine(Podman, true, true)];
        let err = choose(&found, Some("web"), Some("web")).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "container 'web' was found in more than one storage (docker and podman)"
            ),
            "{err}"
        );
    }

    #[test]
    fn nothing_anywhere_is_no_choice() {
        let found = [engine(Docker, false, false), engine(Podman, false, false)];
        assert_eq!(choose(&found, Some("x"), Some("x")).unwrap(), None);
        assert_eq!(choose::<FakeEngine>(&[], Some("x"), None).unwrap(), None);
    }
}
