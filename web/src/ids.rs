//! The random numbers of a harness VM, reproduced: the playground's results equal
//! `vigil replay`'s byte for byte, `event.id` and generated request ids included.
//!
//! The harness gives each VM a deterministic xorshift64* generator (seed: the worker
//! index; Envoy's canary VM `0xca0000`). The plugin reads 16 bytes of it once, through WASI
//! `random_get`, as std's hash-map keys; every later `RandomState` adds one to the first
//! key. From those the plugin derives its event-id seed and the detectors' secret
//! (`plugin/src/filter.rs`). Request ids for requests without `x-request-id` come from the
//! same generator afterwards. The byte-for-byte test (`tests/all/playground.rs`) guards
//! this mirror.

use vigil_policies::detect::siphash::{self, Key};

/// The harness's seed offset of Envoy's canary VM.
pub const CANARY_SEED: u64 = 0x00ca_0000;

/// The tags `plugin/src/filter.rs` hashes for its event-id seed and secret halves.
const SEED_TAG: u64 = 0x5669_6769_6c21;
const SECRET_TAGS: [u64; 2] = [0x0073_6563_7265_7430, 0x0073_6563_7265_7431];

/// One VM's generator (the harness's, from `vigil-traffic`).
pub use vigil_traffic::Rng;

/// What the plugin draws at `on_configure`, and the generator after it.
#[derive(Debug, Clone)]
pub struct VmRandom {
    /// The engine's event-id seed.
    pub id_seed: u64,
    /// The detectors' secret this VM offers (the first VM's wins).
    pub secret: [u8; 16],
    /// The generator, for request ids.
    pub rng: Rng,
}

/// std's `RandomState` hash of one `u64` under hash-map keys `(k0, k1)` (SipHash-1-3).
fn hash_u64(k0: u64, k1: u64, tag: u64) -> u64 {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&k0.to_le_bytes());
    key[8..].copy_from_slice(&k1.to_le_bytes());
    siphash::hash(&Key(key), &tag.to_le_bytes())
}

/// The random draws of a VM with `seed` through its `on_configure`.
pub fn vm_random(seed: u64) -> VmRandom {
    let mut rng = Rng::new(seed);
    let k0 = rng.next_u64();
    let k1 = rng.next_u64();
    let id_seed = hash_u64(k0, k1, SEED_TAG);
    let mut secret = [0u8; 16];
    secret[..8].copy_from_slice(&hash_u64(k0.wrapping_add(1), k1, SECRET_TAGS[0]).to_le_bytes());
    secret[8..].copy_from_slice(&hash_u64(k0.wrapping_add(2), k1, SECRET_TAGS[1]).to_le_bytes());
    VmRandom {
        id_seed,
        secret,
        rng,
    }
}
