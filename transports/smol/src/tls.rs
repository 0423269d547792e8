//! The TLS client configuration: rustls with ring, trusting the roots [`ClientOptions`]
//! names (the same rule as cm-ureq, through [`TrustRoots::load`]).
//!
//! [`TrustRoots::load`]: cm_driver::TrustRoots::load

use std::sync::Arc;

use cm_driver::ClientOptions;
use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::CertificateDer;
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};

/// A client configuration trusting the first CA bundle of `options` that holds a
/// certificate, else the bundled Mozilla roots. Certificates rustls rejects are skipped.
pub(crate) fn client_config(options: &ClientOptions) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    let parse = |pem: &[u8]| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem)
            .filter_map(Result::ok)
            .collect()
    };
    match options.roots.load(parse) {
        Some(certs) => {
            roots.add_parsable_certificates(certs);
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_driver::TrustRoots;
    use std::path::PathBuf;

    #[test]
    fn builds_with_bundled_roots_and_without_any_bundle_file() {
        let webpki = ClientOptions {
            roots: TrustRoots::WebPki,
            ..ClientOptions::default()
        };
        assert!(client_config(&webpki).is_ok());
        let missing = ClientOptions {
            roots: TrustRoots::Files(vec![PathBuf::from("/nonexistent/cm.pem")]),
            ..ClientOptions::default()
        };
        assert!(client_config(&missing).is_ok());
    }
}
