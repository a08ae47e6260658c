//! What the engine tests share: a fake exchange and a runner over an in-memory store.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;
use std::collections::HashMap;
use vigil_policies::exchange::Exchange;
use vigil_policies::metrics::MemoryMetrics;
use vigil_policies::policy::Format;
use vigil_policies::shared::MemoryStore;
use vigil_policies::{Engine, Policy};

#[derive(Default)]
pub struct Fake {
    pub headers: HashMap<String, Vec<u8>>,
    pub response: HashMap<String, Vec<u8>>,
    pub props: HashMap<String, Vec<u8>>,
    pub now: u64,
    pub reads: Vec<String>,
}

impl Exchange for Fake {
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.reads.push(name.to_string());
        self.headers.get(name).cloned()
    }
    fn request_header_pairs(&mut self) -> Option<Vec<u8>> {
        self.reads.push("request pairs".into());
        Some(serialize(&self.headers))
    }
    fn response_header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.reads.push(format!("response {name}"));
        self.response.get(name).cloned()
    }
    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        let k = path.join(".");
        self.reads.push(k.clone());
        self.props.get(&k).cloned()
    }
    fn now_ns(&mut self) -> u64 {
        self.now
    }
}

/// A header map as `proxy_get_header_map_pairs` serializes it.
fn serialize(h: &HashMap<String, Vec<u8>>) -> Vec<u8> {
    let pairs: Vec<(&String, &Vec<u8>)> = h.iter().collect();
    vigil_policies::envoy::serialize_pairs(&pairs)
}

pub fn lines(events: &[vigil_policies::event::Event]) -> Vec<String> {
    let mut m = MemoryMetrics::default();
    vigil_policies::encode::records(Format::Ecs, events, 1024, &mut m)
}

pub fn fake(method: &str, path: &str, status: u64, headers: &[(&str, &[u8])]) -> Fake {
    let mut f = Fake::default();
    f.headers
        .insert(":method".into(), method.as_bytes().to_vec());
    f.headers.insert(":path".into(), path.as_bytes().to_vec());
    f.headers
        .insert(":authority".into(), b"shop.example:10000".to_vec());
    f.headers.insert("x-request-id".into(), b"rid-1".to_vec());
    for (k, v) in headers {
        f.headers.insert(k.to_string(), v.to_vec());
    }
    f.props
        .insert("response.code".into(), status.to_le_bytes().to_vec());
    f.response
        .insert(":status".into(), status.to_string().into_bytes());
    f.now = 1_795_424_401_000_000_000;
    f.props
        .insert("response.flags".into(), 0u64.to_le_bytes().to_vec());
    f.props.insert(
        "request.time".into(),
        1_795_424_401_000_000_000u64.to_le_bytes().to_vec(),
    );
    f.props
        .insert("source.address".into(), b"203.0.113.7:40001".to_vec());
    f
}

pub struct Run {
    pub engine: Engine,
    pub store: MemoryStore,
    pub metrics: MemoryMetrics,
}

impl Run {
    pub fn new(policy: &str, env: &[(&str, &str)]) -> Run {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (engine, _) = Engine::new(
            Policy::from_json(policy.as_bytes()).unwrap(),
            |k| env.get(k).cloned(),
            7,
        );
        let mut store = MemoryStore::default();
        engine.init_shared(&mut store, [7; 16]);
        Run {
            engine,
            store,
            metrics: MemoryMetrics::default(),
        }
    }

    pub fn go(&mut self, f: &mut Fake, body: Option<&[u8]>) -> Vec<Value> {
        let mut st = self.engine.on_request_headers(f);
        if let (Some(b), Some(scan)) = (body, st.scanner.as_mut()) {
            scan.feed(&b[..b.len().min(scan.wants())], b.len());
        }
        self.engine.on_response_headers(f, &mut st);
        let events = self
            .engine
            .on_log(f, Some(&st), &mut self.store, &mut self.metrics);
        lines(&events)
            .iter()
            .map(|l| {
                assert!(!l.contains('\n'));
                serde_json::from_str(l).unwrap()
            })
            .collect()
    }
}
