//! A downstream TLS connection as a traffic file describes it (`tls`): what Envoy's
//! `connection.*` properties report for it. Absent: a plain connection (Envoy: `mtls` false,
//! `requested_server_name` empty, the rest NotFound; measured with the conformance probe).

use serde::Deserialize;

/// One certificate's identity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cert {
    /// The subject, as Envoy prints it (`connection.subject_*_certificate`).
    #[serde(default)]
    pub subject: String,
    /// URI SANs (`connection.uri_san_*_certificate` is the first).
    #[serde(default)]
    pub uri_sans: Vec<String>,
    /// DNS SANs (`connection.dns_san_*_certificate` is the first).
    #[serde(default)]
    pub dns_sans: Vec<String>,
    /// The SHA-256 digest, hex (`connection.sha256_peer_certificate_digest`; peer only).
    #[serde(default)]
    pub sha256: String,
}

/// The connection's TLS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `connection.tls_version` (`TLSv1.3`, ...).
    pub version: String,
    /// `connection.requested_server_name` (SNI; empty when the client sent none).
    #[serde(default)]
    pub sni: String,
    /// The server's certificate.
    #[serde(default)]
    pub local: Option<Cert>,
    /// The client's certificate, when it presented one (`connection.mtls`).
    #[serde(default)]
    pub peer: Option<Cert>,
}
