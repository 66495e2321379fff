//! FxHash maps for the per-run indexes: keys are paths we walked ourselves, so SipHash's
//! flooding resistance buys nothing and costs a warm run on every lookup.

use std::collections::HashMap;

/// The per-run maps, keyed by paths we walked ourselves (no untrusted keys, so no need for
/// SipHash's flooding resistance): a warm run looks up every input of every step in them.
pub type Map<K, V> = HashMap<K, V, FastHash>;

/// FxHash, as rustc uses it: a multiply and a rotate per eight bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ rest.len() as u64);
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
