//! The header maps Envoy hands a filter for one exchange, from the request model shared
//! with the playground ([`vigil_traffic::model`]), built into vectors recycled from the
//! previous stream so that a run allocates no header strings.

use crate::state::HostState;
use crate::traffic::{Exchange, Header};

pub(crate) use vigil_traffic::model::{before_log, client_closes, request_has_body};

/// Envoy's request header map for `x` ([`vigil_traffic::model::request_headers`]), with
/// a request id from the VM's seeded generator when the client sent none.
pub(crate) fn request_headers(st: &mut HostState, x: &Exchange) -> Vec<Header> {
    let h = std::mem::take(&mut st.spare_request_headers);
    vigil_traffic::model::request_headers(h, x, || st.new_request_id())
}

/// Envoy's response header map for `x` ([`vigil_traffic::model::response_headers`]).
pub(crate) fn response_headers(st: &mut HostState, x: &Exchange) -> Vec<Header> {
    let h = std::mem::take(&mut st.spare_response_headers);
    vigil_traffic::model::response_headers(h, x)
}

/// Keeps a finished stream's header vectors for the next exchange.
pub(crate) fn recycle(st: &mut HostState, request: Vec<Header>, response: Option<Vec<Header>>) {
    st.spare_request_headers = request;
    if let Some(r) = response {
        st.spare_response_headers = r;
    }
}
