//! Connecting: the URL, the headers, TLS, the runtime, and the server's
//! capabilities, each checked once so calls later cannot fail on them.

use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;
use reapi::capabilities_client::CapabilitiesClient;
use reapi::digest_function::Value as DigestFunction;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::{status_fault, GrpcEndpoint, GrpcTransport};
use crate::exec::store::{FaultKind, StoreFault};

/// Longest time spent opening the connection (TCP, TLS, HTTP/2).
const CONNECT_CAP: Duration = Duration::from_secs(2);

/// Batch limit when the server names none (gRPC's default message limit).
const DEFAULT_BATCH_LIMIT: u64 = 4 << 20;

/// Largest batch limit believed (bigger batches buy nothing).
const MAX_BATCH_LIMIT: u64 = 64 << 20;

/// Room left in a batch for the request's own framing.
const BATCH_HEADROOM: u64 = 64 << 10;

/// The parts of a `grpc://` or `grpcs://` URL.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub tls: bool,
    /// `HOST:PORT` (or `HOST`), as written.
    pub authority: String,
    /// The host alone (for TLS server name checks).
    pub host: String,
}

/// Parses `grpc://HOST:PORT` or `grpcs://HOST:PORT` (a trailing `/` is fine;
/// user info, paths and queries are not: credentials go in headers).
pub(super) fn parse_url(url: &str) -> Result<Target, StoreFault> {
    let bad = |why: &str| {
        StoreFault::new(
            FaultKind::Io,
            format!(
                "remote cache URL {:?}: {why} (expected grpc://HOST:PORT or grpcs://HOST:PORT)",
                redact_user_info(url)
            ),
        )
    };
    let (tls, rest) = if let Some(rest) = url.strip_prefix("grpcs://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("grpc://") {
        (false, rest)
    } else {
        return Err(bad("unsupported scheme"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if authority.contains('@') {
        return Err(bad(
            "user info is not supported; send credentials as headers",
        ));
    }
    if authority.contains(['/', '?', '#']) || authority.chars().any(char::is_whitespace) {
        return Err(bad("a path, query or space after the host"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(bad("junk after the IPv6 address")),
            },
            None => return Err(bad("an unclosed '['")),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(bad("the port is not a number from 0 to 65535"));
    }
    Ok(Target {
        tls,
        authority: authority.to_string(),
        host: host.to_string(),
    })
}

/// `url` with any `user:password@` replaced by `…@`: never print a secret.
fn redact_user_info(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("…{}", &rest[at..]),
        Some(at) => format!("{scheme}://…{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Checks the headers once: gRPC metadata wants lowercase-able ASCII names
/// (not `-bin`, not reserved) and visible ASCII values. A bad one names the
/// header, never its value.
pub(super) fn parse_headers(
    headers: &[(String, String)],
) -> Result<Vec<(AsciiMetadataKey, AsciiMetadataValue)>, StoreFault> {
    let bad = |name: &str, why: &str| {
        StoreFault::new(
            FaultKind::Io,
            format!("remote cache header {name:?}: {why}"),
        )
    };
    let mut parsed = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("grpc-")
            || lower.starts_with(':')
            || ["content-type", "te", "user-agent"].contains(&lower.as_str())
        {
            return Err(bad(name, "reserved by gRPC"));
        }
        let key = AsciiMetadataKey::from_bytes(lower.as_bytes()).map_err(|_| {
            bad(
                name,
                "not a valid header name (letters, digits, '-', '_', '.'; no '-bin' suffix)",
            )
        })?;
        let value = AsciiMetadataValue::try_from(value.as_str())
            .map_err(|_| bad(name, "its value is not printable ASCII"))?;
        parsed.push((key, value));
    }
    Ok(parsed)
}

/// `grpc://HOST:PORT[/instance]`, the name used in every message.
fn location(target: &Target, instance: &str) -> String {
    let scheme = if target.tls { "grpcs" } else { "grpc" };
    if instance.is_empty() {
        format!("{scheme}://{}", target.authority)
    } else {
        format!("{scheme}://{}/{instance}", target.authority)
    }
}

/// The endpoint with timeouts, HTTP/2 windows for large blobs, and TLS.
fn endpoint(target: &Target, ca_pem: Option<&[u8]>, cap: Duration) -> Result<Endpoint, String> {
    let scheme = if target.tls { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", target.authority))
        .map_err(|e| e.to_string())?
        .connect_timeout(cap)
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    if target.tls {
        let mut tls = ClientTlsConfig::new()
            .with_webpki_roots()
            .domain_name(target.host.clone())
            .timeout(cap);
        if let Some(pem) = ca_pem {
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS set-up: {}", error_chain(&e)))?;
    }
    Ok(endpoint)
}

/// An error and its causes, `a: b: c`.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// What GetCapabilities told about the cache.
struct Capabilities {
    updates_enabled: bool,
    batch_limit: u64,
}

/// Checks the server's cache capabilities: SHA-256 must be among its digest
/// functions (the wire names blobs by SHA-256).
fn check_capabilities(
    caps: &reapi::ServerCapabilities,
    location: &str,
) -> Result<Capabilities, StoreFault> {
    let refuse = |why: String| StoreFault::new(FaultKind::Io, format!("{location}: {why}"));
    let Some(cache) = &caps.cache_capabilities else {
        return Err(refuse(
            "the server has no cache capabilities (not a REAPI cache?)".into(),
        ));
    };
    let sha256 = DigestFunction::Sha256 as i32;
    if !cache.digest_functions.contains(&sha256) {
        let names: Vec<&str> = cache
            .digest_functions
            .iter()
            .map(|f| DigestFunction::try_from(*f).map_or("?", |v| v.as_str_name()))
            .collect();
        return Err(refuse(format!(
            "the server does not offer SHA256 digests (it offers: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let updates_enabled = cache
        .action_cache_update_capabilities
        .as_ref()
        .is_some_and(|u| u.update_enabled);
    let batch_limit = match u64::try_from(cache.max_batch_total_size_bytes) {
        Ok(n) if n > 0 => n.min(MAX_BATCH_LIMIT),
        _ => DEFAULT_BATCH_LIMIT,
    };
    Ok(Capabilities {
        updates_enabled,
        batch_limit,
    })
}

/// See [`super::connect`].
pub(super) fn connect(ep: &GrpcEndpoint) -> Result<GrpcTransport, StoreFault> {
    let target = parse_url(&ep.url)?;
    let metadata = parse_headers(&ep.headers)?;
    let location = location(&target, &ep.instance_name);
    let fault = |kind: FaultKind, why: String| StoreFault::new(kind, format!("{location}: {why}"));
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(fault(
            FaultKind::Io,
            "connect called from inside an async runtime".into(),
        ));
    }
    let cap = CONNECT_CAP.min(ep.timeout);
    let endpoint =
        endpoint(&target, ep.ca_pem.as_deref(), cap).map_err(|e| fault(FaultKind::Io, e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("coex-grpc")
        .enable_all()
        .build()
        .map_err(|e| fault(FaultKind::Io, format!("cannot start the gRPC runtime: {e}")))?;
    let channel = runtime
        .block_on(async { tokio::time::timeout(cap, endpoint.connect()).await })
        .map_err(|_| {
            fault(
                FaultKind::Unreachable,
                format!("connect: unreachable: no connection within {cap:?}"),
            )
        })?
        .map_err(|e| {
            fault(
                FaultKind::Unreachable,
                format!("connect: unreachable: {}", error_chain(&e)),
            )
        })?;
    let caps = runtime.block_on(capabilities(&channel, ep, &metadata, &location))?;
    let caps = check_capabilities(&caps, &location)?;
    let max_message = usize::try_from(caps.batch_limit + (1 << 20)).unwrap_or(usize::MAX);
    Ok(GrpcTransport {
        runtime: Some(runtime),
        channel,
        instance: ep.instance_name.clone(),
        metadata,
        timeout: ep.timeout,
        location,
        batch_budget: caps.batch_limit.saturating_sub(BATCH_HEADROOM).max(1 << 16),
        max_message,
        updates_enabled: caps.updates_enabled,
        calls: std::sync::atomic::AtomicU64::new(1),
    })
}

/// Asks GetCapabilities within the endpoint's deadline.
async fn capabilities(
    channel: &Channel,
    ep: &GrpcEndpoint,
    metadata: &[(AsciiMetadataKey, AsciiMetadataValue)],
    location: &str,
) -> Result<reapi::ServerCapabilities, StoreFault> {
    let what = "GetCapabilities";
    let mut request = tonic::Request::new(reapi::GetCapabilitiesRequest {
        instance_name: ep.instance_name.clone(),
    });
    for (name, value) in metadata {
        request.metadata_mut().insert(name.clone(), value.clone());
    }
    request.set_timeout(ep.timeout);
    let mut client = CapabilitiesClient::new(channel.clone());
    let call = client.get_capabilities(request);
    match tokio::time::timeout(ep.timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(status_fault(location, what, &status)),
        Err(_) => Err(StoreFault::new(
            FaultKind::Unreachable,
            format!(
                "{location}: {what}: unreachable: no answer within the deadline of {:?}",
                ep.timeout
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("grpc://127.0.0.1:9092").unwrap();
        assert_eq!((t.tls, t.host.as_str()), (false, "127.0.0.1"));
        let t = parse_url("grpcs://cache.example.com:443/").unwrap();
        assert_eq!(
            (t.tls, t.authority.as_str()),
            (true, "cache.example.com:443")
        );
        let t = parse_url("grpcs://[::1]:8980").unwrap();
        assert_eq!(t.host, "::1");
        for bad in [
            "http://x:1",
            "grpc://",
            "grpc://u:p@x:1",
            "grpc://x:1/path",
            "grpc://x:99999",
            "grpc://x:port",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let err = parse_url("grpc://me:hunter2@x:1").unwrap_err();
        assert!(err.detail.contains("grpc://…@x:1"), "{err}");
        assert!(!err.detail.contains("hunter2"), "{err}");
        assert_eq!(redact_user_info("ftp://a:b@h/p@q"), "ftp://…@h/p@q");
    }

    #[test]
    fn headers_are_checked_and_values_never_printed() {
        let ok = parse_headers(&[("X-Api-Key".into(), "s3cret".into())]).unwrap();
        assert_eq!(ok[0].0.as_str(), "x-api-key");
        for name in ["bad header", "x-key-bin", "grpc-timeout", ":path", ""] {
            let err = parse_headers(&[(name.into(), "s3cret".into())]).unwrap_err();
            assert!(err.detail.contains(&format!("{name:?}")), "{err}");
            assert!(!err.detail.contains("s3cret"), "{err}");
        }
        let err = parse_headers(&[("x-key".into(), "line\nbreak".into())]).unwrap_err();
        assert!(!err.detail.contains("line"), "{err}");
    }
}
