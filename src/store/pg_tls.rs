//! TLS to PostgreSQL with libpq's settings, through rustls. tokio-postgres knows only
//! `sslmode=disable|prefer|require` and no `sslrootcert`, so both are taken off the URL here
//! and given libpq's meanings (docs/deploy.md):
//!
//! - `disable`: never TLS.
//! - `allow`, `prefer` (the default): TLS when the server offers it, its certificate not
//!   checked; plain otherwise.
//! - `require`: TLS or nothing, the certificate not checked, unless `sslrootcert` is given:
//!   then as `verify-ca` (libpq does the same when it finds a root certificate file).
//! - `verify-ca`: TLS, the certificate chains to `sslrootcert` (or the system's roots).
//! - `verify-full`: as `verify-ca`, and the certificate names the host of the URL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls_pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What the URL asked of TLS, and the connector that does it.
pub struct Tls {
    pub mode: Mode,
    pub root: Option<PathBuf>,
    pub connector: MakeRustlsConnect,
}

impl Tls {
    /// The sslmode tokio-postgres is given: whether to ask for TLS, and whether to insist.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Allow | Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }

    /// How the server is checked, for messages.
    pub fn describe(&self) -> String {
        let root = match &self.root {
            Some(path) => format!("sslrootcert={}", path.display()),
            None => "the system's root certificates".into(),
        };
        match effective(self.mode, self.root.as_deref()) {
            Mode::Disable => "sslmode=disable: no TLS".into(),
            Mode::Allow | Mode::Prefer => {
                "sslmode=prefer: TLS when offered, the certificate not checked".into()
            }
            Mode::Require => "sslmode=require: TLS, the certificate not checked".into(),
            Mode::VerifyCa => format!("TLS, the certificate must chain to {root}"),
            Mode::VerifyFull => {
                format!("TLS, the certificate must chain to {root} and name the host")
            }
        }
    }
}

/// `require` with a root certificate checks the chain, as libpq does.
fn effective(mode: Mode, root: Option<&Path>) -> Mode {
    match (mode, root) {
        (Mode::Require, Some(_)) => Mode::VerifyCa,
        (mode, _) => mode,
    }
}

/// The client's settings from a `postgres://` URL, libpq's TLS settings included, and the
/// connector that does the TLS it asks for.
pub fn config(url: &str) -> Result<(postgres::Config, Tls), String> {
    let (url, tls) = split(url)?;
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    config.ssl_mode(tls.ssl_mode());
    Ok((config, tls))
}

/// Takes `sslmode` and `sslrootcert` off a `postgres://` URL: the URL for tokio-postgres,
/// and the TLS it asked for.
fn split(url: &str) -> Result<(String, Tls), String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    let mut mode = Mode::Prefer;
    let mut root = None;
    let mut kept = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => mode = parse_mode(&value)?,
            "sslrootcert" => root = Some(PathBuf::from(value.as_ref())),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(&kept);
    }
    let effective = effective(mode, root.as_deref());
    let connector = MakeRustlsConnect::new(client_config(effective, root.as_deref())?);
    Ok((
        parsed.to_string(),
        Tls {
            mode,
            root,
            connector,
        },
    ))
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    Ok(match value {
        "disable" => Mode::Disable,
        "allow" => Mode::Allow,
        "prefer" => Mode::Prefer,
        "require" => Mode::Require,
        "verify-ca" => Mode::VerifyCa,
        "verify-full" => Mode::VerifyFull,
        other => {
            return Err(format!(
                "sslmode={other}: use disable, allow, prefer, require, verify-ca or verify-full"
            ))
        }
    })
}

fn client_config(mode: Mode, root: Option<&Path>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        Mode::Disable | Mode::Allow | Mode::Prefer | Mode::Require => Arc::new(Unchecked(provider)),
        Mode::VerifyCa => Arc::new(ChainOnly(webpki(root, provider)?)),
        Mode::VerifyFull => webpki(root, provider)?,
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The standard verifier over `root`'s certificates, or the system's.
fn webpki(
    root: Option<&Path>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    match root {
        Some(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert={shown}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslrootcert={shown}: not a PEM certificate file ({e})"))?;
            if certs.is_empty() {
                return Err(format!("sslrootcert={shown}: no certificate in it"));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("sslrootcert={shown}: {e}"))?;
            }
        }
        None => {
            // A system certificate that rustls cannot use is skipped, as the system's own
            // tools do.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| e.to_string())
}

/// `verify-ca`: the chain is checked, the name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require`: encrypted, the server not authenticated (libpq's meaning: these
/// modes guard against eavesdropping, not against a server in the middle). The handshake's
/// signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_settings_come_off_the_url_and_the_rest_stays() {
        let (url, tls) =
            split("postgres://u:p@db.example.com:5433/app?sslmode=verify-full&application_name=x")
                .unwrap();
        assert_eq!(
            url,
            "postgres://u:p@db.example.com:5433/app?application_name=x"
        );
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.ssl_mode(), SslMode::Require);
        let (url, tls) = split("postgres://u@h/app").unwrap();
        assert_eq!(url, "postgres://u@h/app");
        assert_eq!(tls.mode, Mode::Prefer);
        let refused = |url: &str| split(url).err().unwrap_or_default();
        assert!(refused("postgres://u@h/app?sslmode=sometimes").contains("verify-full"));
        assert!(
            refused("postgres://u@h/app?sslmode=verify-ca&sslrootcert=/no/such.pem")
                .contains("sslrootcert=/no/such.pem")
        );
    }
}
