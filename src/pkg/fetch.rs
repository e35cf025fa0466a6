//! Downloading a `.cxz` over `http://` or `https://` (rustls).
//!
//! The policy is the HTTP remote cache's (`exec::remote::http`): bounded
//! time (10 s to connect, 5 min in all), bounded size, credentials written
//! in the URL (`https://user:token@host/…`) sent as an `Authorization:
//! Basic` header and never shown or recorded. Redirects are followed only
//! within the same origin (scheme, host and port), at most 5: a redirect to
//! another server is refused with its target named, so credentials never
//! travel elsewhere and what is installed is what the user named. Messages
//! and `coex.lock` show the URL without credentials and without its query
//! (`?…`), which may hold a signed token.

use std::time::Duration;

use base64::Engine as _;

use super::PkgError;

/// Largest download accepted: the format's 256 MiB of content plus room
/// for ZIP headers. Anything bigger cannot be a valid `.cxz`.
pub const MAX_DOWNLOAD: u64 = 272 << 20;
const MAX_REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(300);

/// An `http(s)://` URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    userinfo: Option<String>,
    /// `host[:port]` as written, lower-cased.
    authority: String,
    port: u16,
    /// Path (starting with `/`) without query or fragment.
    path: String,
    /// The query without `?`, if any.
    query: Option<String>,
}

/// True for the sources `coex pkg install` downloads.
pub fn is_url(source: &str) -> bool {
    scheme_of(source).is_some_and(|s| s == "http" || s == "https")
}

/// The scheme of `source` if it looks like a URL (`x://…`).
pub fn scheme_of(source: &str) -> Option<String> {
    let (scheme, _) = source.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    ok.then(|| scheme.to_ascii_lowercase())
}

impl Url {
    /// Parses an `http://` or `https://` URL; `None` for anything else.
    pub fn parse(s: &str) -> Option<Url> {
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return None;
        }
        let scheme = scheme_of(s).filter(|s| s == "http" || s == "https")?;
        let rest = &s[scheme.len() + 3..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, authority),
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        let port = match host.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => p.parse().ok()?,
            _ => default_port,
        };
        if host.is_empty() || host.starts_with(':') {
            return None;
        }
        let tail = tail.split('#').next().unwrap_or("");
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (tail, None),
        };
        Some(Url {
            scheme,
            userinfo,
            authority: host.to_ascii_lowercase(),
            port,
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            query,
        })
    }

    /// What is requested: no credentials.
    fn request(&self) -> String {
        let q = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("{}://{}{}{q}", self.scheme, self.authority, self.path)
    }

    /// What messages and `coex.lock` show: no credentials, no query.
    pub fn shown(&self) -> String {
        let q = if self.query.is_some() { "?…" } else { "" };
        format!("{}://{}{}{q}", self.scheme, self.authority, self.path)
    }

    /// The last path component (`counter.cxz`), if any.
    pub fn file_name(&self) -> Option<&str> {
        self.path.rsplit('/').next().filter(|s| !s.is_empty())
    }

    fn same_origin(&self, other: &Url) -> bool {
        let host = |u: &Url| {
            let a = u.authority.as_str();
            match a.rsplit_once(':') {
                Some((h, p)) if !p.contains(']') => h.to_string(),
                _ => a.to_string(),
            }
        };
        self.scheme == other.scheme && self.port == other.port && host(self) == host(other)
    }

    /// A `Location` header's target, relative to this URL.
    fn resolve(&self, location: &str) -> Option<Url> {
        if scheme_of(location).is_some() {
            return Url::parse(location);
        }
        if location.starts_with("//") {
            return Url::parse(&format!("{}:{location}", self.scheme));
        }
        let base = if location.starts_with('/') {
            String::new()
        } else {
            let dir_end = self.path.rfind('/').map_or(0, |i| i + 1);
            self.path[..dir_end].to_string()
        };
        Url::parse(&format!(
            "{}://{}{base}{location}",
            self.scheme, self.authority
        ))
    }
}

fn tls_config(ca_pem: Option<&[u8]>) -> Result<ureq::tls::TlsConfig, PkgError> {
    use crate::exec::remote::http::{tls_with_roots, CaProblem};
    tls_with_roots(ca_pem).map_err(|p| match p {
        CaProblem::NotPem(e) => PkgError::new(format!("--ca: not valid PEM: {e}")),
        CaProblem::NoCertificate => PkgError::new("--ca: the file holds no certificate"),
    })
}

fn agent(ca_pem: Option<&[u8]>) -> Result<ureq::Agent, PkgError> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(TOTAL_TIMEOUT))
        .tls_config(tls_config(ca_pem)?)
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

/// Downloads `url` (a string [`is_url`] accepted), trusting the CAs in
/// `ca_pem` instead of the public web roots when given.
pub fn download(url: &Url, ca_pem: Option<&[u8]>) -> Result<Vec<u8>, PkgError> {
    let agent = agent(ca_pem)?;
    let auth = url.userinfo.as_ref().map(|u| {
        let token = base64::engine::general_purpose::STANDARD.encode(u.as_bytes());
        format!("Basic {token}")
    });
    let cannot = |why: String| PkgError::new(format!("cannot download {}: {why}", url.shown()));
    let mut current = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let mut req = agent.get(current.request());
        if let Some(a) = &auth {
            req = req.header("Authorization", a.as_str());
        }
        let mut resp = req
            .call()
            .map_err(|e| cannot(scrub(&e.to_string(), &current)))?;
        let status = resp.status();
        if status.as_u16() == 200 {
            return read_body(resp.body_mut()).map_err(|e| cannot(scrub(&e, &current)));
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match (status.is_redirection(), location) {
            (true, Some(loc)) => current = next_hop(url, &current, &loc)?,
            _ => {
                let reason = status.canonical_reason().unwrap_or("");
                return Err(cannot(format!(
                    "the server answered {} {reason}",
                    status.as_u16()
                )));
            }
        }
    }
    Err(cannot(format!("more than {MAX_REDIRECTS} redirects")))
}

/// The URL a redirect from `current` to `location` leads to, refused when
/// it leaves the origin of `first` (the URL the user gave).
fn next_hop(first: &Url, current: &Url, location: &str) -> Result<Url, PkgError> {
    let next = current.resolve(location).ok_or_else(|| {
        PkgError::new(format!(
            "cannot download {}: the server redirects to something that is not an http(s) URL",
            first.shown()
        ))
    })?;
    if !next.same_origin(first) {
        return Err(PkgError::with_fix(
            format!(
                "cannot download {}: the server redirects to {}, another server",
                first.shown(),
                next.shown()
            ),
            "coex follows redirects only to the same scheme, host and port (credentials \
             must not travel elsewhere). If you trust that server, install from its URL.",
        ));
    }
    Ok(next)
}

fn read_body(body: &mut ureq::Body) -> Result<Vec<u8>, String> {
    body.with_config()
        .limit(MAX_DOWNLOAD)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => format!(
                "it is larger than {} MiB, more than a .cxz may hold",
                MAX_DOWNLOAD >> 20
            ),
            other => other.to_string(),
        })
}

/// `text` with `url`'s request form (which may carry a query token)
/// replaced by its shown form.
fn scrub(text: &str, url: &Url) -> String {
    let mut out = text.replace(&url.request(), &url.shown());
    if let Some(q) = &url.query {
        out = out.replace(q.as_str(), "…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_query_when_shown() {
        let u = Url::parse("https://bob:s3cret@Host.example:8443/a/b.cxz?sig=xyz#frag").unwrap();
        assert_eq!(u.shown(), "https://host.example:8443/a/b.cxz?…");
        assert_eq!(u.request(), "https://host.example:8443/a/b.cxz?sig=xyz");
        assert_eq!(u.file_name(), Some("b.cxz"));
        assert_eq!(Url::parse("http://h").unwrap().shown(), "http://h/");
        for bad in [
            "ftp://h/x",
            "http:///x",
            "http://h:99999/x",
            "http://h/a b",
            "x.cxz",
        ] {
            assert_eq!(Url::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn redirects_resolve_and_compare_origins() {
        let u = Url::parse("http://127.0.0.1:8080/cache/x.cxz").unwrap();
        let same = |loc: &str| u.resolve(loc).unwrap().same_origin(&u);
        assert!(same("/other/x.cxz"));
        assert!(same("y.cxz"));
        assert!(same("http://127.0.0.1:8080/z"));
        assert!(!same("http://127.0.0.1:8081/z"));
        assert!(!same("https://127.0.0.1:8080/z"));
        assert!(!same("//evil.example/z"));
        assert_eq!(u.resolve("y.cxz").unwrap().path, "/cache/y.cxz");
    }
}
