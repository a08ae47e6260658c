//! Answering a unary gRPC call as Envoy 1.40's gRPC client does (measured with the
//! conformance probe): the answer is the upstream's reply (headers, a body of gRPC frames,
//! trailers). Status 0 with a message → `proxy_on_grpc_receive(root, token, size)`, the
//! message in `GrpcReceiveBuffer`; any other status → `proxy_on_grpc_close(root, token,
//! code)`, `proxy_get_status` then giving the code and `grpc-message` followed by Envoy's
//! details (`{via_upstream}`). Status from the trailers, or from the headers of a
//! trailers-only reply.

use std::sync::Arc;

use crate::error::HarnessError;
use crate::state::HttpCallResponse;
use crate::vm::Vm;

/// What the plugin is told.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The response message (status 0).
    Message(Vec<u8>),
    /// The call closed with this code and message.
    Close(u32, Vec<u8>),
}

/// gRPC's `INTERNAL`.
const INTERNAL: u32 = 13;

fn header<'a>(h: &'a [crate::traffic::Header], name: &str) -> Option<&'a [u8]> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Envoy's mapping of an HTTP status without `grpc-status` (`Grpc::Utility::httpToGrpcStatus`).
fn http_to_grpc(http: &[u8]) -> u32 {
    match http {
        b"400" => INTERNAL,
        b"401" => 16,
        b"403" => 7,
        b"404" => 12,
        b"429" | b"502" | b"503" | b"504" => 14,
        _ => 2,
    }
}

fn outcome(reply: &HttpCallResponse) -> Outcome {
    let status_header =
        header(&reply.trailers, "grpc-status").or_else(|| header(&reply.headers, "grpc-status"));
    let code = match status_header {
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(INTERNAL),
        None => http_to_grpc(header(&reply.headers, ":status").unwrap_or(b"")),
    };
    if code != 0 {
        let message = header(&reply.trailers, "grpc-message")
            .or_else(|| header(&reply.headers, "grpc-message"))
            .unwrap_or(b"");
        let mut m = message.to_vec();
        m.extend_from_slice(b"{via_upstream}");
        return Outcome::Close(code, m);
    }
    // The first length-prefixed message: flag byte, 4-byte big-endian length, payload.
    let b = &reply.body;
    match b
        .get(1..5)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
    {
        Some(n) if b.len() >= 5 + n => Outcome::Message(b[5..5 + n].to_vec()),
        _ => Outcome::Close(INTERNAL, Vec::new()),
    }
}

impl Vm {
    /// Answers the unary gRPC call `token` with the upstream's `reply`.
    pub fn respond_grpc_call(
        &mut self,
        token: u32,
        reply: HttpCallResponse,
    ) -> Result<(), HarnessError> {
        self.store
            .data_mut()
            .grpc_calls
            .remove(&token)
            .ok_or(HarnessError::UnknownGrpcCall(token))?;
        // Like an HTTP callout's, the answer goes to the root context.
        let root = self.store.data().root_context_id;
        let ex = Arc::clone(&self.ex);
        match outcome(&reply) {
            Outcome::Message(m) => {
                let args = (root as i32, token as i32, m.len() as i32);
                self.store.data_mut().grpc_message = Some(m);
                let r = self.call(
                    "proxy_on_grpc_receive",
                    root,
                    ex.on_grpc_receive.as_ref(),
                    args,
                );
                self.store.data_mut().grpc_message = None;
                r.map(|_| ())
            }
            Outcome::Close(code, message) => {
                self.store.data_mut().grpc_status = (code, message);
                let args = (root as i32, token as i32, code as i32);
                self.call("proxy_on_grpc_close", root, ex.on_grpc_close.as_ref(), args)
                    .map(|_| ())
            }
        }
    }

    /// The unary gRPC calls waiting for an answer.
    pub fn pending_grpc_calls(&self) -> Vec<crate::state::PendingGrpcCall> {
        self.store.data().grpc_calls.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(h: &[(&str, &str)], body: &[u8], t: &[(&str, &str)]) -> HttpCallResponse {
        let conv = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        HttpCallResponse {
            headers: conv(h),
            body: body.to_vec(),
            trailers: conv(t),
        }
    }

    #[test]
    fn a_message_with_status_0_is_received_anything_else_closes() {
        let ok = reply(
            &[(":status", "200")],
            b"\0\0\0\0\x02hi",
            &[("grpc-status", "0")],
        );
        assert_eq!(outcome(&ok), Outcome::Message(b"hi".to_vec()));
        let denied = reply(
            &[
                (":status", "200"),
                ("grpc-status", "7"),
                ("grpc-message", "no"),
            ],
            b"",
            &[],
        );
        assert_eq!(
            outcome(&denied),
            Outcome::Close(7, b"no{via_upstream}".to_vec())
        );
        let truncated = reply(
            &[(":status", "200")],
            b"\0\0\0\0\x09hi",
            &[("grpc-status", "0")],
        );
        assert_eq!(outcome(&truncated), Outcome::Close(INTERNAL, Vec::new()));
        let unavailable = reply(&[(":status", "503")], b"", &[]);
        assert_eq!(
            outcome(&unavailable),
            Outcome::Close(14, b"{via_upstream}".to_vec())
        );
    }
}
