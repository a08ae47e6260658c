//! The traffic file's JSON shapes as serde reads them (strict: unknown fields are errors);
//! [`crate::parse_exchange`] checks and converts them.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::RejectedBy;

/// Bytes given as a UTF-8 string or `{"base64": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawBytes {
    Text(String),
    B64 {
        #[serde(rename = "base64")]
        b64: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExchange {
    #[serde(default)]
    pub(crate) name: Option<String>,
    pub(crate) time: String,
    pub(crate) source: String,
    #[serde(default)]
    pub(crate) destination: Option<String>,
    #[serde(default)]
    pub(crate) request: Option<RawRequest>,
    pub(crate) response: RawResponse,
    #[serde(default)]
    pub(crate) envoy: Option<RawEnvoy>,
    #[serde(default)]
    pub(crate) callouts: Vec<RawCallout>,
    #[serde(default)]
    pub(crate) tls: Option<crate::tls::Tls>,
    #[serde(default)]
    pub(crate) expect: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCallout {
    pub(crate) headers: Vec<(String, RawBytes)>,
    #[serde(default)]
    pub(crate) body: Option<RawBytes>,
    #[serde(default)]
    pub(crate) trailers: Vec<(String, RawBytes)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) scheme: Option<String>,
    #[serde(default)]
    pub(crate) protocol: Option<String>,
    pub(crate) headers: Vec<(String, RawBytes)>,
    #[serde(default)]
    pub(crate) body: Option<RawBody>,
    #[serde(default)]
    pub(crate) trailers: Option<Vec<(String, RawBytes)>>,
}

/// A body: one value, or its chunks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawBody {
    One(RawBytes),
    Chunks(Vec<RawBytes>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    #[serde(default)]
    pub(crate) headers: Vec<(String, RawBytes)>,
    #[serde(default)]
    pub(crate) body: Option<RawBody>,
    #[serde(default)]
    pub(crate) trailers: Option<Vec<(String, RawBytes)>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvoy {
    #[serde(default)]
    pub(crate) response_flags: Vec<String>,
    #[serde(default)]
    pub(crate) response_code_details: Option<String>,
    #[serde(default)]
    pub(crate) filter_metadata: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub(crate) rejected_by: Option<RejectedBy>,
    #[serde(default)]
    pub(crate) request_headers_added: Vec<(String, RawBytes)>,
    #[serde(default)]
    pub(crate) route_name: Option<String>,
    #[serde(default)]
    pub(crate) cluster_name: Option<String>,
    #[serde(default)]
    pub(crate) upstream_address: Option<String>,
}
