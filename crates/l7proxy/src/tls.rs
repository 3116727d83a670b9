//! TLS for `listen … ssl`: a rustls server configuration per listening
//! address, from its default server's `ssl_certificate`,
//! `ssl_certificate_key` and `ssl_protocols`; ALPN offers `h2` when the
//! listener says `http2`.

use std::sync::Arc;

use nginx_conf::model::http::Server;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

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

/// The configuration for a listener whose default server is `server`.
pub fn server_config(
    server: &Server,
    http2: bool,
    line: usize,
) -> Result<Arc<ServerConfig>, String> {
    let where_ = format!("{}:{line}", server.file);
    let cert_path = server
        .settings
        .ssl_certificate
        .as_ref()
        .and_then(|v| v.first())
        .ok_or_else(|| format!("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in {where_}"))?;
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
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
        .with_single_cert(certs, key)
        .map_err(|e| format!("SSL_CTX_use_PrivateKey(\"{key_path}\") failed: {e}"))?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}
