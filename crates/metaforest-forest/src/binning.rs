//! Quantile bin edges learned on training data, and the column-major `u8` binned matrix trees train on.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows used to learn edges; above this a deterministic evenly spaced subsample is used, which keeps
/// edge learning O(n) in the number of rows without visibly changing the quantiles.
const EDGE_SAMPLE_ROWS: usize = 262_144;

/// Per-feature bin edges learned on the training data.
///
/// Feature `f` has `edges(f).len() + 1` value bins: value `x` falls in the first bin `i` with
/// `x <= edges[i]` (the last bin if none), and NaN falls in one extra missing-value bin. Edges are
/// midpoints between adjacent distinct training values, placed so the bins hold roughly equal numbers of
/// training rows; a feature with few distinct values gets one bin per value. The edges therefore also
/// summarise the training distribution (the meta-learner compares new data against them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinEdges {
    edges: Vec<Vec<f64>>,
}

/// Rows per block when binning row-major input in parallel.
const BIN_BLOCK_ROWS: usize = 4096;

impl BinEdges {
    /// Learns edges with at most `n_bins` value bins per feature (2..=255) from `x` (rows × features).
    pub fn learn(x: ArrayView2<'_, f64>, n_bins: usize) -> Self {
        let n_bins = n_bins.clamp(2, crate::params::MAX_BINS);
        let edges = (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let col = x.column(f);
                let n = col.len();
                let step = n.div_ceil(EDGE_SAMPLE_ROWS).max(1);
                let mut vals: Vec<f64> = (0..n)
                    .step_by(step)
                    .map(|i| col[i])
                    .filter(|v| !v.is_nan())
                    .collect();
                vals.sort_unstable_by(f64::total_cmp);
                edges_from_sorted(&vals, n_bins)
            })
            .collect();
        BinEdges { edges }
    }

    /// Builds edges from explicit per-feature lists (each strictly increasing, at most 254 long).
    pub fn from_edges(edges: Vec<Vec<f64>>) -> Option<Self> {
        let ok = edges.iter().all(|e| {
            e.len() < crate::params::MAX_BINS
                && e.windows(2).all(|w| w[0] < w[1])
                && e.iter().all(|v| !v.is_nan())
        });
        ok.then_some(BinEdges { edges })
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.edges.len()
    }

    /// The edges of feature `f`.
    pub fn edges(&self, f: usize) -> &[f64] {
        &self.edges[f]
    }

    /// All edges, one list per feature.
    pub fn all(&self) -> &[Vec<f64>] {
        &self.edges
    }

    /// Number of value bins of feature `f` (the missing-value bin not included).
    pub fn n_value_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }

    /// The bin of value `v` for feature `f`; NaN maps to the missing bin `n_value_bins(f)`.
    #[inline]
    pub fn bin(&self, f: usize, v: f64) -> u8 {
        let e = &self.edges[f];
        if v.is_nan() {
            e.len() as u8 + 1
        } else {
            e.partition_point(|edge| *edge < v) as u8
        }
    }

    /// Bins a whole matrix (any layout) into a column-major byte matrix.
    pub(crate) fn bin_matrix(&self, x: ArrayView2<'_, f64>) -> BinnedMatrix {
        let (n_rows, nf) = x.dim();
        let data = match x.as_slice() {
            // Row-major input is binned row by row: reading it column by column would touch one
            // cache line per value (NF-v2, 309k x 41, 2 threads: 324 ms -> 61-65 ms). Blocks of rows are binned
            // in parallel, each into a column-major piece of its own, then copied into place.
            Some(rows) if nf > 0 => {
                let pieces: Vec<Vec<u8>> = rows
                    .par_chunks(BIN_BLOCK_ROWS * nf)
                    .map(|block| {
                        let len = block.len() / nf;
                        let mut piece = vec![0u8; block.len()];
                        for (i, row) in block.chunks_exact(nf).enumerate() {
                            for (f, &v) in row.iter().enumerate() {
                                piece[f * len + i] = self.bin(f, v);
                            }
                        }
                        piece
                    })
                    .collect();
                let mut data = vec![0u8; n_rows * nf];
                for (b, piece) in pieces.iter().enumerate() {
                    let (len, start) = (piece.len() / nf, b * BIN_BLOCK_ROWS);
                    for (f, col) in piece.chunks_exact(len).enumerate() {
                        data[f * n_rows + start..f * n_rows + start + len].copy_from_slice(col);
                    }
                }
                data
            }
            _ => {
                let cols: Vec<Vec<u8>> = (0..nf)
                    .into_par_iter()
                    .map(|f| x.column(f).iter().map(|&v| self.bin(f, v)).collect())
                    .collect();
                cols.concat()
            }
        };
        BinnedMatrix {
            n_rows,
            data,
            n_value_bins: (0..self.n_features())
                .map(|f| self.n_value_bins(f))
                .collect(),
        }
    }
}

/// Midpoint `m` with `a <= m < b` (for `a < b`), robust to overflow and to adjacent floats.
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a / 2.0 + b / 2.0;
    if m >= a && m < b {
        m
    } else {
        a
    }
}

/// Greedy equal-frequency binning over the distinct values of a sorted column: each bin closes once it
/// holds the mean remaining count, so a point mass (say 90 % zeros) takes one bin and the remaining
/// bins still resolve the rest of the distribution.
fn edges_from_sorted(vals: &[f64], n_bins: usize) -> Vec<f64> {
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &v in vals {
        match distinct.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= 1 {
        return Vec::new();
    }
    if distinct.len() <= n_bins {
        return distinct
            .windows(2)
            .map(|w| midpoint(w[0].0, w[1].0))
            .collect();
    }
    let mut edges = Vec::with_capacity(n_bins - 1);
    let mut remaining = vals.len() as f64;
    let mut bins_left = n_bins as f64;
    let mut acc = 0usize;
    for j in 0..distinct.len() - 1 {
        acc += distinct[j].1;
        if acc as f64 >= remaining / bins_left {
            edges.push(midpoint(distinct[j].0, distinct[j + 1].0));
            remaining -= acc as f64;
            bins_left -= 1.0;
            acc = 0;
            if edges.len() == n_bins - 1 {
                break;
            }
        }
    }
    edges
}

/// Column-major binned features: `data[f * n_rows + r]`.
#[derive(Debug, Clone)]
pub(crate) struct BinnedMatrix {
    pub(crate) n_rows: usize,
    pub(crate) data: Vec<u8>,
    pub(crate) n_value_bins: Vec<usize>,
}

impl BinnedMatrix {
    #[inline]
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        &self.data[f * self.n_rows..(f + 1) * self.n_rows]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn row_major_and_column_major_input_bin_alike() {
        // More rows than one parallel block, a last block that is not full, and missing values.
        let n = BIN_BLOCK_ROWS * 2 + 37;
        let x = ndarray::Array2::from_shape_fn((n, 3), |(i, j)| {
            if (i * 7 + j) % 101 == 0 {
                f64::NAN
            } else {
                ((i * 31 + j * 17) % 997) as f64 / (j + 1) as f64
            }
        });
        let edges = BinEdges::learn(x.view(), 64);
        let by_rows = edges.bin_matrix(x.view());
        let fortran = x.t().as_standard_layout().into_owned().reversed_axes();
        assert!(fortran.as_slice().is_none(), "column-major view");
        let by_columns = edges.bin_matrix(fortran.view());
        assert_eq!(by_rows.data, by_columns.data);
        for f in 0..3 {
            for i in [0, BIN_BLOCK_ROWS - 1, BIN_BLOCK_ROWS, n - 1] {
                assert_eq!(
                    by_rows.column(f)[i],
                    edges.bin(f, x[[i, f]]),
                    "row {i}, feature {f}"
                );
            }
        }
    }

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let e = edges_from_sorted(&[0.0, 0.0, 1.0, 3.0, 3.0], 255);
        assert_eq!(e, vec![0.5, 2.0]);
    }

    #[test]
    fn point_mass_keeps_resolution_for_the_rest() {
        let mut v = vec![0.0; 900];
        v.extend((1..=100).map(|i| i as f64));
        let e = edges_from_sorted(&v, 10);
        assert_eq!(e[0], 0.5);
        assert_eq!(e.len(), 9);
    }

    #[test]
    fn binning_matches_thresholds_and_nan_has_its_own_bin() {
        let x = array![[1.0], [2.0], [f64::NAN], [3.0]];
        let edges = BinEdges::learn(x.view(), 255);
        assert_eq!(edges.edges(0), &[1.5, 2.5]);
        assert_eq!(edges.bin(0, 1.5), 0);
        assert_eq!(edges.bin(0, 1.6), 1);
        assert_eq!(edges.bin(0, f64::NAN), 3);
        let b = edges.bin_matrix(x.view());
        assert_eq!(b.column(0), &[0, 1, 3, 2]);
    }
}
