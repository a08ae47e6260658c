//! One worker's chains, one per sink: what every host adapter (the proxy-wasm plugin, the
//! dynamic module) does with a request's encoded records when `output.chain.enabled`.
//!
//! - The genesis record goes out with a chain's first record; its reason is
//!   `config_change` when the last configuration that chained in this Envoy differs (shared
//!   key [`CONFIG_KEY`]), else why this VM or thread started ([`vm_start_reason`]).
//! - A checkpoint follows every `checkpoint_every` records, and the first records once
//!   `checkpoint_seconds` passed since the last checkpoint; a host with a timer and a sink
//!   that can write without a request (`envoy_log` in the plugin) writes it at once
//!   ([`Sealer::checkpoint_now`]).
//! - Drops the sink counted are carried, by reason, in the next checkpoint.
//!
//! Hosts differ only in how they read the clock and shared data and where records go.

use super::{digest_hex, Chain, ChainPolicy, Extra};
use crate::action::Action;
use crate::encode;
use crate::event::Event;
use crate::metrics::DropReason;
use crate::policy::{Format, Output};
use crate::shared::SharedStore;

/// The shared-data key holding the last configuration's hash (a genesis record's reason).
pub const CONFIG_KEY: &str = "vigil.chain.config";

/// VMs of one configuration that start within this long of its first VM are Envoy's start
/// (the canary, the main thread's, the workers'); a VM that starts later is a reload.
pub const START_BURST_NS: u64 = 10_000_000_000;

/// Whether this VM started with its configuration's first burst of VMs (`start`) or later
/// (`reload`: `FAIL_RELOAD`, a VM restarted by Envoy), from the configuration's first VM
/// start time in shared data (`vigil.chain.first.<hash>`).
pub fn vm_start_reason(
    store: &mut impl SharedStore,
    config_hash: &str,
    now_ns: u64,
) -> &'static str {
    let key = format!("vigil.chain.first.{config_hash}");
    match store.get(&key).ok().flatten() {
        Some((v, _)) => {
            let first = crate::envoy::le_u64(&v).unwrap_or(now_ns);
            if now_ns.saturating_sub(first) > START_BURST_NS {
                "reload"
            } else {
                "start"
            }
        }
        None => {
            let _ = store.set(&key, &now_ns.to_le_bytes(), 0);
            "start"
        }
    }
}

/// Why a chain key was refused (the message names the JSON path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// `output.chain.key_env` names a variable the host's environment lacks (or empty).
    #[error("at `output.chain.key_env`: the environment has no `{0}` ({1})")]
    Missing(String, &'static str),
    /// The checkpoint key equals the fingerprint key.
    #[error("at `output.chain.key_env`: the checkpoint key must not be the fingerprint key")]
    SameAsFingerprint,
}

/// The checkpoint key of a policy, read through `env` (never from the configuration);
/// `hint` says how the variable reaches this host's environment.
pub fn chain_key(
    policy: &crate::Policy,
    env: impl Fn(&str) -> Option<String>,
    hint: &'static str,
) -> Result<Option<Vec<u8>>, KeyError> {
    let Some(name) = &policy.output.chain.key_env else {
        return Ok(None);
    };
    let key = match env(name) {
        Some(k) if !k.is_empty() => k.into_bytes(),
        _ => return Err(KeyError::Missing(name.clone(), hint)),
    };
    let fingerprint = policy
        .fingerprint
        .key_env
        .as_deref()
        .and_then(&env)
        .or_else(|| policy.fingerprint.key.clone());
    if fingerprint.as_deref().map(str::as_bytes) == Some(key.as_slice()) {
        return Err(KeyError::SameAsFingerprint);
    }
    Ok(Some(key))
}

/// One sink's chain: its state and what its sink dropped.
#[derive(Debug)]
struct Chained {
    chain: Chain,
    dropped: Vec<(&'static str, u64)>,
}

/// A worker's chains, one per configured sink (by index).
#[derive(Debug)]
pub struct Sealer {
    policy: ChainPolicy,
    field_max_bytes: usize,
    key: Option<Vec<u8>>,
    config_hash: String,
    vm_reason: &'static str,
    chains: Vec<Chained>,
}

fn reason_name(r: DropReason) -> &'static str {
    match r {
        DropReason::LogLevel => "log_level",
        DropReason::HostRefused => "host_refused",
        DropReason::TooManyRecords => "too_many_records",
    }
}

impl Sealer {
    /// The chains of `output`'s sinks; `chain_ids` names each sink's chain, `key` is the
    /// checkpoint key, `config` the configuration as the host received it (its hash tells a
    /// configuration change), `vm_reason` why this VM started ([`vm_start_reason`]).
    pub fn new(
        output: &Output,
        chain_ids: Vec<String>,
        key: Option<Vec<u8>>,
        config: &[u8],
        vm_reason: &'static str,
    ) -> Sealer {
        Sealer {
            policy: output.chain.clone(),
            field_max_bytes: output.field_max_bytes,
            key,
            config_hash: digest_hex(config),
            vm_reason,
            chains: chain_ids
                .into_iter()
                .map(|id| Chained {
                    chain: Chain::new(id),
                    dropped: Vec::new(),
                })
                .collect(),
        }
    }

    /// Whether chains are on (`output.chain.enabled`).
    pub fn enabled(&self) -> bool {
        self.policy.enabled
    }

    /// The configuration's SHA-256 (hex).
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

    fn genesis_reason(&self, store: &mut impl SharedStore) -> &'static str {
        let stored = store.get(CONFIG_KEY).ok().flatten();
        let hash = self.config_hash.as_bytes();
        let reason = match &stored {
            Some((v, _)) if v.as_slice() != hash => "config_change",
            _ => self.vm_reason,
        };
        if stored.as_ref().map(|(v, _)| v.as_slice()) != Some(hash) {
            let cas = stored.map_or(0, |(_, c)| c);
            let _ = store.set(CONFIG_KEY, hash, cas);
        }
        reason
    }

    fn chain_record(&self, action: Action, now_ns: u64, format: Format) -> String {
        let e = Event {
            time_ns: now_ns,
            id: String::new(),
            action: Some(action),
            reason: if action == Action::VigilChainStart {
                "chain_start".into()
            } else {
                "chain_checkpoint".into()
            },
            rule: "chain".into(),
            ..Event::default()
        };
        encode::encode(format, &e, self.field_max_bytes).0
    }

    fn checkpoint(&mut self, si: usize, format: Format, now_ns: u64) -> Option<String> {
        let cp = self.chain_record(Action::VigilChainCheckpoint, now_ns, format);
        let key = self.key.as_deref();
        let c = self.chains.get_mut(si)?;
        let dropped = c
            .dropped
            .iter()
            .map(|(r, n)| format!("{r}:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        Some(c.chain.checkpoint(format, &cp, dropped, key, now_ns))
    }

    /// Chains sink `si`'s records: the genesis first if the chain has none, each record,
    /// and a checkpoint when one is due. Records of a sink without a chain pass unchanged.
    pub fn seal(
        &mut self,
        si: usize,
        format: Format,
        records: &[String],
        now_ns: u64,
        store: &mut impl SharedStore,
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(records.len() + 2);
        let needs_genesis = match self.chains.get(si) {
            Some(c) => !c.chain.started(),
            None => return records.to_vec(),
        };
        if needs_genesis {
            let g = self.chain_record(Action::VigilChainStart, now_ns, format);
            let extra = Extra {
                kind: Some("genesis"),
                reason: Some(self.genesis_reason(store)),
                ..Extra::default()
            };
            if let Some(c) = self.chains.get_mut(si) {
                c.chain.last_checkpoint_ns = now_ns;
                out.push(c.chain.append(format, &g, extra));
            }
        }
        let every = u64::from(self.policy.checkpoint_every);
        let mut due = false;
        if let Some(c) = self.chains.get_mut(si) {
            for r in records {
                out.push(c.chain.append(format, r, Extra::default()));
            }
            due = c.chain.since_checkpoint() >= every;
        }
        // `checkpoint_seconds` since the last checkpoint: these records close the period.
        due = due || self.owes(si, now_ns);
        if due {
            out.extend(self.checkpoint(si, format, now_ns));
        }
        out
    }

    /// Sink `si`'s chain owes a checkpoint: it has records since the last one and
    /// `checkpoint_seconds` have passed.
    fn owes(&self, si: usize, now_ns: u64) -> bool {
        let period = u64::from(self.policy.checkpoint_seconds) * 1_000_000_000;
        self.chains.get(si).is_some_and(|c| {
            c.chain.started()
                && c.chain.since_checkpoint() > 0
                && now_ns.saturating_sub(c.chain.last_checkpoint_ns) >= period
        })
    }

    /// Sink `si`'s checkpoint, now, when `checkpoint_seconds` have passed since the last
    /// one and records followed it (for a sink that can write without a request).
    pub fn checkpoint_now(&mut self, si: usize, format: Format, now_ns: u64) -> Option<String> {
        if self.owes(si, now_ns) {
            self.checkpoint(si, format, now_ns)
        } else {
            None
        }
    }

    /// Sink `si` dropped `n` records for `reason` (reported in its next checkpoint).
    pub fn note_drop(&mut self, si: usize, reason: DropReason, n: u64) {
        if let Some(c) = self.chains.get_mut(si) {
            let name = reason_name(reason);
            match c.dropped.iter_mut().find(|(r, _)| *r == name) {
                Some((_, k)) => *k += n,
                None => c.dropped.push((name, n)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::chain::verify::{parse, verify};
    use crate::shared::MemoryStore;

    fn sealer(config: &[u8], reason: &'static str) -> Sealer {
        let mut p = crate::Policy::from_json(
            br#"{"version":1,"output":{"chain":{"enabled":true,"checkpoint_every":3,"checkpoint_seconds":10}}}"#,
        )
        .unwrap();
        p.output.field_max_bytes = 1024;
        Sealer::new(
            &p.output,
            vec!["c0".into()],
            Some(b"k".to_vec()),
            config,
            reason,
        )
    }

    fn event(i: u64) -> String {
        format!(r#"{{"event":{{"sequence":{i}}}}}"#)
    }

    #[test]
    fn genesis_then_a_checkpoint_every_n_and_after_the_period_and_drops_are_carried() {
        let mut store = MemoryStore::default();
        let mut s = sealer(b"cfg", "start");
        let t = 1_000_000_000_000;
        let mut out = s.seal(0, Format::Ecs, &[event(1)], t, &mut store);
        assert_eq!(out.len(), 2);
        assert!(
            out[0].contains(r#""kind":"genesis","reason":"start""#),
            "{}",
            out[0]
        );
        // Third record since the genesis: a checkpoint follows.
        out.extend(s.seal(0, Format::Ecs, &[event(2), event(3)], t, &mut store));
        assert!(out.last().unwrap().contains(r#""kind":"checkpoint""#));
        s.note_drop(0, DropReason::LogLevel, 2);
        // One record within the period: no checkpoint; the next after it: one.
        out.extend(s.seal(0, Format::Ecs, &[event(4)], t + 1, &mut store));
        assert!(!out.last().unwrap().contains("checkpoint"));
        assert!(s.checkpoint_now(0, Format::Ecs, t + 2).is_none());
        let late = t + 11_000_000_000;
        out.extend(s.seal(0, Format::Ecs, &[event(5)], late, &mut store));
        let last = out.last().unwrap();
        assert!(last.contains(r#""dropped":"log_level:2""#), "{last}");
        let records: Vec<_> = out.iter().filter_map(|l| parse("t", l)).collect();
        assert_eq!(records.len(), out.len());
        assert_eq!(verify(&records, Some(b"k")), Vec::<String>::new());
    }

    #[test]
    fn genesis_reason_is_config_change_when_another_configuration_chained_before() {
        let mut store = MemoryStore::default();
        let first = sealer(b"one", "start").seal(0, Format::Ecs, &[event(1)], 1, &mut store);
        assert!(first[0].contains(r#""reason":"start""#));
        let again = sealer(b"one", "reload").seal(0, Format::Ecs, &[event(1)], 2, &mut store);
        assert!(again[0].contains(r#""reason":"reload""#));
        let other = sealer(b"two", "start").seal(0, Format::Ecs, &[event(1)], 3, &mut store);
        assert!(other[0].contains(r#""reason":"config_change""#));
    }

    #[test]
    fn vm_start_reason_is_reload_after_the_start_burst() {
        let mut store = MemoryStore::default();
        assert_eq!(vm_start_reason(&mut store, "h", 1), "start");
        assert_eq!(vm_start_reason(&mut store, "h", START_BURST_NS), "start");
        assert_eq!(
            vm_start_reason(&mut store, "h", START_BURST_NS + 2),
            "reload"
        );
    }

    #[test]
    fn chain_key_comes_from_the_environment_and_is_not_the_fingerprint_key() {
        let p = |j: &str| crate::Policy::from_json(j.as_bytes()).unwrap();
        let chained = p(r#"{"version":1,"output":{"chain":{"enabled":true,"key_env":"CK"}}}"#);
        let env = |k: &str| (k == "CK").then(|| "secret".to_string());
        assert_eq!(chain_key(&chained, env, "h"), Ok(Some(b"secret".to_vec())));
        let missing = chain_key(&chained, |_| None, "h").unwrap_err().to_string();
        assert!(missing.contains("`output.chain.key_env`"), "{missing}");
        let same = p(
            r#"{"version":1,"fingerprint":{"key_env":"CK"},"output":{"chain":{"enabled":true,"key_env":"CK"}}}"#,
        );
        assert_eq!(chain_key(&same, env, "h"), Err(KeyError::SameAsFingerprint));
    }
}
