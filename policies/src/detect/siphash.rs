//! SipHash-1-3 with a 128-bit key: the keyed fingerprint of every detector key.
//!
//! Hand-written (about 40 lines) rather than a dependency: std's `SipHasher13` is unstable
//! and `DefaultHasher`'s algorithm is unspecified. One compression round per word and three
//! finalization rounds, as in Rust's std; checked against the reference test vector.

/// A 128-bit key (the detectors' shared secret, [`super::secret`]). Its `Debug` output
/// never shows the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Key(pub [u8; 16]);

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

#[inline]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// SipHash-1-3 of `data` under `key`.
pub fn hash(key: &Key, data: &[u8]) -> u64 {
    let k0 = word(&key.0[..8]);
    let k1 = word(&key.0[8..]);
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = word(c);
        v[3] ^= m;
        round(&mut v);
        v[0] ^= m;
    }
    let tail = chunks.remainder();
    let m = word(tail) | ((data.len() as u64 & 0xff) << 56);
    v[3] ^= m;
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    round(&mut v);
    round(&mut v);
    round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_siphash_1_3() {
        // Key 00..0f, messages 00..(n-1), as the reference vectors are built; the key-0
        // values equal std's `DefaultHasher` (SipHash-1-3, keys 0) over the same bytes.
        let key = Key(core::array::from_fn(|i| i as u8));
        let msg: Vec<u8> = (0u8..64).collect();
        assert_eq!(hash(&key, &msg[..0]), 0xabac_0158_050f_c4dc);
        assert_eq!(hash(&key, &msg[..1]), 0xc9f4_9bf3_7d57_ca93);
        assert_eq!(hash(&key, &msg[..8]), 0x3690_9511_8d29_9a8e);
        let zero = Key::default();
        assert_eq!(hash(&zero, &msg[..0]), 0xd1fb_a762_150c_532c);
        assert_eq!(hash(&zero, &msg[..9]), 0x7592_7f9d_9512_4362);
        assert_eq!(hash(&zero, &msg[..63]), 0x385d_3e39_e5f3_7359);
        assert_ne!(hash(&Key([1; 16]), b"x"), hash(&Key([2; 16]), b"x"));
        assert_eq!(format!("{:?}", Key([0x41; 16])), "Key(<secret>)");
    }
}
