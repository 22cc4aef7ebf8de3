//! Manifest requests with a size cap.
//!
//! oci-client reads a manifest response whole into memory, however long it is: a registry
//! that sent a 100 MB manifest took 526 MB of RSS, and an endless chunked one 3 GB before the
//! process aborted. So manifests are fetched here, over the same protocol, TLS settings and
//! timeouts, with the token oci-client obtained, and read chunk by chunk up to
//! [`MAX_MANIFEST`] (what containers-image allows). Layers and configs are streamed with their
//! size checked against the manifest's as they arrive (`layers.rs`, `Remote::small_blob`).

use reqwest::header::{ACCEPT, HeaderValue};

use super::token::Authorization;

/// The largest manifest or index accepted: 4 MiB, as containers-image (`manifest.MaxSize`).
pub const MAX_MANIFEST: usize = 4 << 20;

/// How to reach one registry: the client set up for its TLS and the scheme that answered.
#[derive(Clone)]
pub struct ManifestClient {
    pub http: reqwest::Client,
    /// `https` or `http`.
    pub scheme: &'static str,
}

/// What a manifest request got back.
pub enum Answer {
    Manifest(Vec<u8>),
    /// The registry answered with an error status; its body (an error envelope, usually),
    /// cut at 64 KiB.
    Refused(reqwest::StatusCode, String),
    /// Longer than [`MAX_MANIFEST`]; the rest was not read.
    TooBig,
}

impl ManifestClient {
    pub fn new(http: reqwest::Client, scheme: &'static str) -> ManifestClient {
        ManifestClient { http, scheme }
    }

    /// GET `/v2/REPO/manifests/REFERENCE` on `registry`, accepting `accept`.
    pub async fn get(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        accept: &[&str],
        auth: &Authorization,
    ) -> reqwest::Result<Answer> {
        let url = format!(
            "{}://{registry}/v2/{repository}/manifests/{reference}",
            self.scheme
        );
        let mut request = self.http.get(&url);
        if let Ok(value) = HeaderValue::from_str(&accept.join(", ")) {
            request = request.header(ACCEPT, value);
        }
        request = auth.apply(request);
        let mut response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body = read_capped(&mut response, 64 << 10)
                .await?
                .unwrap_or_default();
            return Ok(Answer::Refused(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        Ok(match read_capped(&mut response, MAX_MANIFEST).await? {
            Some(bytes) => Answer::Manifest(bytes),
            None => Answer::TooBig,
        })
    }
}

/// The body, or `None` when it is longer than `cap` (said by Content-Length up front, or
/// found while reading; nothing past the cap is kept).
pub async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> reqwest::Result<Option<Vec<u8>>> {
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
