//! The registry handshake: `GET /v2/`, and when the registry answers 401 with a challenge,
//! the credentials or bearer token its challenge asks for (the distribution token protocol).
//!
//! Credentials go to a token service only when it is the registry's own host or a sibling in
//! the registry's domain (`auth.docker.io` for `registry-1.docker.io`, `gitlab.com` for
//! `registry.gitlab.com`), and never from an https registry to an http token service. A
//! challenge that names any other realm could be a registry (or someone in between on a
//! plain-HTTP one) collecting passwords: the token is asked for anonymously instead, and if
//! that is refused the error says why. containers-image sends credentials to any realm; an
//! operator whose token service really sits elsewhere logs in with a token, not a password.

use std::time::{Duration, Instant};

use oci_client::errors::OciDistributionError;
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Deserialize;

use super::auth::Credentials;

/// What to send with each request to the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Authorization {
    #[default]
    Anonymous,
    Basic(String, String),
    Bearer(String),
}

impl Authorization {
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Authorization::Anonymous => request,
            Authorization::Basic(user, pass) => request.basic_auth(user, Some(pass)),
            Authorization::Bearer(token) => request.bearer_auth(token),
        }
    }
}

/// The scope asked of a token service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// A token's lifetime when the service does not say (the distribution token spec's default).
const DEFAULT_LIFETIME: u64 = 60;

/// What the handshake obtained, and when to renew it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub auth: Authorization,
    /// For a bearer token: the challenge to ask again and the time to do it (three quarters
    /// into the token's lifetime, so a request never goes out with an expired one).
    pub renew: Option<(Bearer, Instant)>,
}

/// A bearer challenge: where to ask for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub realm: String,
    pub service: Option<String>,
}

/// The challenges of a `WWW-Authenticate` header: a bearer one if offered, else whether basic
/// auth is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer(Bearer),
    Basic,
    Unknown,
}

/// Parse a `WWW-Authenticate` header value.
pub fn parse_challenge(header: &str) -> Challenge {
    let Ok(challenges) = http_auth::parse_challenges(header) else {
        return Challenge::Unknown;
    };
    let mut basic = false;
    for c in &challenges {
        if c.scheme.eq_ignore_ascii_case("bearer") {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            if let Some(realm) = param("realm") {
                return Challenge::Bearer(Bearer {
                    realm,
                    service: param("service"),
                });
            }
        } else if c.scheme.eq_ignore_ascii_case("basic") {
            basic = true;
        }
    }
    if basic {
        Challenge::Basic
    } else {
        Challenge::Unknown
    }
}

/// May credentials for `registry` (`HOST[:PORT]`, reached over `scheme`) go to `realm`?
pub fn realm_trusted(realm: &Url, registry: &str, scheme: &str) -> bool {
    if scheme == "https" && realm.scheme() != "https" {
        return false;
    }
    let Some(realm_host) = realm.host_str() else {
        return false;
    };
    let registry_host = host_of(registry);
    let realm_host = realm_host.trim_start_matches('[').trim_end_matches(']');
    if realm_host.eq_ignore_ascii_case(registry_host) {
        return true;
    }
    // Siblings in the registry's own domain; never for addresses, never above two labels.
    if registry_host.parse::<std::net::IpAddr>().is_ok()
        || realm_host.parse::<std::net::IpAddr>().is_ok()
    {
        return false;
    }
    let Some((_, parent)) = registry_host.split_once('.') else {
        return false;
    };
    if !parent.contains('.') {
        return false;
    }
    let realm_host = realm_host.to_ascii_lowercase();
    let parent = parent.to_ascii_lowercase();
    realm_host == parent || realm_host.ends_with(&format!(".{parent}"))
}

/// `host:port` → `host`; `[::1]:5000` → `::1`.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Reach `base` (`scheme://registry`) and find what to send for `repository`.
pub async fn handshake(
    http: &reqwest::Client,
    scheme: &str,
    registry: &str,
    repository: &str,
    creds: Option<&Credentials>,
    access: Access,
) -> Result<Grant, OciDistributionError> {
    let url = format!("{scheme}://{registry}/v2/");
    let response = http.get(&url).send().await?;
    let basic = || Grant {
        auth: match creds {
            Some((user, pass)) => Authorization::Basic(user.clone(), pass.clone()),
            None => Authorization::Anonymous,
        },
        renew: None,
    };
    if response.status().is_success() {
        return Ok(basic());
    }
    if response.status() != StatusCode::UNAUTHORIZED {
        return Err(OciDistributionError::ServerError {
            code: response.status().as_u16(),
            url,
            message: "the registry's API endpoint /v2/ did not answer as a registry".into(),
        });
    }
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .map_or(Challenge::Unknown, parse_challenge);
    match challenge {
        Challenge::Bearer(bearer) => {
            fetch_token(http, scheme, registry, repository, creds, access, &bearer).await
        }
        Challenge::Basic | Challenge::Unknown if creds.is_some() => Ok(basic()),
        Challenge::Basic | Challenge::Unknown => {
            Err(OciDistributionError::UnauthorizedError { url })
        }
    }
}

/// Ask the token service of `bearer` for a (new) token.
pub async fn fetch_token(
    http: &reqwest::Client,
    scheme: &str,
    registry: &str,
    repository: &str,
    creds: Option<&Credentials>,
    access: Access,
    bearer: &Bearer,
) -> Result<Grant, OciDistributionError> {
    let asked = Instant::now();
    let realm = Url::parse(&bearer.realm).map_err(|e| {
        OciDistributionError::AuthenticationFailure(format!(
            "{registry} names a token service that is not a URL ({}): {e}",
            bearer.realm
        ))
    })?;
    let trusted = realm_trusted(&realm, registry, scheme);
    let withheld = creds.is_some() && !trusted;
    if withheld {
        tracing::warn!(
            "{registry} asks for credentials to be sent to {realm}, which is not {registry} nor \
             in its domain: asking for an anonymous token instead"
        );
    }
    let scope = match access {
        Access::Pull => format!("repository:{repository}:pull"),
        Access::Push => format!("repository:{repository}:pull,push"),
    };
    let mut query = vec![("scope", scope)];
    if let Some(service) = &bearer.service {
        query.push(("service", service.clone()));
    }
    let mut request = http.get(realm.clone()).query(&query);
    if let (Some((user, pass)), true) = (creds, trusted) {
        request = request.basic_auth(user, Some(pass));
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        let status = response.status();
        let reason = if withheld {
            format!(
                "the token service {realm} refused an anonymous token ({status}); atomic did not \
                 send it the credentials for {registry} because it is on another host"
            )
        } else {
            format!("the token service {realm} refused ({status})")
        };
        return Err(OciDistributionError::AuthenticationFailure(reason));
    }
    let answer: TokenAnswer = response.json().await?;
    match answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
    {
        Some(token) => {
            let lifetime = answer.expires_in.unwrap_or(DEFAULT_LIFETIME).max(1);
            let renew_after = Duration::from_millis(lifetime.saturating_mul(750));
            Ok(Grant {
                auth: Authorization::Bearer(token),
                renew: Some((bearer.clone(), asked + renew_after)),
            })
        }
        None => Err(OciDistributionError::AuthenticationFailure(format!(
            "the token service {realm} answered without a token"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Challenge::Bearer(Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Challenge::Basic
        );
        assert_eq!(parse_challenge("Negotiate"), Challenge::Unknown);
        assert_eq!(parse_challenge("\u{1}garbage=\""), Challenge::Unknown);
    }

    #[test]
    fn realms_that_may_get_credentials() {
        let url = |s: &str| Url::parse(s).unwrap();
        let cases = [
            ("https://reg.io/token", "reg.io", "https", true),
            ("https://reg.io:8443/token", "reg.io:5000", "https", true),
            (
                "https://auth.docker.io/token",
                "registry-1.docker.io",
                "https",
                true,
            ),
            (
                "https://gitlab.com/jwt/auth",
                "registry.gitlab.com",
                "https",
                true,
            ),
            ("https://evil.example/token", "reg.io", "https", false),
            ("http://reg.io/token", "reg.io", "https", false),
            (
                "http://127.0.0.1:5001/token",
                "127.0.0.1:5000",
                "http",
                true,
            ),
            (
                "http://127.0.0.2:5001/token",
                "127.0.0.1:5000",
                "http",
                false,
            ),
            (
                "http://localhost:5001/token",
                "127.0.0.1:5000",
                "http",
                false,
            ),
            // A two-label registry has no sibling domain to share (`io` is not one).
            ("https://other.io/token", "quay.io", "https", false),
            (
                "https://x.reg.io.evil.example/token",
                "a.reg.io",
                "https",
                false,
            ),
        ];
        for (realm, registry, scheme, want) in cases {
            assert_eq!(
                realm_trusted(&url(realm), registry, scheme),
                want,
                "{realm} for {registry}"
            );
        }
    }
}
