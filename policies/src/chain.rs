//! Tamper evidence: every record a sink writes joins a hash chain, and checkpoints seal it.
//!
//! ## Chains
//! One chain per Envoy worker VM, per sink and per start (`output.chain.enabled`). Each
//! record carries, as the last member of its Vigil extension object (ECS and OWASP
//! `vigil.chain`, OCSF `unmapped.vigil.chain`) or as the last extension keys of a CEF line
//! (`vigilChainId`, `vigilChainSeq`, `vigilChainPrev`, `vigilChainHash`, and for the records
//! below `vigilChainKind`, `vigilChainReason`, `vigilChainEmitted`, `vigilChainDropped`,
//! `vigilChainKeyId`, `vigilChainMac`):
//! | field | value |
//! |---|---|
//! | `id` | the chain's name: 16 random hex digits drawn when the chain starts |
//! | `seq` | 0 for the genesis record, then 1, 2, … |
//! | `prev` | the previous record's `hash` (64 zeros for the genesis record) |
//! | `hash` | SHA-256 over `prev` (32 bytes) ‖ the record as emitted *without* its chain member, hex |
//! | `kind` | `genesis` or `checkpoint` for those records (absent on events) |
//!
//! **Genesis** (`vigil_chain_start`, seq 0) is written with a chain's first record, not at
//! start: Envoy's throw-away canary VM runs `on_configure` and writes nothing, so it leaves
//! no orphan chain. Its `reason` says why the chain began, told apart through shared data
//! (which lives as long as the Envoy process): `config_change` when the configuration's
//! SHA-256 differs from the last one that wrote a chain (`vigil.chain.config`); `reload`
//! when this VM started more than 10 s after its configuration's first VM
//! (`vigil.chain.first.<hash>`, set by whichever VM configures first: Envoy starts the
//! canary, the main thread's and every worker's VM in one burst, and starts a VM later only
//! to replace one, as `FAIL_RELOAD` does); `start` otherwise.
//!
//! **Checkpoints** (`vigil_chain_checkpoint`) are written every `checkpoint_every` records
//! and, with records since the last one, every `checkpoint_seconds` on the worker's tick.
//! They carry `emitted` (records in the chain so far) and `dropped` (records the sink could
//! not write, by reason, `reason:n,…`), and with a key (`output.chain.key_env`: an
//! environment variable of the VM, `vm_config.environment_variables.host_env_keys`; never
//! in the configuration, which `/config_dump` prints) `key_id` and `mac`: HMAC-SHA256 over
//! `id|seq|hash|emitted|dropped`. The key must differ from the fingerprint key.
//!
//! **What `vigil verify` can say** (`host-harness`, logic in [`verify`]): an edited record
//! (its hash does not match), deleted records (a gap in `seq`; explained when the next
//! checkpoint's `dropped` counts cover it), reordered ones, a chain with no genesis (a
//! splice, or a file cut at its start), a tail after the last checkpoint (the longest cut
//! that cannot be seen), and, with the key, a chain re-sealed with another key or rewritten
//! and re-chained (a checkpoint whose MAC fails). Without a key, anyone who rewrites the
//! file can recompute every hash: the trail is then not tamper-evident against a rewriter.

pub mod sealer;
pub mod verify;

use crate::policy::Format;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `output.chain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPolicy {
    /// Whether records are chained.
    pub enabled: bool,
    /// A checkpoint every this many records.
    pub checkpoint_every: u32,
    /// A checkpoint on the tick when this many seconds passed with records since the last.
    pub checkpoint_seconds: u32,
    /// The VM environment variable holding the checkpoint key (HMAC), if any.
    pub key_env: Option<String>,
}

impl Default for ChainPolicy {
    fn default() -> Self {
        ChainPolicy {
            enabled: false,
            checkpoint_every: 100,
            checkpoint_seconds: 60,
            key_env: None,
        }
    }
}

/// Lower-case hex of bytes.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        crate::escape::push_hex(&mut s, u64::from(*x), 2);
    }
    s
}

/// SHA-256 of `b`, hex (a configuration's identity in a genesis record's reason).
pub fn digest_hex(b: &[u8]) -> String {
    let d: [u8; 32] = Sha256::digest(b).into();
    hex(&d)
}

/// The chain hash of an unsealed record after `prev`.
pub fn link(prev: &[u8; 32], unsealed: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(unsealed);
    h.finalize().into()
}

/// The checkpoint MAC: HMAC-SHA256(key, `id|seq|hash|emitted|dropped`), hex.
pub fn checkpoint_mac(
    key: &[u8],
    id: &str,
    seq: u64,
    hash: &str,
    emitted: u64,
    dropped: &str,
) -> String {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    let mut msg = String::with_capacity(id.len() + hash.len() + dropped.len() + 48);
    msg.push_str(id);
    msg.push('|');
    crate::escape::push_u64(&mut msg, seq);
    msg.push('|');
    msg.push_str(hash);
    msg.push('|');
    crate::escape::push_u64(&mut msg, emitted);
    msg.push('|');
    msg.push_str(dropped);
    m.update(msg.as_bytes());
    hex(&m.finalize().into_bytes())
}

/// A key's id: the first 8 hex digits of its SHA-256 (names the key without revealing it).
pub fn key_id(key: &[u8]) -> String {
    let d: [u8; 32] = Sha256::digest(key).into();
    hex(&d[..4])
}

/// What a chain record adds beyond the link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extra {
    /// `genesis` or `checkpoint`.
    pub kind: Option<&'static str>,
    /// A genesis record's reason.
    pub reason: Option<&'static str>,
    /// A checkpoint's counts: records so far, drops by reason.
    pub emitted: Option<u64>,
    /// Drops by reason, `reason:n,…`.
    pub dropped: Option<String>,
    /// The checkpoint's key id and MAC.
    pub mac: Option<(String, String)>,
}

/// The chain fields of one record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields {
    /// Chain id.
    pub id: String,
    /// Sequence number.
    pub seq: u64,
    /// Previous hash, hex.
    pub prev: String,
    /// This record's hash, hex.
    pub hash: String,
    /// Genesis or checkpoint details.
    pub extra: Extra,
}

/// How many closing braces follow the Vigil extension object of a JSON format's record.
fn closing(format: Format) -> usize {
    match format {
        Format::Ocsf => 3,
        _ => 2,
    }
}

/// Inserts the chain fields into an unsealed record (see the module docs).
pub fn seal(format: Format, record: &str, f: &Fields) -> String {
    if format == Format::Cef {
        let mut s = String::with_capacity(record.len() + 200);
        s.push_str(record);
        let mut kv = |k: &str, v: &str| {
            s.push(' ');
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        };
        kv("vigilChainId", &f.id);
        kv("vigilChainSeq", &f.seq.to_string());
        kv("vigilChainPrev", &f.prev);
        kv("vigilChainHash", &f.hash);
        if let Some(k) = f.extra.kind {
            kv("vigilChainKind", k);
        }
        if let Some(r) = f.extra.reason {
            kv("vigilChainReason", r);
        }
        if let Some(n) = f.extra.emitted {
            kv("vigilChainEmitted", &n.to_string());
        }
        if let Some(d) = &f.extra.dropped {
            kv("vigilChainDropped", d);
        }
        if let Some((id, mac)) = &f.extra.mac {
            kv("vigilChainKeyId", id);
            kv("vigilChainMac", mac);
        }
        return s;
    }
    let n = closing(format);
    let cut = record.len().saturating_sub(n);
    let (head, tail) = record.split_at(cut);
    let mut s = String::with_capacity(record.len() + 240);
    s.push_str(head);
    if !head.ends_with('{') {
        s.push(',');
    }
    s.push_str("\"chain\":{\"id\":\"");
    s.push_str(&f.id);
    s.push_str("\",\"seq\":");
    crate::escape::push_u64(&mut s, f.seq);
    s.push_str(",\"prev\":\"");
    s.push_str(&f.prev);
    s.push_str("\",\"hash\":\"");
    s.push_str(&f.hash);
    s.push('"');
    if let Some(k) = f.extra.kind {
        s.push_str(",\"kind\":\"");
        s.push_str(k);
        s.push('"');
    }
    if let Some(r) = f.extra.reason {
        s.push_str(",\"reason\":\"");
        s.push_str(r);
        s.push('"');
    }
    if let Some(e) = f.extra.emitted {
        s.push_str(",\"emitted\":");
        crate::escape::push_u64(&mut s, e);
    }
    if let Some(d) = &f.extra.dropped {
        s.push_str(",\"dropped\":\"");
        s.push_str(d);
        s.push('"');
    }
    if let Some((id, mac)) = &f.extra.mac {
        s.push_str(",\"key_id\":\"");
        s.push_str(id);
        s.push_str("\",\"mac\":\"");
        s.push_str(mac);
        s.push('"');
    }
    s.push('}');
    s.push_str(tail);
    s
}

/// One chain's state in a sink.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The chain id.
    pub id: String,
    next_seq: u64,
    prev: [u8; 32],
    since_checkpoint: u64,
    /// When the last checkpoint (or the genesis) was written, ns.
    pub last_checkpoint_ns: u64,
}

impl Chain {
    /// A chain named `id`, not yet started (its genesis comes with its first record).
    pub fn new(id: String) -> Chain {
        Chain {
            id,
            next_seq: 0,
            prev: [0; 32],
            since_checkpoint: 0,
            last_checkpoint_ns: 0,
        }
    }

    /// Whether the genesis record was written.
    pub fn started(&self) -> bool {
        self.next_seq > 0
    }

    /// Records since the last checkpoint (the genesis counts as one).
    pub fn since_checkpoint(&self) -> u64 {
        self.since_checkpoint
    }

    /// Records in the chain so far.
    pub fn emitted(&self) -> u64 {
        self.next_seq
    }

    /// Seals `record` (unsealed, in `format`) as the chain's next record.
    pub fn append(&mut self, format: Format, record: &str, extra: Extra) -> String {
        let hash = link(&self.prev, record.as_bytes());
        let f = Fields {
            id: self.id.clone(),
            seq: self.next_seq,
            prev: hex(&self.prev),
            hash: hex(&hash),
            extra,
        };
        self.prev = hash;
        self.next_seq += 1;
        self.since_checkpoint += 1;
        seal(format, record, &f)
    }

    /// Seals a checkpoint record (its own hash is MAC'd with `key`, when there is one).
    pub fn checkpoint(
        &mut self,
        format: Format,
        record: &str,
        dropped: String,
        key: Option<&[u8]>,
        now_ns: u64,
    ) -> String {
        let hash = link(&self.prev, record.as_bytes());
        let seq = self.next_seq;
        let emitted = seq + 1;
        let hash_hex = hex(&hash);
        let mac = key.map(|k| {
            (
                key_id(k),
                checkpoint_mac(k, &self.id, seq, &hash_hex, emitted, &dropped),
            )
        });
        let f = Fields {
            id: self.id.clone(),
            seq,
            prev: hex(&self.prev),
            hash: hash_hex,
            extra: Extra {
                kind: Some("checkpoint"),
                emitted: Some(emitted),
                dropped: Some(dropped),
                mac,
                ..Extra::default()
            },
        };
        self.prev = hash;
        self.next_seq += 1;
        self.since_checkpoint = 0;
        self.last_checkpoint_ns = now_ns;
        seal(format, record, &f)
    }
}
