//! Hostile input never breaks the engine: for arbitrary header bytes, property bytes,
//! statuses, flags and bodies, `on_log` returns (no panic), and every line it returns is one
//! line of valid JSON with no raw control, line-separator or bidi characters.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, missing_docs)]

use proptest::prelude::*;
use std::collections::HashMap;
use vigil_policies::exchange::Exchange;
use vigil_policies::metrics::MemoryMetrics;
use vigil_policies::policy::Format;
use vigil_policies::shared::MemoryStore;
use vigil_policies::{Engine, Policy};

struct Fake(HashMap<String, Vec<u8>>);

impl Exchange for Fake {
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).cloned()
    }
    fn request_header_pairs(&mut self) -> Option<Vec<u8>> {
        self.0.get("pairs").cloned()
    }
    fn response_header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.0.get(&format!("response {name}")).cloned()
    }
    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        self.0.get(&path.join(".")).cloned()
    }
    fn now_ns(&mut self) -> u64 {
        self.0
            .get("now")
            .and_then(|b| vigil_policies::envoy::le_u64(b))
            .unwrap_or(0)
    }
}

/// Wire bytes: random, hostile, or values that steer classification.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(b"\xC0\xA7\xC0\xA2\x1b[31m\xe2\x80\xa8\xe2\x80\xae".to_vec()),
        Just(b"/login".to_vec()),
        Just(b"POST".to_vec()),
    ]
}

/// Credential bytes: wire bytes, or a Basic credential whose encoded form must never be logged.
fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(),
        Just(b"Basic YWxpY2U6czNjcmV0".to_vec()),
        Just(b"session=YWxpY2U6czNjcmV0".to_vec())
    ]
}

fn clean(line: &str) -> bool {
    !line.chars().any(|c| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn on_log_never_panics_and_lines_stay_clean(
        method in bytes(), path in bytes(), ua in bytes(), auth in secret(), cookie in secret(),
        addr in bytes(), details in bytes(), sub in bytes(), body in proptest::collection::vec(any::<u8>(), 0..300),
        status in prop_oneof![Just(200u64), Just(401), Just(403), Just(429), Just(431), any::<u64>()],
        flags in any::<u64>(), time in any::<u64>(), short_code in proptest::collection::vec(any::<u8>(), 0..9),
        use_short in any::<bool>(), status_text in bytes(),
        pairs in prop_oneof![Just(None), proptest::collection::vec(any::<u8>(), 0..80).prop_map(Some)],
    ) {
        let (engine, _) = Engine::new(Policy::from_json(b"").unwrap(), |_| Some("k".repeat(32)), 1);
        let mut m = HashMap::new();
        m.insert(":method".to_string(), method);
        m.insert(":path".to_string(), path);
        m.insert("user-agent".to_string(), ua);
        m.insert("authorization".to_string(), auth);
        m.insert("cookie".to_string(), cookie);
        m.insert("source.address".to_string(), addr);
        m.insert("response.code_details".to_string(), details);
        m.insert("metadata.filter_metadata.envoy.filters.http.jwt_authn.jwt_payload.sub".to_string(), sub);
        m.insert("response.code".to_string(), if use_short { short_code } else { status.to_le_bytes().to_vec() });
        m.insert("response.flags".to_string(), flags.to_le_bytes().to_vec());
        m.insert("request.time".to_string(), time.to_le_bytes().to_vec());
        m.insert("now".to_string(), time.to_le_bytes().to_vec());
        if let Some(p) = pairs {
            // A damaged or hostile serialized map: the engine must still never panic.
            m.insert("pairs".to_string(), p);
        }
        m.insert("response :status".to_string(), status_text);
        let mut x = Fake(m);
        let mut st = engine.on_request_headers(&mut x);
        if let Some(s) = st.scanner.as_mut() {
            let n = body.len().min(s.wants());
            s.feed(&body[..n], body.len());
        }
        engine.on_response_headers(&mut x, &mut st);
        let mut store = MemoryStore::default();
        let mut metrics = MemoryMetrics::default();
        let events = engine.on_log(&mut x, Some(&st), &mut store, &mut metrics);
        for line in vigil_policies::encode::records(Format::Ecs, &events, 1024, &mut metrics) {
            prop_assert!(clean(&line), "{line}");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            prop_assert!(v["event"]["action"].is_string());
            prop_assert!(!line.contains("YWxpY2U6czNjcmV0"));
        }
    }
}
