//! The weighting head's forward pass over many rows at once, computing exactly what [`Mlp::forward`] computes
//! row by row (the same products, added in the same order from the same start, so the same bits): the rows of a
//! tile are laid side by side and each weight multiplies all of them, which the compiler vectorises, instead of
//! one long dependent sum per row.

use multiversion::multiversion;

use crate::network::Mlp;

/// Rows scored together: enough independent sums to hide the addition latency, few enough to stay in registers.
const TILE: usize = 32;
/// Fewer rows than this go row by row: a tile costs about as much as this many rows scored one at a time.
const SMALL_TILE: usize = 8;

impl Mlp {
    /// The output for each of `rows` (all of width `n_in`), row-major: `rows.len()` × the last layer's width.
    pub(crate) fn forward_rows<const N_IN: usize>(&self, rows: &[[f32; N_IN]]) -> Vec<f32> {
        let mlp = self;
        let n_out = mlp.layers.last().map_or(N_IN, |(_, b)| b.len());
        let mut out = vec![0f32; rows.len() * n_out];
        let widest = mlp
            .layers
            .iter()
            .map(|(_, b)| b.len())
            .chain([N_IN])
            .max()
            .unwrap_or(N_IN);
        // Feature-major tiles: `h[i * TILE + k]` is input `i` of the tile's row `k`.
        // Allocated on the first tiled pass only (a batch of a few rows never needs them).
        let (mut h, mut next) = (Vec::new(), Vec::new());
        for (tile, out) in rows.chunks(TILE).zip(out.chunks_mut(TILE * n_out)) {
            if tile.len() < SMALL_TILE {
                // A tile computes all its lanes: for a few rows, row by row is less work (same bits either way).
                for (row, o) in tile.iter().zip(out.chunks_mut(n_out)) {
                    o.copy_from_slice(&mlp.forward(row));
                }
                continue;
            }
            if h.is_empty() {
                h = vec![0f32; widest * TILE];
                next = vec![0f32; widest * TILE];
            }
            for (k, row) in tile.iter().enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    h[i * TILE + k] = v;
                }
            }
            let mut width = N_IN;
            for (l, (w, b)) in mlp.layers.iter().enumerate() {
                let relu = l + 1 < mlp.layers.len();
                layer_tile(w, b, &h[..width * TILE], &mut next, relu);
                width = b.len();
                std::mem::swap(&mut h, &mut next);
            }
            for (k, o) in out.chunks_mut(n_out).enumerate() {
                for (j, v) in o.iter_mut().enumerate() {
                    *v = h[j * TILE + k];
                }
            }
        }
        out
    }
}

/// One layer over a tile: `next[o * TILE + k]` = output `o` of row `k`, from the feature-major inputs `h`.
///
/// Compiled again for wider vector units and chosen at run time: the same multiplications and additions in the
/// same order (no fused multiply-add), so the same bits on every machine, in half the instructions with AVX.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx"))]
fn layer_tile(w: &[f32], b: &[f32], h: &[f32], next: &mut [f32], relu: bool) {
    let width = h.len() / TILE;
    for (o, &bias) in b.iter().enumerate() {
        let weights = &w[o * width..(o + 1) * width];
        // `Iterator::sum` over f32 starts from -0.0 and adds left to right; so does this, per row.
        // Lanes in groups of eight, one vector register each.
        let mut acc = [[-0.0f32; 8]; TILE / 8];
        for (&wi, hi) in weights.iter().zip(h.chunks_exact(TILE)) {
            for (a, x) in acc.iter_mut().zip(hi.chunks_exact(8)) {
                for j in 0..8 {
                    a[j] += wi * x[j];
                }
            }
        }
        let dst = &mut next[o * TILE..(o + 1) * TILE];
        for (d, &a) in dst.iter_mut().zip(acc.iter().flatten()) {
            let v = bias + a;
            *d = if relu { v.max(0.0) } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_mlp(rng: &mut impl Rng, widths: &[usize]) -> Mlp {
        let layers = widths
            .windows(2)
            .map(|w| {
                let weights = (0..w[0] * w[1]).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let bias = (0..w[1]).map(|_| rng.gen_range(-0.5..0.5)).collect();
                (weights, bias)
            })
            .collect();
        Mlp { layers }
    }

    #[test]
    fn same_bits_as_the_row_by_row_forward() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mlp = random_mlp(&mut rng, &[40, 64, 64, 2]);
        // 75 rows: two full tiles and a partial one (tiled); 69: a partial tile of 5 rows (row by row); some
        // inputs exactly zero, negative zero or large.
        let rows: Vec<[f32; 40]> = (0..75)
            .map(|r| {
                std::array::from_fn(|i| match (r + i) % 11 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => 1e6,
                    _ => rng.gen_range(-3.0..3.0),
                })
            })
            .collect();
        for n in [75, 69] {
            check_rows(&mlp, &rows[..n]);
        }
        assert!(mlp.forward_rows(&[] as &[[f32; 40]]).is_empty());
    }

    fn check_rows(mlp: &Mlp, rows: &[[f32; 40]]) {
        let batch = mlp.forward_rows(rows);
        for (r, row) in rows.iter().enumerate() {
            let one = mlp.forward(row);
            for (j, v) in one.iter().enumerate() {
                assert_eq!(
                    v.to_bits(),
                    batch[r * 2 + j].to_bits(),
                    "row {r}, output {j}"
                );
            }
        }
    }
}
