//! Clientele patch (RUSTSEC-2024-0336): ported from rustls 0.20, which loops forever on a
//! close_notify right after the ClientHello and has no fixed 0.20 release, to rustls 0.23
//! with the ring provider. TLS 1.3 and 1.2 only. `accept` does no I/O (it only wraps the
//! socket): the handshake runs on the connection's own thread at its first read, under the
//! connection read timeout, so a slow client cannot hold up the accept thread.

use crate::connection::Connection;
use crate::util::refined_tcp_stream::Stream as RefinedStream;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// A wrapper around an owned Rustls connection and corresponding stream.
///
/// Uses an internal Mutex to permit disparate reader & writer threads to access the stream independently.
pub(crate) struct RustlsStream(
    Arc<Mutex<rustls::StreamOwned<rustls::ServerConnection, Connection>>>,
);

impl RustlsStream {
    pub(crate) fn peer_addr(&mut self) -> std::io::Result<Option<SocketAddr>> {
        self.0
            .lock()
            .expect("Failed to lock SSL stream mutex")
            .sock
            .peer_addr()
    }

    /// Clientele patch: the TCP socket beneath, for `Request::abort`.
    pub(crate) fn socket_clone(&self) -> Option<Connection> {
        let stream = self.0.lock().expect("Failed to lock SSL stream mutex");
        Some(stream.sock.handle())
    }

    pub(crate) fn shutdown(&mut self, how: Shutdown) -> std::io::Result<()> {
        let mut stream = self.0.lock().expect("Failed to lock SSL stream mutex");
        // Clientele patch: end the TLS session with a close_notify before the TCP FIN, so
        // clients see a clean close rather than a truncation. Best effort.
        if matches!(how, Shutdown::Write | Shutdown::Both) && !stream.conn.is_handshaking() {
            let stream = &mut *stream;
            stream.conn.send_close_notify();
            while stream.conn.wants_write() {
                match stream.conn.write_tls(&mut stream.sock) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        stream.sock.shutdown(how)
    }
}

impl Clone for RustlsStream {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Read for RustlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("Failed to lock SSL stream mutex")
            .read(buf)
    }
}

impl Write for RustlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("Failed to lock SSL stream mutex")
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0
            .lock()
            .expect("Failed to lock SSL stream mutex")
            .flush()
    }
}

pub(crate) struct RustlsContext(Arc<rustls::ServerConfig>);

impl RustlsContext {
    pub(crate) fn from_pem(
        certificates: Vec<u8>,
        private_key: Zeroizing<Vec<u8>>,
    ) -> Result<Self, Box<dyn Error + Send + Sync>> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let certificate_chain = CertificateDer::pem_slice_iter(&certificates)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("certificate: {e}"))?;
        if certificate_chain.is_empty() {
            return Err("certificate: no CERTIFICATE section in the PEM".into());
        }
        // PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the 0.20 code panicked on a bad key.
        let private_key =
            PrivateKeyDer::from_pem_slice(&private_key).map_err(|e| format!("private key: {e}"))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls_conf = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(certificate_chain, private_key)
            .map_err(|e| format!("certificate and private key: {e}"))?;

        Ok(Self(Arc::new(tls_conf)))
    }

    /// Wraps the socket; the handshake happens at the stream's first read or write.
    pub(crate) fn accept(
        &self,
        stream: Connection,
    ) -> Result<RustlsStream, Box<dyn Error + Send + Sync + 'static>> {
        let connection = rustls::ServerConnection::new(self.0.clone())?;
        Ok(RustlsStream(Arc::new(Mutex::new(
            rustls::StreamOwned::new(connection, stream),
        ))))
    }
}

impl From<RustlsStream> for RefinedStream {
    fn from(stream: RustlsStream) -> Self {
        Self::Https(stream)
    }
}
