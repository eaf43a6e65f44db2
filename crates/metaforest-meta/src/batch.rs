//! The weighting head's forward pass over many rows at once, computing exactly what [`Mlp::forward`] computes
//! row by row (the same products, added in the same order from the same start, so the same bits): the rows of a
//! tile are laid side by side and each weight multiplies all of them, which the compiler vectorises, instead of
//! one long dependent sum per row.

use multiversion::multiversion;

use crate::network::Mlp;

/// Rows scored together: enough independent sums to hide the addition latency, few enough to stay in registers.
const TILE: usize = 32;
/// Lanes of the tiles that take the rows left over after the full tiles (a single flow's few forest rows): one
/// vector register.
const NARROW: usize = 8;

/// One layer over a tile (see [`layer_lanes`]).
type LayerPass = fn(&[f32], &[f32], &[f32], &mut [f32], bool);

impl Mlp {
    /// The output for each of `rows` (all of width `n_in`), row-major: `rows.len()` × the last layer's width.
    pub(crate) fn forward_rows<const N_IN: usize>(&self, rows: &[[f32; N_IN]]) -> Vec<f32> {
        let n_out = self.layers.last().map_or(N_IN, |(_, b)| b.len());
        let mut out = vec![0f32; rows.len() * n_out];
        let (mut h, mut next) = (Vec::new(), Vec::new());
        let full = rows.len() / TILE * TILE;
        let (wide_out, rest_out) = out.split_at_mut(full * n_out);
        for (tile, o) in rows[..full]
            .chunks(TILE)
            .zip(wide_out.chunks_mut(TILE * n_out))
        {
            self.tile_pass::<TILE, N_IN>(tile, o, &mut h, &mut next, layer_wide);
        }
        for (tile, o) in rows[full..]
            .chunks(NARROW)
            .zip(rest_out.chunks_mut(NARROW * n_out))
        {
            self.tile_pass::<NARROW, N_IN>(tile, o, &mut h, &mut next, layer_narrow);
        }
        out
    }

    /// Up to `T` rows through every layer, laid side by side: `h[i * T + k]` is input `i` of row `k` (lanes past
    /// the rows hold whatever the buffers held; their results are not read).
    fn tile_pass<const T: usize, const N_IN: usize>(
        &self,
        tile: &[[f32; N_IN]],
        out: &mut [f32],
        h: &mut Vec<f32>,
        next: &mut Vec<f32>,
        layer: LayerPass,
    ) {
        let widest = self
            .layers
            .iter()
            .map(|(_, b)| b.len())
            .fold(N_IN, usize::max);
        if h.len() < widest * T {
            h.resize(widest * T, 0.0);
            next.resize(widest * T, 0.0);
        }
        for (k, row) in tile.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                h[i * T + k] = v;
            }
        }
        let mut width = N_IN;
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let relu = l + 1 < self.layers.len();
            layer(w, b, &h[..width * T], next, relu);
            width = b.len();
            std::mem::swap(h, next);
        }
        let n_out = width;
        for (k, o) in out.chunks_mut(n_out).enumerate() {
            for (j, v) in o.iter_mut().enumerate() {
                *v = h[j * T + k];
            }
        }
    }
}

// Each pass is compiled again for wider vector units and chosen at run time: the same multiplications and
// additions in the same order (no fused multiply-add), so the same bits on every machine.

#[multiversion(targets("x86_64+avx512f", "x86_64+avx"))]
fn layer_wide(w: &[f32], b: &[f32], h: &[f32], next: &mut [f32], relu: bool) {
    layer_lanes::<TILE>(w, b, h, next, relu)
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx"))]
fn layer_narrow(w: &[f32], b: &[f32], h: &[f32], next: &mut [f32], relu: bool) {
    layer_lanes::<NARROW>(w, b, h, next, relu)
}

/// One layer over a tile of `T` lanes: `next[o * T + k]` = output `o` of row `k`, from the feature-major `h`.
#[inline(always)]
fn layer_lanes<const T: usize>(w: &[f32], b: &[f32], h: &[f32], next: &mut [f32], relu: bool) {
    let width = h.len() / T;
    let groups = T / 8;
    let mut o = 0;
    // Two outputs at a time: each input lane is loaded once for both, and their sums are independent chains.
    while o + 2 <= b.len() {
        let w0 = &w[o * width..][..width];
        let w1 = &w[(o + 1) * width..][..width];
        // `Iterator::sum` over f32 starts from -0.0 and adds left to right; so does this, per row and output.
        // Lanes in groups of eight, one vector register each.
        let mut a0 = [[-0.0f32; 8]; 4];
        let mut a1 = [[-0.0f32; 8]; 4];
        for ((&x0, &x1), hi) in w0.iter().zip(w1).zip(h.chunks_exact(T)) {
            for ((a0, a1), x) in a0[..groups]
                .iter_mut()
                .zip(a1[..groups].iter_mut())
                .zip(hi.chunks_exact(8))
            {
                for j in 0..8 {
                    a0[j] += x0 * x[j];
                    a1[j] += x1 * x[j];
                }
            }
        }
        store(&a0[..groups], b[o], &mut next[o * T..(o + 1) * T], relu);
        store(
            &a1[..groups],
            b[o + 1],
            &mut next[(o + 1) * T..(o + 2) * T],
            relu,
        );
        o += 2;
    }
    if o < b.len() {
        let w0 = &w[o * width..][..width];
        let mut a0 = [[-0.0f32; 8]; 4];
        for (&x0, hi) in w0.iter().zip(h.chunks_exact(T)) {
            for (a0, x) in a0[..groups].iter_mut().zip(hi.chunks_exact(8)) {
                for j in 0..8 {
                    a0[j] += x0 * x[j];
                }
            }
        }
        store(&a0[..groups], b[o], &mut next[o * T..(o + 1) * T], relu);
    }
}

/// Bias added after the sum (as [`Mlp::forward`] does), then ReLU on hidden layers.
#[inline(always)]
fn store(acc: &[[f32; 8]], bias: f32, dst: &mut [f32], relu: bool) {
    for (d, &a) in dst.iter_mut().zip(acc.iter().flatten()) {
        let v = bias + a;
        *d = if relu { v.max(0.0) } else { v };
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
        // 75 rows: two full tiles and 11 rows left (two narrow tiles); 69: 5 left; 4 and 1: narrow tiles only;
        // some inputs exactly zero, negative zero or large.
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
        for n in [75, 69, 4, 1] {
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
