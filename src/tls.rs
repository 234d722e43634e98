//! `--tls-cert` and `--tls-key`: read and checked at startup, so that a bad file is named
//! before any listener serves (every listener then speaks HTTPS only).

use crate::config::Config;

/// The loaded `--tls-cert` and `--tls-key`, and how to name them in an error.
pub struct Tls {
    pub config: tiny_http::SslConfig,
    pub files: String,
}

/// `--tls-cert` and `--tls-key`, read and checked here so that a bad file is named; the
/// vendored tiny_http serves TLS 1.3 and 1.2 with rustls 0.23 (README, "TLS").
pub fn load(config: &Config) -> Result<Option<Tls>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err("--tls-cert and --tls-key go together: give both or neither".into()),
    };
    let read = |flag: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
    };
    let certificate = read("--tls-cert", cert)?;
    let private_key = read("--tls-key", key)?;
    let certs = CertificateDer::pem_slice_iter(&certificate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {}: no PEM certificate in it",
            cert.display()
        ));
    }
    if is_encrypted(&private_key) {
        return Err(format!(
            "--tls-key {path}: the key is encrypted (protected by a passphrase), which is not \
             supported; decrypt it once with `openssl pkey -in {path} -out key.pem` and give \
             that file, readable only by the user that runs clientele",
            path = key.display()
        ));
    }
    PrivateKeyDer::from_pem_slice(&private_key).map_err(|e| {
        format!(
            "--tls-key {}: no PEM private key in it ({e})",
            key.display()
        )
    })?;
    Ok(Some(Tls {
        config: tiny_http::SslConfig {
            certificate,
            private_key,
        },
        files: format!("--tls-cert {} --tls-key {}", cert.display(), key.display()),
    }))
}

/// A PEM key protected by a passphrase: PKCS#8's `ENCRYPTED PRIVATE KEY`, or the older
/// format's `Proc-Type: 4,ENCRYPTED` header (which the PEM reader takes for bad base64).
fn is_encrypted(pem: &[u8]) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}
