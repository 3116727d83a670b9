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

/// The TLS versions `ssl_protocols` allows, among those rustls has
/// (TLSv1 and TLSv1.1 have no implementation here and are ignored).
fn versions(protocols: Option<&Vec<String>>) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let Some(list) = protocols else {
        return vec![&rustls::version::TLS13, &rustls::version::TLS12];
    };
    let mut v = Vec::new();
    if list.iter().any(|p| p == "TLSv1.3") {
        v.push(&rustls::version::TLS13);
    }
    if list.iter().any(|p| p == "TLSv1.2") {
        v.push(&rustls::version::TLS12);
    }
    v
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
    let versions = versions(server.settings.ssl_protocols.as_ref());
    if versions.is_empty() {
        return Err(format!(
            "no TLS version this build supports is enabled by \"ssl_protocols\" in {where_}"
        ));
    }
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
