//! One tree: flat node arrays for prediction, and the histogram builder that grows it.

use metaforest_flows::rng::rng_for;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::binning::{BinEdges, BinnedMatrix};
use crate::params::{SplitCriterion, ValidForestParams};

const LEAF: u32 = 1 << 31;
const NAN_LEFT: u32 = 1 << 30;
const FEATURE_MASK: u32 = NAN_LEFT - 1;

/// Nodes with fewer rows than this find splits by sorting their rows by bin instead of filling a
/// 256-bin histogram: below it, zeroing and scanning the histogram costs more than the rows do.
const SORT_PATH_ROWS: usize = 96;

/// One node, 16 bytes. Children of a split node sit next to each other (`child`, `child + 1`), so a
/// step down the tree touches one cache line; a leaf's `child` is its leaf index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Node {
    pub(crate) threshold: f64,
    pub(crate) flags: u32,
    pub(crate) child: u32,
}

impl Node {
    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        self.flags & LEAF != 0
    }
    #[inline]
    pub(crate) fn feature(&self) -> usize {
        (self.flags & FEATURE_MASK) as usize
    }
    #[inline]
    pub(crate) fn nan_left(&self) -> bool {
        self.flags & NAN_LEFT != 0
    }
    /// Whether value `v` goes to the left child.
    #[inline]
    pub(crate) fn goes_left(&self, v: f64) -> bool {
        if v <= self.threshold {
            true
        } else if v.is_nan() {
            self.nan_left()
        } else {
            false
        }
    }
}

/// A fitted decision tree. Thresholds are raw feature values (a row goes left when `x <= threshold`,
/// NaN follows the per-node missing-value direction), so prediction needs no binning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    /// Leaf class distributions, `n_leaves × n_classes`, each row summing to 1.
    pub(crate) values: Vec<f64>,
    /// Weighted impurity decrease of each split node (0 for leaves).
    pub(crate) improvement: Vec<f64>,
    /// Distinct training rows that reached each node.
    pub(crate) node_samples: Vec<u32>,
    pub(crate) n_features: usize,
    pub(crate) n_classes: usize,
    pub(crate) depth: usize,
    /// Class distribution of the rows this tree was trained on (sample weights, no class weights).
    pub(crate) class_prior: Vec<f64>,
}

/// One step of a decision path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathStep {
    /// Feature tested.
    pub feature: usize,
    /// Threshold: left when `x <= threshold`.
    pub threshold: f64,
    /// The row's value for the feature.
    pub value: f64,
    /// Whether the row went left.
    pub went_left: bool,
}

/// The route of one row through one tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreePath {
    /// Splits taken from the root down.
    pub steps: Vec<PathStep>,
    /// Leaf index reached.
    pub leaf: usize,
    /// The leaf's class distribution.
    pub distribution: Vec<f64>,
}

/// Shape statistics of one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeStats {
    /// Longest root-to-leaf path (a lone leaf has depth 0).
    pub depth: usize,
    /// Number of leaves.
    pub n_leaves: usize,
    /// Number of nodes (splits + leaves).
    pub n_nodes: usize,
}

impl Tree {
    /// Number of features the tree expects.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of classes in its leaf distributions.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.values.len() / self.n_classes.max(1)
    }
    /// Depth, leaf and node counts.
    pub fn stats(&self) -> TreeStats {
        TreeStats {
            depth: self.depth,
            n_leaves: self.n_leaves(),
            n_nodes: self.nodes.len(),
        }
    }
    /// Class distribution of leaf `leaf`.
    pub fn leaf_distribution(&self, leaf: usize) -> &[f64] {
        &self.values[leaf * self.n_classes..(leaf + 1) * self.n_classes]
    }
    /// Class distribution of the rows the tree was trained on.
    pub fn class_prior(&self) -> &[f64] {
        &self.class_prior
    }
    /// Distinct training rows that reached each leaf, by leaf index.
    pub fn leaf_samples(&self) -> Vec<u32> {
        let mut out = vec![0; self.n_leaves()];
        for (n, s) in self.nodes.iter().zip(&self.node_samples) {
            if n.is_leaf() {
                out[n.child as usize] = *s;
            }
        }
        out
    }

    /// The leaf index `row` lands in. `row` must have `n_features` values.
    #[inline]
    pub fn leaf_index(&self, row: &[f64]) -> usize {
        self.descend(0, row)
    }

    /// The leaf reached from node `start`. A plain loop on purpose: the CPU predicts the branch
    /// direction and starts the next node's load before the comparison is known, which measured
    /// faster than branch-free steps (those make every step wait for the previous load).
    #[inline]
    fn descend(&self, start: usize, row: &[f64]) -> usize {
        let nodes = &self.nodes[..];
        let mut i = start;
        loop {
            let n = nodes[i];
            if n.is_leaf() {
                return n.child as usize;
            }
            let left = n.goes_left(row[n.feature()]);
            i = n.child as usize + usize::from(!left);
        }
    }

    /// Leaf index of each of `G` rows (back to back in `rows`, `nf` values each), the rows stepped
    /// side by side with branch-free turns; a row at its leaf stays there until all are done.
    pub(crate) fn leaves_lockstep<const G: usize>(
        &self,
        rows: &[f64],
        nf: usize,
        out: &mut [usize; G],
    ) {
        let nodes = &self.nodes[..];
        let mut at = [0usize; G];
        loop {
            let mut live = false;
            for j in 0..G {
                let n = nodes[at[j]];
                let leaf = n.is_leaf();
                // A leaf's feature bits are 0, so this read stays in bounds.
                let v = rows[j * nf + n.feature()];
                let left = (v <= n.threshold) | (v.is_nan() & n.nan_left());
                let next = n.child as usize + usize::from(!left);
                at[j] = if leaf { at[j] } else { next };
                live |= !leaf;
            }
            if !live {
                break;
            }
        }
        for j in 0..G {
            out[j] = nodes[at[j]].child as usize;
        }
    }

    /// The decision path of `row`.
    pub fn decision_path(&self, row: &[f64]) -> TreePath {
        let mut steps = Vec::new();
        let mut i = 0usize;
        loop {
            let n = self.nodes[i];
            if n.is_leaf() {
                let leaf = n.child as usize;
                return TreePath {
                    steps,
                    leaf,
                    distribution: self.leaf_distribution(leaf).to_vec(),
                };
            }
            let value = row[n.feature()];
            let went_left = n.goes_left(value);
            steps.push(PathStep {
                feature: n.feature(),
                threshold: n.threshold,
                value,
                went_left,
            });
            i = n.child as usize + usize::from(!went_left);
        }
    }

    /// Renumbers nodes in preorder where, at every split, the child that saw more training rows has
    /// its own children laid out right after its pair. Rows mostly follow the busier child, so the
    /// likely path down a tree reads neighbouring cache lines instead of jumping around memory.
    pub(crate) fn layout_hot_path_first(&mut self) {
        let n = self.nodes.len();
        if n <= 1 {
            return;
        }
        let mut new_of = vec![0u32; n];
        let mut order: Vec<usize> = Vec::with_capacity(n); // old index at each new position
        order.push(0);
        // Stack of old split-node indices whose children pair still has to be placed.
        let mut stack = vec![0usize];
        while let Some(old) = stack.pop() {
            let node = self.nodes[old];
            if node.is_leaf() {
                continue;
            }
            let (l, r) = (node.child as usize, node.child as usize + 1);
            let pos = order.len();
            new_of[l] = pos as u32;
            new_of[r] = pos as u32 + 1;
            order.push(l);
            order.push(r);
            // Pop order: the hot child's pair is placed next, the cold child's after its subtree.
            let (hot, cold) = if self.node_samples[r] > self.node_samples[l] {
                (r, l)
            } else {
                (l, r)
            };
            stack.push(cold);
            stack.push(hot);
        }
        let nodes: Vec<Node> = order
            .iter()
            .map(|&old| {
                let mut nd = self.nodes[old];
                if !nd.is_leaf() {
                    nd.child = new_of[nd.child as usize];
                }
                nd
            })
            .collect();
        self.improvement = order.iter().map(|&o| self.improvement[o]).collect();
        self.node_samples = order.iter().map(|&o| self.node_samples[o]).collect();
        self.nodes = nodes;
    }

    /// Checks internal consistency so that prediction can never index out of bounds (used on load and
    /// on transplant of deserialised trees).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let c = self.n_classes;
        if c < 2 {
            return Err(format!("tree has {c} classes"));
        }
        if self.nodes.is_empty() {
            return Err("tree has no nodes".into());
        }
        if self.values.len() / c * c != self.values.len() {
            return Err("leaf values are not a multiple of the class count".into());
        }
        if self.improvement.len() != self.nodes.len() || self.node_samples.len() != self.nodes.len()
        {
            return Err("node statistics do not match the node count".into());
        }
        if self.class_prior.len() != c {
            return Err("class prior length differs from the class count".into());
        }
        let n_leaves = self.values.len() / c;
        let mut seen_leaves = 0usize;
        for (i, n) in self.nodes.iter().enumerate() {
            if n.is_leaf() {
                // Only the leaf bit: the lockstep walk reads a leaf's feature bits as a feature.
                if n.flags != LEAF {
                    return Err(format!("leaf node {i} has split flags {:#x}", n.flags));
                }
                if n.child as usize >= n_leaves {
                    return Err(format!("node {i} points to leaf {} of {n_leaves}", n.child));
                }
                seen_leaves += 1;
            } else {
                // Children must come after their parent: that rules out cycles, so traversal ends.
                let ch = n.child as usize;
                if ch <= i || ch + 1 >= self.nodes.len() {
                    return Err(format!("node {i} has invalid children {ch}, {}", ch + 1));
                }
                if n.feature() >= self.n_features {
                    return Err(format!(
                        "node {i} splits on feature {} of {}",
                        n.feature(),
                        self.n_features
                    ));
                }
                if n.threshold.is_nan() {
                    return Err(format!("node {i} has a NaN threshold"));
                }
            }
        }
        if seen_leaves != n_leaves {
            return Err(format!(
                "{seen_leaves} leaf nodes but {n_leaves} leaf distributions"
            ));
        }
        if self.values.iter().any(|v| !v.is_finite()) {
            return Err("non-finite leaf value".into());
        }
        Ok(())
    }
}

/// Trees one row walks down side by side (see [`leaves_of_row`]).
const GROUP: usize = 4;

/// Leaf index of `row` in each of `trees`, written to `leaves[k]` for tree `k`. `GROUP` trees step
/// in lockstep until one reaches a leaf, then each finishes alone: a lone walk is a chain of
/// dependent loads, so for a forest bigger than the cache four chains in flight hide memory latency
/// (measured against one tree at a time and against eight lanes refilled as they finish, which
/// cost more in bookkeeping than they saved).
pub(crate) fn leaves_of_row(trees: &[Tree], row: &[f64], leaves: &mut [u32]) {
    let mut groups = trees.chunks_exact(GROUP);
    let mut out = leaves.chunks_exact_mut(GROUP);
    for (g, o) in (&mut groups).zip(&mut out) {
        let mut at = [0usize; GROUP];
        'lockstep: loop {
            let nodes: [Node; GROUP] = std::array::from_fn(|j| g[j].nodes[at[j]]);
            if nodes.iter().any(Node::is_leaf) {
                break 'lockstep;
            }
            for (a, n) in at.iter_mut().zip(&nodes) {
                *a = n.child as usize + usize::from(!n.goes_left(row[n.feature()]));
            }
        }
        for ((t, a), l) in g.iter().zip(at).zip(o.iter_mut()) {
            *l = t.descend(a, row) as u32;
        }
    }
    for (t, l) in groups.remainder().iter().zip(out.into_remainder()) {
        *l = t.leaf_index(row) as u32;
    }
}

/// Everything a tree build reads; shared by all trees of a fit.
pub(crate) struct TrainData<'a> {
    pub(crate) binned: &'a BinnedMatrix,
    pub(crate) edges: &'a BinEdges,
    pub(crate) y: &'a [u16],
    /// Sample weight × class weight per row.
    pub(crate) base_w: &'a [f64],
    /// Sample weight per row (for the class prior).
    pub(crate) sample_w: &'a [f64],
    pub(crate) n_classes: usize,
    /// Features that may be drawn (prior weight > 0), and their prior weights.
    pub(crate) pool: &'a [u16],
    pub(crate) pool_weights: Option<&'a [f64]>,
    pub(crate) mtry: usize,
}

/// A histogram over the bins of one feature: `(n_value_bins + 1) × (n_classes + 1)` (class weights,
/// then the row count), the last bin being the missing-value bin.
struct Hist {
    feature: u16,
    data: Vec<f64>,
}

/// Histograms filled per pass over a node's rows (see `Builder::build_hists`).
const HIST_GROUP: usize = 8;

/// A node's rows, as histogram building reads them.
struct Rows<'a> {
    idx: &'a [u32],
    y: &'a [u16],
    w: &'a [f64],
    stride: usize,
    c: usize,
}

impl Rows<'_> {
    /// Adds the rows to the `G` histograms of `hists`: each row's class weight to its bin's class
    /// cell, and 1 to its bin's row count.
    #[inline(always)]
    fn fill<const G: usize>(&self, hists: &mut [Hist], binned: &BinnedMatrix) {
        let cols: [&[u8]; G] = std::array::from_fn(|g| binned.column(hists[g].feature as usize));
        let mut it = hists.iter_mut();
        let data: [&mut [f64]; G] =
            std::array::from_fn(|_| it.next().expect("G histograms").data.as_mut_slice());
        let (s, c) = (self.stride, self.c);
        for ((&r, &yi), &wi) in self.idx.iter().zip(self.y).zip(self.w) {
            for g in 0..G {
                let base = cols[g][r as usize] as usize * s;
                data[g][base + yi as usize] += wi;
                data[g][base + c] += 1.0;
            }
        }
    }
}

/// Best split found so far at a node.
#[derive(Clone)]
struct Best {
    score: f64,
    feature: usize,
    /// Rows with bin <= `bin` go left (before the NaN rule); `bin == n_value_bins - 1` means all values.
    bin: usize,
    threshold: f64,
    nan_left: bool,
    /// Left child's class weights then count.
    left: Vec<f64>,
}

struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    totals: Vec<f64>,
    pool: Vec<u16>,
    pool_w: Vec<f64>,
    drawn: usize,
    /// Histograms obtained by subtraction (parent − smaller sibling), ready for use.
    ready: Vec<Hist>,
    /// For the smaller child: the parent's histograms, to hand its larger sibling subtracted ones.
    parent_hists: Vec<Hist>,
}

struct Builder<'a, 'd> {
    d: &'a TrainData<'d>,
    p: &'a ValidForestParams,
    rng: ChaCha8Rng,
    stride: usize,
    // Per-row arrays of the in-bag rows, permuted together as nodes are partitioned.
    idx: Vec<u32>,
    w: Vec<f64>,
    y: Vec<u16>,
    scratch_idx: Vec<u32>,
    scratch_w: Vec<f64>,
    scratch_y: Vec<u16>,
    sort_buf: Vec<u64>,
    free_hists: Vec<Vec<f64>>,
    cur_left: Vec<f64>,
    scratch_l: Vec<f64>,
    scratch_m: Vec<f64>,
    tree: Tree,
}

pub(crate) fn build_tree(d: &TrainData<'_>, p: &ValidForestParams, tree_index: u64) -> Tree {
    let mut rng = rng_for(p.seed, tree_index);
    let n = d.binned.n_rows;
    let c = d.n_classes;
    // In-bag rows and their multiplicities.
    let draws = ((p.sample_fraction * n as f64).round() as usize).max(1);
    let mut counts: Vec<u32> = vec![0; n];
    if p.bootstrap {
        for _ in 0..draws {
            counts[rng.gen_range(0..n)] += 1;
        }
    } else if draws >= n {
        counts.iter_mut().for_each(|c| *c = 1);
    } else {
        for i in rand::seq::index::sample(&mut rng, n, draws).iter() {
            counts[i] = 1;
        }
    }
    let mut idx = Vec::with_capacity(draws.min(n));
    let mut w = Vec::with_capacity(draws.min(n));
    let mut y = Vec::with_capacity(draws.min(n));
    let mut prior = vec![0.0; c];
    for (r, &k) in counts.iter().enumerate() {
        if k > 0 && d.base_w[r] > 0.0 {
            idx.push(r as u32);
            w.push(k as f64 * d.base_w[r]);
            y.push(d.y[r]);
            prior[d.y[r] as usize] += k as f64 * d.sample_w[r];
        }
    }
    normalise(&mut prior);
    let m = idx.len();
    let mut b = Builder {
        d,
        p,
        rng,
        stride: c + 1,
        scratch_idx: vec![0; m],
        scratch_w: vec![0.0; m],
        scratch_y: vec![0; m],
        idx,
        w,
        y,
        sort_buf: Vec::new(),
        free_hists: Vec::new(),
        cur_left: vec![0.0; c + 1],
        scratch_l: vec![0.0; c + 1],
        scratch_m: vec![0.0; c + 1],
        tree: Tree {
            nodes: Vec::new(),
            values: Vec::new(),
            improvement: Vec::new(),
            node_samples: Vec::new(),
            n_features: d.binned.n_value_bins.len(),
            n_classes: c,
            depth: 0,
            class_prior: prior,
        },
    };
    b.grow();
    b.tree.layout_hot_path_first();
    b.tree
}

fn normalise(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    } else {
        let u = 1.0 / v.len() as f64;
        v.iter_mut().for_each(|x| *x = u);
    }
}

impl Builder<'_, '_> {
    fn grow(&mut self) {
        let c = self.d.n_classes;
        let mut totals = vec![0.0; c + 1];
        for (wi, yi) in self.w.iter().zip(&self.y) {
            totals[*yi as usize] += wi;
        }
        totals[c] = self.idx.len() as f64;
        self.push_node();
        let pool = self.d.pool.to_vec();
        let pool_w = self.d.pool_weights.map(|w| w.to_vec()).unwrap_or_default();
        let mut root = Pending {
            node: 0,
            start: 0,
            end: self.idx.len(),
            depth: 0,
            totals,
            pool,
            pool_w,
            drawn: 0,
            ready: Vec::new(),
            parent_hists: Vec::new(),
        };
        self.predraw(&mut root);
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            self.process(p, &mut stack);
        }
    }

    fn push_node(&mut self) -> usize {
        self.tree.nodes.push(Node {
            threshold: 0.0,
            flags: LEAF,
            child: 0,
        });
        self.tree.improvement.push(0.0);
        self.tree.node_samples.push(0);
        self.tree.nodes.len() - 1
    }

    /// Draws the next candidate feature of a node into position `p.drawn` of its pool (without
    /// replacement, proportional to the prior weights if there are any).
    fn draw_next(&mut self, p: &mut Pending) -> bool {
        let k = p.drawn;
        if k >= p.pool.len() {
            return false;
        }
        let j = if p.pool_w.is_empty() {
            self.rng.gen_range(k..p.pool.len())
        } else {
            let total: f64 = p.pool_w[k..].iter().sum();
            let mut u = self.rng.gen::<f64>() * total;
            let mut j = p.pool.len() - 1;
            for (off, wt) in p.pool_w[k..].iter().enumerate() {
                if u < *wt {
                    j = k + off;
                    break;
                }
                u -= wt;
            }
            j
        };
        p.pool.swap(k, j);
        if !p.pool_w.is_empty() {
            p.pool_w.swap(k, j);
        }
        p.drawn += 1;
        true
    }

    /// Draws a node's first `mtry` candidates up front, so its smaller sibling knows which histograms
    /// to hand over by subtraction.
    fn predraw(&mut self, p: &mut Pending) {
        while p.drawn < self.d.mtry && self.draw_next(p) {}
    }

    fn alloc_hist(&mut self, feature: usize) -> Hist {
        let len = (self.d.binned.n_value_bins[feature] + 1) * self.stride;
        let mut data = self.free_hists.pop().unwrap_or_default();
        data.clear();
        data.resize(len, 0.0);
        Hist {
            feature: feature as u16,
            data,
        }
    }

    fn free(&mut self, h: Hist) {
        self.free_hists.push(h.data);
    }

    fn build_hist(&mut self, feature: usize, start: usize, end: usize) -> Hist {
        let mut hists = self.build_hists(&[feature as u16], start, end);
        hists.pop().expect("one histogram")
    }

    /// Histograms of `features` over rows `start..end`, filled [`HIST_GROUP`] features per pass over
    /// the rows: a node's row indices, targets and weights are read once per group instead of once
    /// per feature, and the group's updates are independent of each other. Each histogram still
    /// adds its rows in row order, so the sums are the same as one feature at a time.
    fn build_hists(&mut self, features: &[u16], start: usize, end: usize) -> Vec<Hist> {
        let mut hists: Vec<Hist> = features
            .iter()
            .map(|&f| self.alloc_hist(f as usize))
            .collect();
        let rows = Rows {
            idx: &self.idx[start..end],
            y: &self.y[start..end],
            w: &self.w[start..end],
            stride: self.stride,
            c: self.d.n_classes,
        };
        let binned = self.d.binned;
        for group in hists.chunks_mut(HIST_GROUP) {
            match group.len() {
                8 => rows.fill::<8>(group, binned),
                7 => rows.fill::<7>(group, binned),
                6 => rows.fill::<6>(group, binned),
                5 => rows.fill::<5>(group, binned),
                4 => rows.fill::<4>(group, binned),
                3 => rows.fill::<3>(group, binned),
                2 => rows.fill::<2>(group, binned),
                _ => rows.fill::<1>(group, binned),
            }
        }
        hists
    }

    fn leaf_value(&mut self, node: usize, totals: &[f64]) {
        let c = self.d.n_classes;
        let leaf = self.tree.values.len() / c;
        let start = self.tree.values.len();
        self.tree
            .values
            .extend(totals[..c].iter().map(|v| v.max(0.0)));
        normalise(&mut self.tree.values[start..]);
        self.tree.nodes[node] = Node {
            threshold: 0.0,
            flags: LEAF,
            child: leaf as u32,
        };
    }

    fn process(&mut self, mut p: Pending, stack: &mut Vec<Pending>) {
        let c = self.d.n_classes;
        let n = p.end - p.start;
        self.tree.node_samples[p.node] = n as u32;
        self.tree.depth = self.tree.depth.max(p.depth);

        // Histogram subtraction can leave rounding dust (~1e-16) in a class that is absent: ignore it.
        let w_node: f64 = p.totals[..c].iter().sum();
        let n_pos_classes = p.totals[..c]
            .iter()
            .filter(|v| **v > 1e-12 * w_node)
            .count();
        let min_leaf = self.p.min_samples_leaf;
        let is_leaf = n < self.p.min_samples_split
            || n < 2 * min_leaf
            || n_pos_classes <= 1
            || self.p.max_depth.is_some_and(|d| p.depth >= d)
            || p.pool.is_empty();
        let use_hist = n >= SORT_PATH_ROWS;

        // Hand the larger sibling (now on top of the stack) the histograms it can get by subtraction:
        // building ours costs our (smaller) row count, building its own would cost its larger one.
        // Those and our own first candidates that no parent handed over are built in one go.
        let wanted: Vec<u16> = match stack.last() {
            Some(sib) if !p.parent_hists.is_empty() => sib.pool[..sib.drawn]
                .iter()
                .copied()
                .filter(|f| p.parent_hists.iter().any(|h| h.feature == *f))
                .collect(),
            _ => Vec::new(),
        };
        let mut to_build = wanted.clone();
        if use_hist && !is_leaf {
            to_build.extend(
                p.pool[..p.drawn]
                    .iter()
                    .copied()
                    .filter(|f| !wanted.contains(f) && !p.ready.iter().any(|h| h.feature == *f)),
            );
        }
        let mut mine = self.build_hists(&to_build, p.start, p.end);
        if let Some(sib) = stack.last_mut() {
            for (f, h) in wanted.iter().zip(&mine) {
                let parent = p
                    .parent_hists
                    .iter()
                    .find(|h| h.feature == *f)
                    .expect("filtered above");
                let mut sub = self.alloc_hist(*f as usize);
                for ((o, a), b) in sub.data.iter_mut().zip(&parent.data).zip(&h.data) {
                    *o = a - b;
                }
                sib.ready.push(sub);
            }
        }
        for h in std::mem::take(&mut p.parent_hists) {
            self.free(h);
        }

        if is_leaf {
            self.leaf_value(p.node, &p.totals);
            self.recycle(mine, p.ready);
            return;
        }

        let mut best: Option<Best> = None;
        let mut best_score = f64::NEG_INFINITY;
        let mut evaluated = 0usize;
        let mut constant: Vec<u16> = Vec::new();
        let mut k = 0usize;
        while evaluated < self.d.mtry {
            if k >= p.drawn && !self.draw_next(&mut p) {
                break;
            }
            let f = p.pool[k] as usize;
            k += 1;
            let nonconstant = if use_hist {
                let h = if let Some(pos) = p.ready.iter().position(|h| h.feature as usize == f) {
                    p.ready.swap_remove(pos)
                } else if let Some(pos) = mine.iter().position(|h| h.feature as usize == f) {
                    mine.swap_remove(pos)
                } else {
                    self.build_hist(f, p.start, p.end)
                };
                let nc = self.scan_dense(f, &h.data, &p.totals, &mut best, &mut best_score);
                mine.push(h);
                nc
            } else {
                self.scan_sorted(f, p.start, p.end, &p.totals, &mut best, &mut best_score)
            };
            if nonconstant {
                evaluated += 1;
            } else {
                constant.push(f as u16);
            }
        }

        let Some(best) = best else {
            self.leaf_value(p.node, &p.totals);
            self.recycle(mine, p.ready);
            return;
        };

        // Split: partition rows stably (keeps row order ascending, which keeps column reads local).
        let col = self.d.binned.column(best.feature);
        let missing_bin = self.d.binned.n_value_bins[best.feature];
        let (mut nl, mut nr) = (p.start, 0usize);
        for i in p.start..p.end {
            let bin = col[self.idx[i] as usize] as usize;
            let left = if bin == missing_bin {
                best.nan_left
            } else {
                bin <= best.bin
            };
            if left {
                self.idx[nl] = self.idx[i];
                self.w[nl] = self.w[i];
                self.y[nl] = self.y[i];
                nl += 1;
            } else {
                self.scratch_idx[nr] = self.idx[i];
                self.scratch_w[nr] = self.w[i];
                self.scratch_y[nr] = self.y[i];
                nr += 1;
            }
        }
        self.idx[nl..p.end].copy_from_slice(&self.scratch_idx[..nr]);
        self.w[nl..p.end].copy_from_slice(&self.scratch_w[..nr]);
        self.y[nl..p.end].copy_from_slice(&self.scratch_y[..nr]);
        let mid = nl;

        let left_tot = best.left.clone();
        let right_tot: Vec<f64> = p.totals.iter().zip(&left_tot).map(|(t, l)| t - l).collect();
        let parent_imp = self.weighted_impurity(&p.totals);
        let improvement =
            parent_imp - self.weighted_impurity(&left_tot) - self.weighted_impurity(&right_tot);

        let left_node = self.push_node();
        let right_node = self.push_node();
        self.tree.nodes[p.node] = Node {
            threshold: best.threshold,
            flags: best.feature as u32 | if best.nan_left { NAN_LEFT } else { 0 },
            child: left_node as u32,
        };
        self.tree.improvement[p.node] = improvement.max(0.0);

        // Children inherit the pool minus the features found constant here (constant in a node means
        // constant in all its descendants).
        let (mut pool, mut pool_w) = (p.pool, p.pool_w);
        if !constant.is_empty() {
            let keep: Vec<bool> = pool.iter().map(|f| !constant.contains(f)).collect();
            let mut it = keep.iter();
            pool.retain(|_| *it.next().expect("same length"));
            if !pool_w.is_empty() {
                let mut it = keep.iter();
                pool_w.retain(|_| *it.next().expect("same length"));
            }
        }
        let mut left = Pending {
            node: left_node,
            start: p.start,
            end: mid,
            depth: p.depth + 1,
            totals: left_tot,
            pool: pool.clone(),
            pool_w: pool_w.clone(),
            drawn: 0,
            ready: Vec::new(),
            parent_hists: Vec::new(),
        };
        let mut right = Pending {
            node: right_node,
            start: mid,
            end: p.end,
            depth: p.depth + 1,
            totals: right_tot,
            pool,
            pool_w,
            drawn: 0,
            ready: Vec::new(),
            parent_hists: Vec::new(),
        };
        self.predraw(&mut left);
        self.predraw(&mut right);
        for h in p.ready {
            self.free(h);
        }
        let (mut small, large) = if mid - p.start <= p.end - mid {
            (left, right)
        } else {
            (right, left)
        };
        if large.end - large.start >= SORT_PATH_ROWS {
            small.parent_hists = mine;
        } else {
            for h in mine {
                self.free(h);
            }
        }
        stack.push(large);
        stack.push(small);
    }

    fn recycle(&mut self, a: Vec<Hist>, b: Vec<Hist>) {
        for h in a.into_iter().chain(b) {
            self.free(h);
        }
    }

    /// Weighted impurity `W * impurity` of a node with class weights `t[..c]`.
    fn weighted_impurity(&self, t: &[f64]) -> f64 {
        let c = self.d.n_classes;
        let w: f64 = t[..c].iter().sum();
        if w <= 0.0 {
            return 0.0;
        }
        match self.p.criterion {
            SplitCriterion::Gini => w - t[..c].iter().map(|v| v * v).sum::<f64>() / w,
            SplitCriterion::Entropy => {
                w * w.ln()
                    - t[..c]
                        .iter()
                        .filter(|v| **v > 0.0)
                        .map(|v| v * v.ln())
                        .sum::<f64>()
            }
        }
    }

    /// Split score to maximise (equals −(children's weighted impurity) up to a per-node constant)
    /// if it beats `best`, else `None` (also when a child would be empty or too small). `l` holds the
    /// left child's class weights then its row count, `t` the node's.
    #[inline(always)]
    fn better_score(&self, l: &[f64], t: &[f64], best: f64) -> Option<f64> {
        let c = self.d.n_classes;
        let min_leaf = self.p.min_samples_leaf as f64;
        if l[c] < min_leaf || t[c] - l[c] < min_leaf {
            return None;
        }
        match self.p.criterion {
            SplitCriterion::Gini => {
                let (mut sl, mut sr, mut wl, mut wt) = (0.0, 0.0, 0.0, 0.0);
                for k in 0..c {
                    let a = l[k];
                    let b = t[k] - a;
                    sl += a * a;
                    sr += b * b;
                    wl += a;
                    wt += t[k];
                }
                let wr = wt - wl;
                if !(wl > 0.0 && wr > 0.0) {
                    return None;
                }
                // sl/wl + sr/wr > best, without dividing on the hot path (wl * wr > 0).
                let num = sl * wr + sr * wl;
                let den = wl * wr;
                (num > best * den).then(|| num / den).filter(|s| *s > best)
            }
            SplitCriterion::Entropy => {
                let (mut s, mut wl, mut wt) = (0.0, 0.0, 0.0);
                for k in 0..c {
                    let a = l[k];
                    let b = t[k] - a;
                    if a > 0.0 {
                        s += a * a.ln();
                    }
                    if b > 0.0 {
                        s += b * b.ln();
                    }
                    wl += a;
                    wt += t[k];
                }
                let wr = wt - wl;
                if !(wl > 0.0 && wr > 0.0) {
                    return None;
                }
                let s = s - wl * wl.ln() - wr * wr.ln();
                (s > best).then_some(s)
            }
        }
    }

    /// Scores the candidate "bins <= lo go left" of feature `f`, where `hi` is the next non-empty
    /// value bin (`n_value_bins` if none: all values left, missing right). `lft` holds the left
    /// stats without missing rows, `miss` the missing bin's (all zero when the node has none).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn consider(
        &mut self,
        f: usize,
        lo: usize,
        hi: usize,
        lft: &[f64],
        miss: &[f64],
        totals: &[f64],
        best: &mut Option<Best>,
        best_score: &mut f64,
    ) {
        let c = self.d.n_classes;
        let has_missing = miss[c] > 0.0;
        let n_value_bins = self.d.binned.n_value_bins[f];
        // Missing rows go right (and, for a node without missing rows, this is the only variant).
        if let Some(s) = self.better_score(lft, totals, *best_score) {
            {
                let nan_left = if has_missing {
                    false
                } else {
                    let wl: f64 = lft[..c].iter().sum();
                    let wt: f64 = totals[..c].iter().sum();
                    wl >= wt - wl
                };
                self.record(
                    f,
                    lo,
                    hi,
                    n_value_bins,
                    lft,
                    None,
                    nan_left,
                    s,
                    best,
                    best_score,
                );
            }
        }
        if has_missing && hi < n_value_bins {
            // Missing rows go left.
            let mut l = std::mem::take(&mut self.cur_left);
            for k in 0..=c {
                l[k] = lft[k] + miss[k];
            }
            if let Some(s) = self.better_score(&l, totals, *best_score) {
                {
                    self.record(
                        f,
                        lo,
                        hi,
                        n_value_bins,
                        lft,
                        Some(miss),
                        true,
                        s,
                        best,
                        best_score,
                    );
                }
            }
            self.cur_left = l;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn record(
        &mut self,
        f: usize,
        lo: usize,
        hi: usize,
        n_value_bins: usize,
        lft: &[f64],
        miss: Option<&[f64]>,
        nan_left: bool,
        s: f64,
        best: &mut Option<Best>,
        best_score: &mut f64,
    ) {
        let c = self.d.n_classes;
        // Any edge between the two occupied bins splits the training rows the same way; take the
        // middle one (in quantile space) for margin on unseen data, like a midpoint threshold.
        let (bin, threshold) = if hi >= n_value_bins {
            (n_value_bins - 1, f64::INFINITY)
        } else {
            let t = (lo + hi - 1) / 2;
            (t, self.d.edges.edges(f)[t])
        };
        let b = best.get_or_insert_with(|| Best {
            score: 0.0,
            feature: 0,
            bin: 0,
            threshold: 0.0,
            nan_left: false,
            left: vec![0.0; c + 1],
        });
        b.score = s;
        b.feature = f;
        b.bin = bin;
        b.threshold = threshold;
        b.nan_left = nan_left;
        for k in 0..=c {
            b.left[k] = lft[k] + miss.map_or(0.0, |m| m[k]);
        }
        *best_score = s;
    }

    /// Scans a dense histogram; returns whether the feature is non-constant in the node.
    fn scan_dense(
        &mut self,
        f: usize,
        h: &[f64],
        totals: &[f64],
        best: &mut Option<Best>,
        best_score: &mut f64,
    ) -> bool {
        let c = self.d.n_classes;
        let s = self.stride;
        let nb = self.d.binned.n_value_bins[f];
        let miss = &h[nb * s..(nb + 1) * s];
        let mut occupied = usize::from(miss[c] > 0.0);
        let mut lft = std::mem::take(&mut self.scratch_l);
        lft.iter_mut().for_each(|v| *v = 0.0);
        let mut prev: Option<usize> = None;
        for b in 0..nb {
            let cell = &h[b * s..(b + 1) * s];
            if cell[c] == 0.0 {
                continue;
            }
            occupied += 1;
            if let Some(lo) = prev {
                self.consider(f, lo, b, &lft, miss, totals, best, best_score);
            }
            for k in 0..=c {
                lft[k] += cell[k];
            }
            prev = Some(b);
        }
        if let Some(lo) = prev {
            if miss[c] > 0.0 {
                self.consider(f, lo, nb, &lft, miss, totals, best, best_score);
            }
        }
        self.scratch_l = lft;
        occupied > 1
    }

    /// Split search for small nodes: sort the node's rows by bin and scan the runs. The missing bin
    /// is the largest bin value, so its rows sort last and its stats are read before the scan.
    fn scan_sorted(
        &mut self,
        f: usize,
        start: usize,
        end: usize,
        totals: &[f64],
        best: &mut Option<Best>,
        best_score: &mut f64,
    ) -> bool {
        let c = self.d.n_classes;
        let col = self.d.binned.column(f);
        let nb = self.d.binned.n_value_bins[f] as u64;
        let mut buf = std::mem::take(&mut self.sort_buf);
        buf.clear();
        // Key = bin, then position: unique keys give one deterministic order.
        buf.extend((start..end).map(|i| ((col[self.idx[i] as usize] as u64) << 32) | i as u64));
        buf.sort_unstable();
        let values_end = buf.partition_point(|k| (k >> 32) < nb);
        let mut miss = std::mem::take(&mut self.scratch_m);
        let mut lft = std::mem::take(&mut self.scratch_l);
        miss.iter_mut().for_each(|v| *v = 0.0);
        lft.iter_mut().for_each(|v| *v = 0.0);
        for k in &buf[values_end..] {
            let i = (k & 0xFFFF_FFFF) as usize;
            miss[self.y[i] as usize] += self.w[i];
            miss[c] += 1.0;
        }
        let mut occupied = usize::from(values_end < buf.len());
        let mut prev: Option<usize> = None;
        let mut j = 0usize;
        while j < values_end {
            let bin = (buf[j] >> 32) as usize;
            if let Some(lo) = prev {
                self.consider(f, lo, bin, &lft, &miss, totals, best, best_score);
            }
            while j < values_end && (buf[j] >> 32) as usize == bin {
                let i = (buf[j] & 0xFFFF_FFFF) as usize;
                lft[self.y[i] as usize] += self.w[i];
                lft[c] += 1.0;
                j += 1;
            }
            occupied += 1;
            prev = Some(bin);
        }
        if let Some(lo) = prev {
            if miss[c] > 0.0 {
                self.consider(f, lo, nb as usize, &lft, &miss, totals, best, best_score);
            }
        }
        self.sort_buf = buf;
        self.scratch_l = lft;
        self.scratch_m = miss;
        occupied > 1
    }
}
