//! Seed derivation shared by the workspace: per-draw / per-tree seeds are mixed from a base seed and
//! an index, so results never depend on which thread ran what.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `splitmix64(seed ^ index * 0x9E37_79B9_7F4A_7C15)`: the seed of sub-stream `index` of `seed`.
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    crate::table::mix(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A ChaCha8 generator for sub-stream `index` of `seed`.
pub fn rng_for(seed: u64, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, index))
}
