//! One exchange as the engine reads it in the playground: the [`Exchange`] trait over the
//! request model of [`vigil_traffic::model`], at each stage of the stream as the harness
//! (and Envoy) present it to the plugin's callbacks.
//!
//! This is the harness's view of the maps and of the few properties Vigil reads
//! (`host-harness/src/hostcalls/{headers,properties}.rs`), kept small; the byte-for-byte
//! test against `vigil replay` guards it.

use vigil_policies::envoy;
use vigil_policies::exchange::Exchange;
use vigil_traffic::{Exchange as Traffic, Header};

/// Where the stream is: which callback is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `on_request_headers` and the request body.
    Request,
    /// The response callbacks (a codec rejection starts here).
    Response,
    /// `on_log`.
    Log,
}

/// One exchange's stream.
#[derive(Debug)]
pub struct Stream<'a> {
    x: &'a Traffic,
    /// The callback running.
    pub stage: Stage,
    /// The request headers are readable (during `on_request_headers`).
    pub request_live: bool,
    /// The response headers are readable (during `on_response_headers`).
    pub response_live: bool,
    /// `on_request_headers` ran.
    pub request_seen: bool,
    codec_rejected: bool,
    /// The request header map.
    pub request_headers: Vec<Header>,
    /// The response header map, once the response started.
    pub response_headers: Option<Vec<Header>>,
    /// The response trailers, once they arrived.
    pub response_trailers: Option<Vec<Header>>,
}

fn find<'h>(h: &'h [Header], name: &str) -> Option<&'h [u8]> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

impl<'a> Stream<'a> {
    /// The stream of `x`, with its request map built (`request_id` when the client sent
    /// none).
    pub fn new(x: &'a Traffic, request_id: impl FnOnce() -> String) -> Stream<'a> {
        let codec_rejected = x.envoy.rejected_by == Some(vigil_traffic::RejectedBy::Codec);
        let request_headers = if codec_rejected {
            Vec::new()
        } else {
            vigil_traffic::model::request_headers(Vec::new(), x, request_id)
        };
        Stream {
            x,
            stage: if codec_rejected {
                Stage::Response
            } else {
                Stage::Request
            },
            request_live: false,
            response_live: false,
            request_seen: false,
            codec_rejected,
            request_headers,
            response_headers: codec_rejected
                .then(|| vigil_traffic::model::response_headers(Vec::new(), x)),
            response_trailers: None,
        }
    }

    /// Whether the codec rejected the request (the plugin sees `on_log` only).
    pub fn codec_rejected(&self) -> bool {
        self.codec_rejected
    }

    fn request_map(&self) -> Option<&[Header]> {
        (self.request_live || self.stage == Stage::Log).then_some(&self.request_headers[..])
    }

    fn response_map(&self) -> Option<&[Header]> {
        if self.response_live || self.stage == Stage::Log {
            self.response_headers.as_deref()
        } else {
            None
        }
    }

    fn metadata(&self, rest: &[&str]) -> Option<Vec<u8>> {
        if self.stage == Stage::Request
            && (self.request_live || !self.request_seen)
            && rest.len() >= 2
        {
            return None;
        }
        let [ns, key, more @ ..] = rest else {
            return None;
        };
        let mut v = self.x.envoy.filter_metadata.get(*ns)?.get(*key)?;
        for seg in more {
            v = match v {
                serde_json::Value::Object(o) => o.get(*seg)?,
                serde_json::Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        let b = match v {
            serde_json::Value::String(s) => s.as_bytes().to_vec(),
            serde_json::Value::Number(n) => n.as_f64()?.to_le_bytes().to_vec(),
            serde_json::Value::Bool(b) => vec![u8::from(*b)],
            // Maps and lists: Vigil reads only leaves.
            _ => return None,
        };
        (!b.is_empty()).then_some(b)
    }
}

impl Exchange for Stream<'_> {
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>> {
        find(self.request_map()?, name).map(<[u8]>::to_vec)
    }

    fn request_header_pairs(&mut self) -> Option<Vec<u8>> {
        let m = self.request_map().filter(|m| !m.is_empty())?;
        Some(envoy::serialize_pairs(m))
    }

    fn response_header(&mut self, name: &str) -> Option<Vec<u8>> {
        find(self.response_map()?, name).map(<[u8]>::to_vec)
    }

    fn response_trailer(&mut self, name: &str) -> Option<Vec<u8>> {
        find(self.response_trailers.as_deref()?, name).map(<[u8]>::to_vec)
    }

    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        let x = self.x;
        let nonempty = |b: &[u8]| (!b.is_empty()).then(|| b.to_vec());
        match path {
            ["request", "time"] => Some((x.time_ns as i64).to_le_bytes().to_vec()),
            ["response", "flags"] => {
                let f = if self.stage == Stage::Request {
                    0
                } else {
                    x.envoy.response_flags
                };
                Some(f.to_le_bytes().to_vec())
            }
            ["response", "code"] => self
                .response_headers
                .as_ref()
                .map(|_| i64::from(x.response.status).to_le_bytes().to_vec()),
            ["response", "code_details"] => {
                self.response_headers.as_ref()?;
                nonempty(x.envoy.response_code_details.as_deref()?.as_bytes())
            }
            ["source", "address"] => nonempty(x.source.as_bytes()),
            ["metadata", "filter_metadata", rest @ ..] => self.metadata(rest),
            _ => None,
        }
    }

    fn now_ns(&mut self) -> u64 {
        self.x.time_ns
    }
}
