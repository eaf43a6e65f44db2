//! The forest: fitting, prediction, introspection, transplant, refit and warm start.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::binning::BinEdges;
use crate::error::{ForestError, Result};
use crate::params::{ClassWeight, ValidForestParams};
use crate::paths::PathsCell;
use crate::plan::{Plan, PlanCell};
use crate::tree::{build_tree, leaves_of_row, TrainData, Tree, TreePath, TreeStats};
use crate::walk::{walk_trees, SortKey, Walk, LOCKSTEP_ROWS};

/// Fewest rows per prediction block (the unit of parallel work).
const PREDICT_BLOCK_MIN: usize = 512;
/// Blocks are otherwise as large as this allows: each block reads every tree once, so few, big
/// blocks read the forest from memory few times. Two per thread rather than one lets a thread that
/// finishes early take over work (NF-v2, 77k rows, 2 threads: 8,192-row blocks gave 0.8× the rate
/// of two blocks per thread, one block per thread 0.8×, four 0.9×).
const BLOCKS_PER_THREAD: usize = 2;
/// Most rows per block: a block walked in sorted order copies its rows, so this bounds that copy
/// (65,536 rows × 41 NF-v2 features = 21 MB per thread) for very large inputs.
const PREDICT_BLOCK_MAX: usize = 65_536;
/// Blocks of at least this many rows are walked in an order that groups similar rows (see
/// `predict_block`); below it, the sort and copy cost more than the better-predicted branches save.
const SORT_MIN_ROWS: usize = 1024;
/// Below this many rows prediction runs on the calling thread: rayon's fork-join costs more than it saves.
const PARALLEL_MIN_ROWS: usize = 512;

/// A fitted random forest of [`Tree`]s over `n_features` features and `n_classes` classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub(crate) trees: Vec<Tree>,
    pub(crate) n_features: usize,
    pub(crate) n_classes: usize,
    pub(crate) edges: Option<BinEdges>,
    pub(crate) class_prior: Vec<f64>,
    /// The prediction plan, derived from `trees` on first use (not saved; see `plan.rs`).
    #[serde(skip)]
    pub(crate) plan: PlanCell,
    /// The features on each leaf's path, derived on first use (not saved; see `paths.rs`).
    #[serde(skip)]
    pub(crate) paths: PathsCell,
}

/// Validated training inputs.
struct Prepared {
    y16: Vec<u16>,
    sample_w: Vec<f64>,
    base_w: Vec<f64>,
    n_classes: usize,
    pool: Vec<u16>,
    pool_w: Option<Vec<f64>>,
    mtry: usize,
}

fn prepare(
    p: &ValidForestParams,
    x: ArrayView2<'_, f64>,
    y: &[u32],
    w: Option<&[f64]>,
) -> Result<Prepared> {
    let n = x.nrows();
    let n_features = x.ncols();
    if y.len() != n {
        return Err(ForestError::LengthMismatch {
            what: "targets",
            expected: n,
            got: y.len(),
        });
    }
    if let Some(w) = w {
        if w.len() != n {
            return Err(ForestError::LengthMismatch {
                what: "sample weights",
                expected: n,
                got: w.len(),
            });
        }
        if let Some((row, v)) = w
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(ForestError::InvalidSampleWeight { row, value: *v });
        }
    }
    if n == 0 {
        return Err(ForestError::EmptyData(
            "the feature matrix has no rows".into(),
        ));
    }
    if n > u32::MAX as usize {
        return Err(ForestError::EmptyData(format!(
            "{n} rows exceed the supported 2^32 - 1"
        )));
    }
    if n_features == 0 {
        return Err(ForestError::EmptyData(
            "the feature matrix has no columns".into(),
        ));
    }
    if n_features > (1 << 16) {
        return Err(ForestError::FeatureMismatch {
            expected: 1 << 16,
            got: n_features,
        });
    }
    let max_y = y.iter().copied().max().unwrap_or(0) as usize;
    let n_classes = match p.n_classes {
        Some(c) => c,
        None => (max_y + 1).max(2),
    };
    if n_classes > u16::MAX as usize {
        return Err(ForestError::InvalidParameter {
            param: "n_classes",
            message: format!("{n_classes} classes (from max(y) + 1) exceed {}", u16::MAX),
        });
    }
    if let Some((row, cl)) = y
        .iter()
        .enumerate()
        .find(|(_, c)| **c as usize >= n_classes)
    {
        return Err(ForestError::ClassOutOfRange {
            row,
            class: *cl as u64,
            n_classes,
        });
    }
    let sample_w: Vec<f64> = match w {
        Some(w) => w.to_vec(),
        None => vec![1.0; n],
    };
    let mut class_w_sum = vec![0.0; n_classes];
    for (yi, wi) in y.iter().zip(&sample_w) {
        class_w_sum[*yi as usize] += wi;
    }
    let total: f64 = class_w_sum.iter().sum();
    if total <= 0.0 {
        return Err(ForestError::EmptyData("every sample weight is 0".into()));
    }
    let cw: Vec<f64> = match &p.class_weight {
        ClassWeight::None => vec![1.0; n_classes],
        ClassWeight::Balanced => {
            let present = class_w_sum.iter().filter(|v| **v > 0.0).count() as f64;
            class_w_sum
                .iter()
                .map(|s| if *s > 0.0 { total / (present * s) } else { 0.0 })
                .collect()
        }
        ClassWeight::Explicit(w) => {
            if w.len() != n_classes {
                return Err(ForestError::InvalidParameter {
                    param: "class_weight",
                    message: format!(
                        "{} Explicit weights given but the data has {n_classes} classes",
                        w.len()
                    ),
                });
            }
            w.clone()
        }
    };
    let base_w: Vec<f64> = y
        .iter()
        .zip(&sample_w)
        .map(|(yi, wi)| wi * cw[*yi as usize])
        .collect();
    if base_w.iter().all(|v| *v <= 0.0) {
        return Err(ForestError::EmptyData(
            "every row has weight 0 after class weighting".into(),
        ));
    }
    let (pool, pool_w) = match &p.feature_prior {
        None => (
            (0..n_features as u32).map(|f| f as u16).collect::<Vec<_>>(),
            None,
        ),
        Some(prior) => {
            if prior.len() != n_features {
                return Err(ForestError::InvalidParameter {
                    param: "feature_prior",
                    message: format!(
                        "{} weights given but the data has {n_features} features",
                        prior.len()
                    ),
                });
            }
            let pool: Vec<u16> = (0..n_features)
                .filter(|f| prior[*f] > 0.0)
                .map(|f| f as u16)
                .collect();
            let pw = pool.iter().map(|f| prior[*f as usize]).collect();
            (pool, Some(pw))
        }
    };
    let mtry = p.max_features.resolve(pool.len());
    Ok(Prepared {
        y16: y.iter().map(|v| *v as u16).collect(),
        sample_w,
        base_w,
        n_classes,
        pool,
        pool_w,
        mtry,
    })
}

/// Fits `count` trees with global indices `first..first + count` (the index seeds the tree).
fn fit_trees(
    p: &ValidForestParams,
    x: ArrayView2<'_, f64>,
    y: &[u32],
    w: Option<&[f64]>,
    first: usize,
    count: usize,
) -> Result<(Vec<Tree>, BinEdges, Vec<f64>, usize)> {
    let prep = prepare(p, x, y, w)?;
    let edges = BinEdges::learn(x, p.n_bins);
    let binned = edges.bin_matrix(x);
    let data = TrainData {
        binned: &binned,
        edges: &edges,
        y: &prep.y16,
        base_w: &prep.base_w,
        sample_w: &prep.sample_w,
        n_classes: prep.n_classes,
        pool: &prep.pool,
        pool_weights: prep.pool_w.as_deref(),
        mtry: prep.mtry,
    };
    // Each tree depends only on (seed, index): collect keeps index order whatever the thread count.
    let trees: Vec<Tree> = (first..first + count)
        .into_par_iter()
        .map(|i| build_tree(&data, p, i as u64))
        .collect();
    let mut prior = vec![0.0; prep.n_classes];
    for (yi, wi) in prep.y16.iter().zip(&prep.sample_w) {
        prior[*yi as usize] += wi;
    }
    let s: f64 = prior.iter().sum();
    prior.iter_mut().for_each(|v| *v /= s);
    Ok((trees, edges, prior, prep.n_classes))
}

impl ValidForestParams {
    /// Fits a forest on `x` (rows × features, any memory layout; NaN = missing) and class indices `y`.
    pub fn fit(&self, x: ArrayView2<'_, f64>, y: &[u32]) -> Result<Forest> {
        self.fit_weighted_opt(x, y, None)
    }

    /// Like [`fit`](Self::fit) with one non-negative weight per row.
    pub fn fit_weighted(
        &self,
        x: ArrayView2<'_, f64>,
        y: &[u32],
        sample_weight: &[f64],
    ) -> Result<Forest> {
        self.fit_weighted_opt(x, y, Some(sample_weight))
    }

    fn fit_weighted_opt(
        &self,
        x: ArrayView2<'_, f64>,
        y: &[u32],
        w: Option<&[f64]>,
    ) -> Result<Forest> {
        let (trees, edges, class_prior, n_classes) = fit_trees(self, x, y, w, 0, self.n_trees)?;
        Ok(Forest {
            trees,
            n_features: x.ncols(),
            n_classes,
            edges: Some(edges),
            class_prior,
            plan: PlanCell::default(),
            paths: PathsCell::default(),
        })
    }
}

impl Forest {
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Bin edges learned on the training data (`None` for a forest assembled with [`from_trees`](Self::from_trees)
    /// that has not been grown since).
    pub fn bin_edges(&self) -> Option<&BinEdges> {
        self.edges.as_ref()
    }

    /// Class distribution of the training targets (sample-weighted, before class weights). For a
    /// transplanted forest, the mean of its trees' priors; after [`refit_leaves`](Self::refit_leaves), the refit data's.
    pub fn train_class_prior(&self) -> &[f64] {
        &self.class_prior
    }

    fn check_features(&self, got: usize) -> Result<()> {
        if got != self.n_features {
            return Err(ForestError::FeatureMismatch {
                expected: self.n_features,
                got,
            });
        }
        Ok(())
    }

    /// Bytes of the compact form prediction walks (4-byte nodes; see the crate docs), or `None`
    /// if the forest is beyond its limits (more than 127 features, more than 254 distinct split
    /// thresholds on one feature, or trees of more than 131,071 nodes) and predicts by its trees.
    pub fn prediction_plan_bytes(&self) -> Option<usize> {
        self.plan
            .get(&self.trees, self.n_features)
            .map(|p| p.bytes())
    }

    /// Class probabilities of one row, written into `out` (length `n_classes`); no allocation.
    pub fn predict_proba_row_into(&self, row: &[f64], out: &mut [f64]) -> Result<()> {
        self.check_features(row.len())?;
        if out.len() != self.n_classes {
            return Err(ForestError::ClassMismatch {
                expected: self.n_classes,
                got: out.len(),
            });
        }
        out.iter_mut().for_each(|v| *v = 0.0);
        self.sum_row(row, out);
        let inv = 1.0 / self.trees.len() as f64;
        out.iter_mut().for_each(|v| *v *= inv);
        Ok(())
    }

    /// Adds every tree's leaf distribution for `row` into `out` (in tree order), through the
    /// prediction plan where the forest has one.
    #[inline]
    fn sum_row(&self, row: &[f64], out: &mut [f64]) {
        if let Some(plan) = self.plan.get(&self.trees, self.n_features) {
            return plan.sum_row(row, out);
        }
        let c = self.n_classes;
        // Leaves first (traversals overlapped), then the sum in tree order; a stack buffer keeps the
        // single-flow path free of allocation.
        const CHUNK: usize = 64;
        let mut leaves = [0u32; CHUNK];
        for trees in self.trees.chunks(CHUNK) {
            leaves_of_row(trees, row, &mut leaves[..trees.len()]);
            for (t, leaf) in trees.iter().zip(&leaves) {
                let leaf = *leaf as usize;
                for (a, v) in out.iter_mut().zip(&t.values[leaf * c..leaf * c + c]) {
                    *a += v;
                }
            }
        }
    }

    /// Class probabilities of one row (sequential: meant for one flow at a time).
    pub fn predict_proba_row(&self, row: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.n_classes];
        self.predict_proba_row_into(row, &mut out)?;
        Ok(out)
    }

    /// Predicts the row-major `rows` (`n_features` values each) into `out` (`n_classes` each).
    fn predict_block(&self, rows: &[f64], out: &mut [f64]) {
        let plan = self.plan.get(&self.trees, self.n_features);
        self.predict_block_with(rows, out, plan, None);
    }

    /// [`predict_block`](Self::predict_block) through `plan`, or through the trees' own walk
    /// (`None`), with every tree walked the `forced` way, or the way chosen by timing (`None`).
    fn predict_block_with(
        &self,
        rows: &[f64],
        out: &mut [f64],
        plan: Option<&Plan>,
        forced: Option<Walk>,
    ) {
        let (c, nf) = (self.n_classes, self.n_features);
        let n = out.len() / c;
        let sorted = n >= SORT_MIN_ROWS && self.trees.len() > 1;
        out.iter_mut().for_each(|v| *v = 0.0);
        if let Some(plan) = plan {
            plan.predict_block(rows, out, sorted, forced);
        } else {
            let first_leaf = |row: &[f64]| self.trees[0].leaf_index(row);
            let sort_key: Option<SortKey<'_, f64>> = sorted.then_some(&first_leaf);
            walk_trees(
                rows,
                out,
                c,
                self.trees.len(),
                sort_key,
                forced,
                |t, walk, rows, out| add_tree_leaves(&self.trees[t], walk, rows, out, c, nf),
            );
        }
        let inv = 1.0 / self.trees.len() as f64;
        out.iter_mut().for_each(|v| *v *= inv);
    }

    /// Class probabilities, `rows × n_classes` (each row sums to 1). Parallel over blocks of rows for
    /// large inputs, sequential for small ones; identical numbers either way.
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.check_features(x.ncols())?;
        let c = self.n_classes;
        // Row-major input is read in place; any other layout is copied once.
        let x = x.as_standard_layout();
        let rows = x.as_slice().expect("standard layout is contiguous");
        let out = self.by_blocks(rows, x.nrows(), c, |r, o| self.predict_block(r, o));
        Ok(Array2::from_shape_vec((x.nrows(), c), out).expect("n * c values"))
    }

    /// Class probabilities and leaf indices (as [`predict_proba`](Self::predict_proba) and
    /// [`apply`](Self::apply) return them, to the bit) from one walk of the trees.
    pub fn predict_proba_with_leaves(
        &self,
        x: ArrayView2<'_, f64>,
    ) -> Result<(Array2<f64>, Array2<u32>)> {
        self.check_features(x.ncols())?;
        let (n, c, t) = (x.nrows(), self.n_classes, self.trees.len());
        let x = x.as_standard_layout();
        let rows = x.as_slice().expect("standard layout is contiguous");
        let mut proba = vec![0.0; n * c];
        let mut leaves = vec![0u32; n * t];
        let block = |((rows, leaves), proba): ((&[f64], &mut [u32]), &mut [f64])| {
            self.leaves_block(rows, leaves, Some(proba));
        };
        if n < PARALLEL_MIN_ROWS {
            block(((rows, &mut leaves), &mut proba));
        } else {
            let size = self.block_rows(n);
            rows.par_chunks(size * self.n_features)
                .zip(leaves.par_chunks_mut(size * t))
                .zip(proba.par_chunks_mut(size * c))
                .for_each(block);
        }
        Ok((
            Array2::from_shape_vec((n, c), proba).expect("n * c values"),
            Array2::from_shape_vec((n, t), leaves).expect("n * t values"),
        ))
    }

    /// Rows per parallel block for `n` rows.
    fn block_rows(&self, n: usize) -> usize {
        n.div_ceil(BLOCKS_PER_THREAD * rayon::current_num_threads())
            .clamp(PREDICT_BLOCK_MIN, PREDICT_BLOCK_MAX)
    }

    /// `block(rows, out)` over the row-major `rows` (`n` of them, `per_row` outputs each): in
    /// parallel blocks for large inputs, on the calling thread for small ones.
    fn by_blocks<O: Copy + Default + Send>(
        &self,
        rows: &[f64],
        n: usize,
        per_row: usize,
        block: impl Fn(&[f64], &mut [O]) + Sync,
    ) -> Vec<O> {
        let mut out = vec![O::default(); n * per_row];
        if n == 0 || per_row == 0 {
            return out;
        }
        if n < PARALLEL_MIN_ROWS {
            block(rows, &mut out);
        } else {
            let size = self.block_rows(n);
            out.par_chunks_mut(size * per_row)
                .zip(rows.par_chunks(size * self.n_features))
                .for_each(|(o, r)| block(r, o));
        }
        out
    }

    /// Most probable class per row (lowest class index on ties).
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<u32>> {
        let p = self.predict_proba(x)?;
        Ok(p.rows()
            .into_iter()
            .map(|r| argmax(r.as_slice().expect("standard layout")))
            .collect())
    }

    /// Impurity-based feature importances (mean decrease in impurity): per tree normalised to sum 1,
    /// averaged over trees, normalised again. All zeros if no tree has a split.
    pub fn feature_importances(&self) -> Vec<f64> {
        let mut imp = vec![0.0; self.n_features];
        for t in &self.trees {
            let mut ti = vec![0.0; self.n_features];
            for (n, gain) in t.nodes.iter().zip(&t.improvement) {
                if !n.is_leaf() {
                    ti[n.feature()] += gain;
                }
            }
            let s: f64 = ti.iter().sum();
            if s > 0.0 {
                imp.iter_mut().zip(&ti).for_each(|(a, b)| *a += b / s);
            }
        }
        let s: f64 = imp.iter().sum();
        if s > 0.0 {
            imp.iter_mut().for_each(|v| *v /= s);
        }
        imp
    }

    /// Depth, leaf and node counts of every tree.
    pub fn tree_stats(&self) -> Vec<TreeStats> {
        self.trees.iter().map(Tree::stats).collect()
    }

    /// The leaf index each row lands in, per tree: `rows × n_trees`.
    pub fn apply(&self, x: ArrayView2<'_, f64>) -> Result<Array2<u32>> {
        self.check_features(x.ncols())?;
        let t = self.trees.len();
        let x = x.as_standard_layout();
        let rows = x.as_slice().expect("standard layout is contiguous");
        let out = self.by_blocks(rows, x.nrows(), t, |r, o| self.leaves_block(r, o, None));
        Ok(Array2::from_shape_vec((x.nrows(), t), out).expect("n * t values"))
    }

    /// Writes the leaf index of each of the row-major `rows` in every tree into `out` (`n_trees`
    /// per row), and with `proba` (zeroed, `n_classes` per row) the class probabilities, through
    /// the prediction plan where the forest has one.
    fn leaves_block(&self, rows: &[f64], out: &mut [u32], mut proba: Option<&mut [f64]>) {
        let (t, c) = (self.trees.len(), self.n_classes);
        if let Some(plan) = self.plan.get(&self.trees, self.n_features) {
            let sorted = out.len() / t >= SORT_MIN_ROWS && t > 1;
            plan.leaves_block(rows, out, sorted, None);
            if let Some(proba) = proba.as_deref_mut() {
                plan.add_leaves(out, proba);
            }
            // The plan keeps the trees' node layout: a leaf's position is its node in the tree.
            for row in out.chunks_exact_mut(t) {
                for (slot, tree) in row.iter_mut().zip(&self.trees) {
                    *slot = tree.nodes[*slot as usize].child;
                }
            }
        } else {
            for (o, row) in out
                .chunks_exact_mut(t)
                .zip(rows.chunks_exact(self.n_features))
            {
                for (slot, tree) in o.iter_mut().zip(&self.trees) {
                    *slot = tree.leaf_index(row) as u32;
                }
            }
            if let Some(proba) = proba.as_deref_mut() {
                for (p, leaves) in proba.chunks_exact_mut(c).zip(out.chunks_exact(t)) {
                    for (tree, &leaf) in self.trees.iter().zip(leaves) {
                        let leaf = leaf as usize;
                        for (a, v) in p.iter_mut().zip(&tree.values[leaf * c..leaf * c + c]) {
                            *a += v;
                        }
                    }
                }
            }
        }
        // Scaled after the sum in tree order, as prediction does.
        if let Some(proba) = proba {
            let inv = 1.0 / t as f64;
            proba.iter_mut().for_each(|v| *v *= inv);
        }
    }

    /// How often each feature is tested on the decision paths that end in `leaves`, one leaf per
    /// tree as [`apply`](Self::apply) gives them (`n_features` counts; they sum to the number of
    /// steps of those paths, as [`decision_path`](Self::decision_path) lists them).
    pub fn leaf_path_feature_counts(&self, leaves: &[u32]) -> Result<Vec<u32>> {
        if leaves.len() != self.trees.len() {
            return Err(ForestError::LeafMismatch(format!(
                "{} leaves for a forest of {} trees",
                leaves.len(),
                self.trees.len()
            )));
        }
        let mut counts = vec![0; self.n_features];
        for (paths, &leaf) in self.paths.get(&self.trees).iter().zip(leaves) {
            let features = paths.features(leaf as usize).ok_or_else(|| {
                ForestError::LeafMismatch(format!("leaf {leaf} is not a leaf of its tree"))
            })?;
            for &f in features {
                counts[usize::from(f)] += 1;
            }
        }
        Ok(counts)
    }

    /// The decision path of one row through every tree.
    pub fn decision_path(&self, row: &[f64]) -> Result<Vec<TreePath>> {
        self.check_features(row.len())?;
        Ok(self.trees.iter().map(|t| t.decision_path(row)).collect())
    }

    /// Assembles a forest from trees (typically chosen from other forests). All trees must share the
    /// feature count and class count. The result has no bin edges until grown.
    pub fn from_trees(trees: Vec<Tree>) -> Result<Forest> {
        let first = trees.first().ok_or(ForestError::NoTrees)?;
        let (nf, nc) = (first.n_features, first.n_classes);
        for (i, t) in trees.iter().enumerate() {
            if t.n_features != nf {
                return Err(ForestError::FeatureMismatch {
                    expected: nf,
                    got: t.n_features,
                });
            }
            if t.n_classes != nc {
                return Err(ForestError::ClassMismatch {
                    expected: nc,
                    got: t.n_classes,
                });
            }
            t.validate()
                .map_err(|m| ForestError::Inconsistent(format!("tree {i}: {m}")))?;
        }
        let mut prior = vec![0.0; nc];
        for t in &trees {
            prior
                .iter_mut()
                .zip(&t.class_prior)
                .for_each(|(a, b)| *a += b);
        }
        let k = trees.len() as f64;
        prior.iter_mut().for_each(|v| *v /= k);
        Ok(Forest {
            trees,
            n_features: nf,
            n_classes: nc,
            edges: None,
            class_prior: prior,
            plan: PlanCell::default(),
            paths: PathsCell::default(),
        })
    }

    /// Recomputes every leaf's class distribution from new data `(x, y)`, smoothed toward the leaf's
    /// current distribution: `(counts + smoothing * old) / (n + smoothing)`, where `counts` are the new
    /// rows' classes landing in the leaf and `smoothing` is the prior strength in pseudo-rows. Leaves
    /// no new row reaches keep their distribution. The tree structure is unchanged.
    pub fn refit_leaves(
        &mut self,
        x: ArrayView2<'_, f64>,
        y: &[u32],
        smoothing: f64,
    ) -> Result<()> {
        self.check_features(x.ncols())?;
        if y.len() != x.nrows() {
            return Err(ForestError::LengthMismatch {
                what: "targets",
                expected: x.nrows(),
                got: y.len(),
            });
        }
        if !(smoothing.is_finite() && smoothing >= 0.0) {
            return Err(ForestError::InvalidParameter {
                param: "smoothing",
                message: format!("must be finite and >= 0, got {smoothing}"),
            });
        }
        if x.nrows() == 0 {
            return Err(ForestError::EmptyData(
                "refit needs at least one row".into(),
            ));
        }
        let c = self.n_classes;
        if let Some((row, cl)) = y.iter().enumerate().find(|(_, v)| **v as usize >= c) {
            return Err(ForestError::ClassOutOfRange {
                row,
                class: *cl as u64,
                n_classes: c,
            });
        }
        let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        self.trees.par_iter_mut().for_each(|t| {
            let mut counts = vec![0.0; t.values.len()];
            let mut n_in = vec![0.0; t.n_leaves()];
            for (row, yi) in rows.iter().zip(y) {
                let leaf = t.leaf_index(row);
                counts[leaf * c + *yi as usize] += 1.0;
                n_in[leaf] += 1.0;
            }
            for (leaf, n) in n_in.iter().enumerate() {
                if *n > 0.0 {
                    let denom = n + smoothing;
                    for k in 0..c {
                        let v = &mut t.values[leaf * c + k];
                        *v = (counts[leaf * c + k] + smoothing * *v) / denom;
                    }
                }
            }
        });
        let mut prior = vec![0.0; c];
        for yi in y {
            prior[*yi as usize] += 1.0;
        }
        let s = y.len() as f64;
        prior.iter_mut().for_each(|v| *v /= s);
        self.class_prior = prior;
        self.plan = PlanCell::default();
        self.paths = PathsCell::default();
        Ok(())
    }

    /// Warm start: fits `extra_trees` more trees on `(x, y)` with `params` and appends them. New tree
    /// `i` is seeded from `(params.seed, n_trees_before + i)`, so growing a forest fitted with the same
    /// seed on the same data gives the same trees as fitting the larger forest at once. The forest keeps
    /// its bin edges if it has them, else takes those learned on `x`.
    pub fn grow(
        &mut self,
        params: &ValidForestParams,
        x: ArrayView2<'_, f64>,
        y: &[u32],
        extra_trees: usize,
    ) -> Result<()> {
        self.check_features(x.ncols())?;
        let mut p = params.clone();
        p.n_classes = Some(self.n_classes);
        if let Some(nc) = params.n_classes {
            if nc != self.n_classes {
                return Err(ForestError::ClassMismatch {
                    expected: self.n_classes,
                    got: nc,
                });
            }
        }
        if extra_trees == 0 {
            return Ok(());
        }
        let first = self.trees.len();
        let (trees, edges, _prior, _) = fit_trees(&p, x, y, None, first, extra_trees)?;
        self.trees.extend(trees);
        if self.edges.is_none() {
            self.edges = Some(edges);
        }
        self.plan = PlanCell::default();
        self.paths = PathsCell::default();
        Ok(())
    }

    /// Checks internal consistency, so a forest read from untrusted bytes (alone or embedded in another
    /// model file) can be used without panicking or looping: tree structure, feature indices, class
    /// counts, leaf tables and bin edges. Returns what is wrong.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.trees.is_empty() {
            return Err("forest has no trees".into());
        }
        if self.n_features == 0 {
            return Err("forest has no features".into());
        }
        if !(2..=u16::MAX as usize).contains(&self.n_classes) {
            return Err(format!("forest has {} classes", self.n_classes));
        }
        if self.class_prior.len() != self.n_classes {
            return Err("class prior length differs from the class count".into());
        }
        if let Some(e) = &self.edges {
            if e.n_features() != self.n_features {
                return Err("bin edges cover a different feature count".into());
            }
            for f in 0..e.n_features() {
                let edges = e.edges(f);
                if edges.len() >= crate::params::MAX_BINS || edges.iter().any(|v| v.is_nan()) {
                    return Err(format!("bin edges of feature {f} are invalid"));
                }
            }
        }
        for (i, t) in self.trees.iter().enumerate() {
            if t.n_features != self.n_features || t.n_classes != self.n_classes {
                return Err(format!("tree {i} has a different feature or class count"));
            }
            t.validate().map_err(|m| format!("tree {i}: {m}"))?;
        }
        Ok(())
    }
}

/// Adds tree `t`'s leaf distribution for each of `rows` (`nf` values each) into `out` (`c` each).
fn add_tree_leaves(t: &Tree, walk: Walk, rows: &[f64], out: &mut [f64], c: usize, nf: usize) {
    let add = |acc: &mut [f64], leaf: usize| {
        for (a, v) in acc.iter_mut().zip(&t.values[leaf * c..leaf * c + c]) {
            *a += v;
        }
    };
    let mut done = 0;
    if walk == Walk::Lockstep {
        let mut leaves = [0usize; LOCKSTEP_ROWS];
        for (acc, group) in out
            .chunks_exact_mut(c * LOCKSTEP_ROWS)
            .zip(rows.chunks_exact(nf * LOCKSTEP_ROWS))
        {
            t.leaves_lockstep(group, nf, &mut leaves);
            for (a, leaf) in acc.chunks_exact_mut(c).zip(leaves) {
                add(a, leaf);
            }
        }
        done = out.len() / (c * LOCKSTEP_ROWS) * LOCKSTEP_ROWS;
    }
    for (acc, row) in out[done * c..]
        .chunks_exact_mut(c)
        .zip(rows[done * nf..].chunks_exact(nf))
    {
        add(acc, t.leaf_index(row));
    }
}

pub(crate) fn argmax(p: &[f64]) -> u32 {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::ParamGuard;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::ForestParams;

    #[test]
    fn a_forest_beyond_the_plans_limits_predicts_by_its_trees() {
        // 130 features: more than the plan's 7 feature bits name.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x = Array2::from_shape_fn((300, 130), |_| rng.gen::<f64>());
        let y: Vec<u32> = (0..300).map(|i| u32::from(x[[i, 129]] > 0.5)).collect();
        let forest = ForestParams::new()
            .n_trees(4)
            .seed(1)
            .check()
            .unwrap()
            .fit(x.view(), &y)
            .unwrap();
        assert!(forest.plan.get(&forest.trees, 130).is_none());
        assert_eq!(forest.prediction_plan_bytes(), None);
        let p = forest.predict_proba(x.view()).unwrap();
        let mut one = vec![0.0; 2];
        for (i, row) in x.rows().into_iter().enumerate() {
            forest
                .predict_proba_row_into(row.as_slice().unwrap(), &mut one)
                .unwrap();
            assert_eq!(one, p.row(i).to_vec());
        }
        let (p_walked, leaves) = forest.predict_proba_with_leaves(x.view()).unwrap();
        let row = x.row(3).to_vec();
        let mut by_paths = vec![0u32; 130];
        for path in forest.decision_path(&row).unwrap() {
            path.steps.iter().for_each(|s| by_paths[s.feature] += 1);
        }
        let row_leaves = leaves.row(3).to_vec();
        assert_eq!(
            forest.leaf_path_feature_counts(&row_leaves).unwrap(),
            by_paths
        );
        assert!(
            by_paths.iter().sum::<u32>() >= 4,
            "every tree splits at least once"
        );
        // Leaves that are not the forest's: an error, not a panic.
        assert!(forest.leaf_path_feature_counts(&row_leaves[..3]).is_err());
        assert!(forest.leaf_path_feature_counts(&[u32::MAX; 4]).is_err());
        assert_eq!(p_walked, p);
        assert_eq!(leaves, forest.apply(x.view()).unwrap());
        assert_eq!(
            leaves[[7, 2]] as usize,
            forest.trees[2].leaf_index(x.row(7).as_slice().unwrap())
        );
        assert!(accuracy_of(&forest.predict(x.view()).unwrap(), &y) > 0.95);
    }

    #[test]
    fn refit_and_grow_rebuild_the_plan() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((400, 4), |_| rng.gen::<f64>());
        let y: Vec<u32> = (0..400).map(|i| u32::from(x[[i, 0]] > 0.5)).collect();
        let params = ForestParams::new().n_trees(5).seed(4).check().unwrap();
        let mut forest = params.fit(x.view(), &y).unwrap();
        let rows = x.as_slice().unwrap();
        // What the trees themselves say, against what `predict_proba` (through the plan) says.
        let agree = |f: &Forest| {
            let mut by_trees = vec![0.0; 400 * 2];
            f.predict_block_with(rows, &mut by_trees, None, Some(Walk::Branchy));
            by_trees
                == f.predict_proba(x.view())
                    .unwrap()
                    .into_raw_vec_and_offset()
                    .0
        };
        assert!(agree(&forest));
        let flipped: Vec<u32> = y.iter().map(|v| 1 - v).collect();
        forest.refit_leaves(x.view(), &flipped, 1.0).unwrap();
        assert!(agree(&forest), "after refit");
        forest.grow(&params, x.view(), &y, 3).unwrap();
        assert_eq!(forest.n_trees(), 8);
        assert!(agree(&forest), "after grow");
    }

    #[test]
    fn rows_wider_than_64_features_take_the_same_turns() {
        // 70 features: the plan pads rank rows to 128 instead of 64.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x = Array2::from_shape_fn((1500, 70), |(i, j)| {
            if (i + j) % 17 == 0 {
                f64::NAN
            } else {
                rng.gen::<f64>()
            }
        });
        let y: Vec<u32> = (0..1500)
            .map(|i| u32::from(x[[i, 69]] + x[[i, 3]] > 1.0))
            .collect();
        let forest = ForestParams::new()
            .n_trees(6)
            .seed(3)
            .check()
            .unwrap()
            .fit(x.view(), &y)
            .unwrap();
        assert!(forest.prediction_plan_bytes().is_some());
        let mut by_trees = vec![0.0; 1500 * 2];
        forest.predict_block_with(
            x.as_slice().unwrap(),
            &mut by_trees,
            None,
            Some(Walk::Branchy),
        );
        let plan = forest.predict_proba(x.view()).unwrap();
        assert!(by_trees == plan.as_slice().unwrap());
        let mut one = vec![0.0; 2];
        for (i, row) in x.rows().into_iter().enumerate().step_by(7) {
            forest
                .predict_proba_row_into(row.as_slice().unwrap(), &mut one)
                .unwrap();
            assert_eq!(one, by_trees[i * 2..i * 2 + 2], "row {i}");
        }
    }

    fn accuracy_of(pred: &[u32], y: &[u32]) -> f64 {
        pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
    }

    #[test]
    fn both_walks_find_the_same_leaves() {
        // Noisy labels grow deep, uneven trees; NaNs take the missing-value routes; 2003 rows
        // take the sorted walk and leave a remainder after the groups of four, 203 the unsorted one.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((2003, 6), |(i, j)| {
            if (i + j) % 13 == 0 {
                f64::NAN
            } else {
                rng.gen::<f64>()
            }
        });
        let y: Vec<u32> = (0..2003)
            .map(|i| u32::from(x[[i, 0]] + rng.gen::<f64>() * 0.5 > 0.7))
            .collect();
        let forest = ForestParams::new()
            .n_trees(9)
            .seed(2)
            .check()
            .unwrap()
            .fit(x.view(), &y)
            .unwrap();
        let nan_left = forest.trees.iter().flat_map(|t| &t.nodes);
        assert!(
            nan_left.filter(|n| !n.is_leaf() && n.nan_left()).count() > 0,
            "some split sends missing values left"
        );
        // The same rows without missing values, as most blocks are: the plan then drops the
        // missing-value test.
        let filled = x.mapv(|v| if v.is_nan() { 0.5 } else { v });
        let plan = forest
            .plan
            .get(&forest.trees, 6)
            .expect("within the plan's limits");
        for (x, label) in [(&x, "with NaN"), (&filled, "without NaN")] {
            let rows = x.as_slice().unwrap();
            let mut by_trees = vec![0.0; 2003 * 2];
            forest.predict_block_with(rows, &mut by_trees, None, Some(Walk::Branchy));
            for walk in [Walk::Branchy, Walk::Lockstep] {
                let mut out = vec![0.0; 2003 * 2];
                forest.predict_block_with(rows, &mut out, Some(plan), Some(walk));
                assert!(out == by_trees, "{label}, {walk:?}");
            }
        }
        let rows = x.as_slice().unwrap();
        for n in [2003, 203, 3] {
            let rows = &rows[..n * 6];
            let predict = |plan, walk| {
                let mut out = vec![0.0; n * 2];
                forest.predict_block_with(rows, &mut out, plan, walk);
                out
            };
            let branchy = predict(None, Some(Walk::Branchy));
            assert_eq!(branchy, predict(None, Some(Walk::Lockstep)), "{n} rows");
            assert_eq!(branchy, predict(None, None), "{n} rows");
            // The prediction plan, with each walk and with the timed choice (2003 rows take the
            // sorted walk, 203 and 3 the unsorted one), and through `predict_proba`.
            for walk in [Some(Walk::Branchy), Some(Walk::Lockstep), None] {
                let out = predict(Some(plan), walk);
                let differ = branchy.iter().zip(&out).position(|(a, b)| a != b);
                assert_eq!(differ, None, "{n} rows, plan, {walk:?}");
            }
            let x_n = ArrayView2::from_shape((n, 6), rows).unwrap();
            let proba = forest.predict_proba(x_n).unwrap();
            assert_eq!(
                branchy,
                proba.as_slice().unwrap(),
                "{n} rows, predict_proba"
            );
            // Leaves through the plan (each walk, sorted or not) are the trees' own, and
            // probabilities summed from them are `predict_proba`'s bits.
            let own: Vec<u32> = rows
                .chunks_exact(6)
                .flat_map(|row| forest.trees.iter().map(|t| t.leaf_index(row) as u32))
                .collect();
            for walk in [Some(Walk::Branchy), Some(Walk::Lockstep), None] {
                for sorted in [false, true] {
                    let mut leaves = vec![0u32; n * 9];
                    plan.leaves_block(rows, &mut leaves, sorted, walk);
                    for (row, positions) in leaves.chunks_exact(9).zip(own.chunks_exact(9)) {
                        for ((pos, tree), leaf) in row.iter().zip(&forest.trees).zip(positions) {
                            assert_eq!(
                                tree.nodes[*pos as usize].child, *leaf,
                                "{n} rows, {walk:?}"
                            );
                        }
                    }
                }
            }
            for (r, row) in rows.chunks_exact(6).enumerate().take(50) {
                let mut by_paths = vec![0u32; 6];
                for path in forest.decision_path(row).unwrap() {
                    path.steps.iter().for_each(|s| by_paths[s.feature] += 1);
                }
                let leaves = &own[r * 9..(r + 1) * 9];
                assert_eq!(forest.leaf_path_feature_counts(leaves).unwrap(), by_paths);
            }
            let (p, leaves) = forest.predict_proba_with_leaves(x_n).unwrap();
            assert_eq!(leaves.as_slice().unwrap(), own, "{n} rows, apply");
            assert_eq!(p, proba, "{n} rows, predict_proba_with_leaves");
            // One row at a time goes through the plan too.
            let mut one = vec![0.0; 2];
            for (i, row) in rows.chunks_exact(6).enumerate() {
                forest.predict_proba_row_into(row, &mut one).unwrap();
                assert_eq!(one, branchy[i * 2..i * 2 + 2], "row {i} of {n}");
            }
        }
    }
}
