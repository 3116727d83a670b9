//! TLS for `listen … ssl`: a rustls server configuration per listening
//! address, from its default server's `ssl_certificate`,
//! `ssl_certificate_key` and `ssl_protocols`, with the certificate chosen
//! per connection by the SNI name among the listener's servers; ALPN
//! offers `h2` when the listener says `http2`.

use std::sync::Arc;

use nginx_conf::model::http::Server;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::route::ServerRoutes;

/// The versions `ssl_protocols` enables (nginx 1.22's default: `TLSv1
/// TLSv1.1 TLSv1.2`, without TLSv1.3 until nginx 1.23.4), as a set of TLS
/// version numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols(u8);

/// TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 and their wire numbers.
const VERSIONS: [(&str, u16); 4] = [
    ("TLSv1", 0x0301),
    ("TLSv1.1", 0x0302),
    ("TLSv1.2", 0x0303),
    ("TLSv1.3", 0x0304),
];

impl Protocols {
    pub fn of(list: Option<&Vec<String>>) -> Self {
        let Some(list) = list else {
            return Self(0b0111);
        };
        let mut bits = 0;
        for (i, (name, _)) in VERSIONS.iter().enumerate() {
            if list.iter().any(|p| p == name) {
                bits |= 1 << i;
            }
        }
        Self(bits)
    }

    /// Whether `version` (a wire number) is enabled.
    fn has(self, version: u16) -> bool {
        VERSIONS
            .iter()
            .position(|&(_, v)| v == version)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Whether TLSv1.2 or TLSv1.3, the versions rustls implements, is.
    fn offered(self) -> bool {
        self.has(0x0303) || self.has(0x0304)
    }

    /// The note for the error log when `ssl_protocols` names versions
    /// this build cannot offer (TLSv1, TLSv1.1: rustls has neither).
    pub fn note(self, explicit: bool, addr: std::net::SocketAddr, at: &str) -> Option<String> {
        if !explicit || !(self.has(0x0301) || self.has(0x0302)) {
            return None;
        }
        let what = if self.offered() {
            "are not offered"
        } else {
            "are not offered, so no TLS handshake can succeed"
        };
        Some(format!(
            "TLSv1 and TLSv1.1 in \"ssl_protocols\" {what} on {addr} (this build implements TLSv1.2 and TLSv1.3 only) in {at}"
        ))
    }

    /// The rustls versions to configure (TLSv1.2 when none is enabled:
    /// such a listener refuses every handshake before rustls sees it).
    fn rustls(self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let mut v = Vec::new();
        if self.has(0x0304) {
            v.push(&rustls::version::TLS13);
        }
        if self.has(0x0303) || !self.offered() {
            v.push(&rustls::version::TLS12);
        }
        v
    }
}

/// The TLS versions a ClientHello offers: its `supported_versions`
/// extension, else every version up to its `legacy_version`; `None` when
/// `data` does not start with a whole ClientHello record.
fn client_versions(data: &[u8]) -> Option<Vec<u16>> {
    let u16_at =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?])) };
    if data.first() != Some(&0x16) || data.get(5) != Some(&1) {
        return None;
    }
    let end = 5 + usize::from(u16_at(3)?);
    if data.len() < end {
        return None;
    }
    let legacy = u16_at(9)?;
    let mut i = 43;
    i += 1 + usize::from(*data.get(i)?); // session id
    i += 2 + usize::from(u16_at(i)?); // cipher suites
    i += 1 + usize::from(*data.get(i)?); // compression methods
    let everything_up_to = || (0x0301..=legacy.min(0x0303)).collect::<Vec<u16>>();
    let Some(ext_len) = u16_at(i) else {
        return Some(everything_up_to());
    };
    let ext_end = (i + 2 + usize::from(ext_len)).min(end);
    i += 2;
    while i + 4 <= ext_end {
        let (kind, len) = (u16_at(i)?, usize::from(u16_at(i + 2)?));
        if kind == 43 {
            let list = data.get(i + 5..i + 5 + usize::from(*data.get(i + 4)?))?;
            return Some(
                list.chunks_exact(2)
                    .map(|v| u16::from_be_bytes([v[0], v[1]]))
                    .collect(),
            );
        }
        i += 4 + len;
    }
    Some(everything_up_to())
}

/// nginx's (OpenSSL's) answer to a ClientHello that shares no version
/// with rustls' enabled ones, as the alert description to send: 70
/// (protocol_version) when the client and `ssl_protocols` share no version,
/// 80 (internal_error) when they share only TLSv1 or TLSv1.1 (enabled, but
/// OpenSSL 3 at its default security level cannot complete them). `None`:
/// rustls handles the handshake.
pub fn refusal(hello: &[u8], enabled: Protocols) -> Option<u8> {
    let Some(offered) = client_versions(hello) else {
        // Unreadable: rustls answers, unless it must not handshake at all.
        return (!enabled.offered()).then_some(80);
    };
    let common: Vec<u16> = offered.into_iter().filter(|&v| enabled.has(v)).collect();
    if common.iter().any(|&v| v >= 0x0303) {
        None
    } else if common.is_empty() {
        Some(70)
    } else {
        Some(80)
    }
}

/// Waits for the client's first bytes on a TLS port and, when nginx would
/// refuse them by version, writes its alert and returns true (the caller
/// closes the connection).
pub async fn screen(stream: &mut tokio::net::TcpStream, enabled: Protocols) -> bool {
    use tokio::io::AsyncWriteExt as _;
    let mut buf = vec![0u8; 16 * 1024];
    let Ok(n) = stream.peek(&mut buf).await else {
        return false;
    };
    let Some(alert) = refusal(&buf[..n], enabled) else {
        return false;
    };
    // A fatal alert in a plain record, with the hello's record version.
    let (hi, lo) = (
        buf.get(1).copied().unwrap_or(3),
        buf.get(2).copied().unwrap_or(1),
    );
    let _ = stream.write_all(&[0x15, hi, lo, 0, 2, 2, alert]).await;
    let _ = stream.shutdown().await;
    true
}

/// One server's certificate chain and key, from its `ssl_certificate`
/// and `ssl_certificate_key` (inherited from `http` as nginx merges them);
/// `None` when the server has no certificate.
fn certified_key(
    server: &Server,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Option<Arc<CertifiedKey>>, String> {
    let Some(cert_path) = server
        .settings
        .ssl_certificate
        .as_ref()
        .and_then(|v| v.first())
    else {
        return Ok(None);
    };
    let key_path = server
        .settings
        .ssl_certificate_key
        .as_ref()
        .and_then(|v| v.first())
        .ok_or_else(|| {
            format!("no \"ssl_certificate_key\" is defined for certificate \"{cert_path}\"")
        })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(Iterator::collect)
        .map_err(|e| format!("cannot load certificate \"{cert_path}\": {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "cannot load certificate \"{cert_path}\": no certificate in the file"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("cannot load certificate key \"{key_path}\": {e}"))?;
    CertifiedKey::from_der(certs, key, provider)
        .map(|k| Some(Arc::new(k)))
        .map_err(|e| format!("SSL_CTX_use_PrivateKey(\"{key_path}\") failed: {e}"))
}

/// Chooses the certificate by the client's SNI name with the rules that
/// choose a server by `Host` (`ngx_http_ssl_servername`): the server the
/// name selects among the listener's servers, if it has a certificate;
/// else (no SNI, unknown name, server without certificate) the default
/// server's.
#[derive(Debug)]
struct SniResolver {
    routes: Vec<ServerRoutes>,
    /// Per entry of `routes`, its server's certificate.
    keys: Vec<Option<Arc<CertifiedKey>>>,
    default: usize,
    default_key: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello.server_name().and_then(|name| {
            let all: Vec<usize> = (0..self.routes.len()).collect();
            let i = crate::route::select_server(&self.routes, &all, self.default, name);
            self.keys[i].clone()
        });
        Some(chosen.unwrap_or_else(|| Arc::clone(&self.default_key)))
    }
}

/// The configuration for a listener: its `servers` (indexes into `all`,
/// in configuration order) and its default server `default`.
pub fn server_config(
    all: &[Server],
    servers: &[usize],
    default: usize,
    http2: bool,
    line: usize,
) -> Result<Arc<ServerConfig>, String> {
    let server = &all[default];
    let where_ = format!("{}:{line}", server.file);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default_key = certified_key(server, &provider)?.ok_or_else(|| {
        format!(
            "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in {where_}"
        )
    })?;
    let mut routes = Vec::with_capacity(servers.len());
    let mut keys = Vec::with_capacity(servers.len());
    let mut default_pos = 0;
    for &i in servers {
        if i == default {
            default_pos = routes.len();
        }
        routes.push(
            ServerRoutes::new(&all[i])
                .map_err(|e| format!("pcre: \"{}\": {}", e.pattern, e.message))?,
        );
        keys.push(if i == default {
            Some(Arc::clone(&default_key))
        } else {
            certified_key(&all[i], &provider)?
        });
    }
    let versions = Protocols::of(server.settings.ssl_protocols.as_ref()).rustls();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver {
            routes,
            keys,
            default: default_pos,
            default_key,
        }));
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record with `legacy` as its version and, if given,
    /// a `supported_versions` extension listing `versions`.
    fn hello(legacy: u16, versions: Option<&[u16]>) -> Vec<u8> {
        let mut body = legacy.to_be_bytes().to_vec();
        body.extend_from_slice(&[0; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        if let Some(vs) = versions {
            let mut ext = vec![0, 43];
            let list: Vec<u8> = vs.iter().flat_map(|v| v.to_be_bytes()).collect();
            ext.extend_from_slice(&u16::try_from(list.len() + 1).unwrap().to_be_bytes());
            ext.push(u8::try_from(list.len()).unwrap());
            ext.extend_from_slice(&list);
            body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
            body.extend_from_slice(&ext);
        }
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut hs = vec![1, len[1], len[2], len[3]];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&u16::try_from(hs.len()).unwrap().to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn versions_are_refused_with_nginx_s_alerts() {
        let only12 = Protocols::of(Some(&vec!["TLSv1.2".to_owned()]));
        let debian = Protocols::of(Some(
            &["TLSv1", "TLSv1.1", "TLSv1.2"].map(str::to_owned).to_vec(),
        ));
        let old_only = Protocols::of(Some(&["TLSv1", "TLSv1.1"].map(str::to_owned).to_vec()));
        let tls10 = hello(0x0301, None);
        let tls13_only = hello(0x0303, Some(&[0x0304]));
        let modern = hello(0x0303, Some(&[0x0304, 0x0303]));
        assert_eq!(refusal(&tls10, only12), Some(70));
        assert_eq!(refusal(&tls10, debian), Some(80));
        assert_eq!(refusal(&tls13_only, only12), Some(70));
        assert_eq!(refusal(&modern, only12), None);
        assert_eq!(refusal(&modern, debian), None);
        // OpenSSL picks from supported_versions: nothing in common is 70,
        // TLSv1/TLSv1.1 in common 80 (checked against nginx with s_client
        // -min_protocol TLSv1.2 / TLSv1).
        assert_eq!(refusal(&modern, old_only), Some(70));
        let all = hello(0x0303, Some(&[0x0304, 0x0303, 0x0302, 0x0301]));
        assert_eq!(refusal(&all, old_only), Some(80));
        assert_eq!(refusal(&tls13_only, Protocols::of(None)), Some(70));
        // Cut short or not TLS: rustls answers (unless nothing is offered).
        for n in 0..tls10.len() {
            assert_eq!(refusal(&tls10[..n], only12), None);
            assert_eq!(refusal(&tls10[..n], old_only), Some(80));
        }
        assert_eq!(refusal(b"GET / HTTP/1.1\r\n\r\n", only12), None);
    }
}
