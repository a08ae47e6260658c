//! The engine's [`Exchange`] over the dynamic-module callbacks, as `plugin/src/host.rs`
//! implements it over proxy-wasm: headers through `http_get_header(s)`, properties through
//! `http_filter_get_attribute_*`, encoded exactly as proxy-wasm encodes them
//! ([`vigil_policies::envoy`]: integers 8-byte little-endian, header maps in the pairs
//! serialization), so the engine cannot tell the two hosts apart.
#![forbid(unsafe_code)]

use crate::ffi::{HeaderMap, Stream};
use std::time::{SystemTime, UNIX_EPOCH};
use vigil_policies::envoy::{
    REQUEST_TIME, RESPONSE_CODE, RESPONSE_CODE_DETAILS, RESPONSE_FLAGS_PROPERTY, SOURCE_ADDRESS,
};
use vigil_policies::exchange::Exchange;

/// Envoy 1.40's `envoy_dynamic_module_type_attribute_id` values Vigil reads (checked live by
/// [`crate::abi_check`]).
pub mod attr {
    /// `request.path` (string)
    pub const REQUEST_PATH: i32 = 0;
    /// `request.method` (string)
    pub const REQUEST_METHOD: i32 = 4;
    /// `request.id` (string)
    pub const REQUEST_ID: i32 = 9;
    /// `response.code` (int)
    pub const RESPONSE_CODE: i32 = 15;
    /// `response.code_details` (string)
    pub const RESPONSE_CODE_DETAILS: i32 = 16;
    /// `response.flags` (int)
    pub const RESPONSE_FLAGS: i32 = 17;
    /// `source.address` (string, `ip:port`)
    pub const SOURCE_ADDRESS: i32 = 24;
    /// `source.port` (int)
    pub const SOURCE_PORT: i32 = 25;
}

/// The host clock, ns since the epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One stream, read through the hook's callbacks.
pub struct ModuleExchange<'a, 'hook> {
    /// The stream of the running hook.
    pub stream: &'a Stream<'hook>,
    /// When the module's filter for this stream was created (stands in for `request.time`,
    /// which the engine reads only for a request whose headers it never saw).
    pub start_ns: u64,
}

impl Exchange for ModuleExchange<'_, '_> {
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.stream.header(HeaderMap::Request, name)
    }

    fn request_header_pairs(&mut self) -> Option<Vec<u8>> {
        self.stream.header_pairs(HeaderMap::Request)
    }

    fn response_header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.stream.header(HeaderMap::Response, name)
    }

    fn response_trailer(&mut self, name: &str) -> Option<Vec<u8>> {
        self.stream.header(HeaderMap::ResponseTrailers, name)
    }

    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        let int = |id| self.stream.attr_int(id).map(|v| v.to_le_bytes().to_vec());
        match path {
            p if p == RESPONSE_CODE => int(attr::RESPONSE_CODE),
            p if p == RESPONSE_FLAGS_PROPERTY => int(attr::RESPONSE_FLAGS),
            p if p == RESPONSE_CODE_DETAILS => self.stream.attr_string(attr::RESPONSE_CODE_DETAILS),
            p if p == SOURCE_ADDRESS => self.stream.attr_string(attr::SOURCE_ADDRESS),
            p if p == REQUEST_TIME => {
                (self.start_ns > 0).then(|| self.start_ns.to_le_bytes().to_vec())
            }
            // A string at the top level of a dynamic-metadata namespace.
            ["metadata", "filter_metadata", namespace, key] => {
                self.stream.metadata_string(namespace, key)
            }
            // Deeper leaves (jwt_authn's `payload_in_metadata` claims) are out of the 1.40
            // ABI's reach: it reads only top-level keys. See the README's limits.
            _ => None,
        }
    }

    fn now_ns(&mut self) -> u64 {
        now_ns()
    }
}
