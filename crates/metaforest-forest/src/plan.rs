//! The prediction plan: the forest re-encoded so that prediction reads a sixth of the memory. One
//! flow visits a dozen nodes in each of a hundred trees; once other work has pushed the forest out
//! of the cache, every visit is a wait on memory, so the one-flow latency follows the bytes those
//! visits touch; batches gain from trees that fit in L1.
//!
//! Each split threshold becomes its rank among the distinct thresholds the forest uses on that
//! feature, and a row's values become ranks once per prediction (a binary search per feature), so
//! a node fits in 4 bytes instead of 16: sixteen to a cache line. `x <= t_k` holds exactly when
//! fewer than `k + 1` thresholds lie below `x`, so the walk takes the same turns as the
//! raw-value trees, and leaves point into one table of distinct leaf distributions (an unpruned
//! forest's leaves are mostly pure, so the table is small), summed in tree order: the result is
//! bit-identical to the other prediction paths.
//!
//! A forest outside the encoding's limits (more than 127 features, more than 254 distinct
//! thresholds on a feature, more than 2^24 distinct leaf distributions, children not laid out in
//! pairs at odd positions, or more than 131,071 nodes in a tree) has no plan and walks its trees.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::tree::Tree;
use crate::walk::{walk_trees, SortKey, Walk, LOCKSTEP_ROWS};

/// Feature bits of a leaf node.
const LEAF_FEATURE: u32 = 0x7F;
/// Most features the 7 feature bits can name (one value marks a leaf).
const MAX_FEATURES: usize = LEAF_FEATURE as usize;
/// Most distinct thresholds per feature: ranks are one byte, a value's rank is at most the count,
/// and rank 255 is kept for missing values.
const MAX_THRESHOLDS: usize = 254;
/// Rank of a missing value: above every threshold index, so it goes right unless the node sends
/// missing values left.
const NAN_RANK: u8 = u8::MAX;
const NAN_LEFT: u32 = 1 << 15;
/// Tree walks one flow keeps in flight (8 and 12 measured alike, 16 and 32 slower: each lane's
/// bookkeeping costs more than the extra overlap saves).
const GROUP: usize = 12;

#[inline]
fn is_leaf(n: u32) -> bool {
    (n >> 8) & LEAF_FEATURE == LEAF_FEATURE
}

/// Feature bits of node `n` (a feature index for a split node).
#[inline]
fn feature(n: u32) -> usize {
    ((n >> 8) & LEAF_FEATURE) as usize
}

/// Value-table index of leaf node `n`.
#[inline]
fn leaf_value(n: u32) -> usize {
    ((n & 0xFF) | (n >> 16) << 8) as usize
}

/// Position (from its tree's root) of the child that split node `n` sends a row with `ranks` to,
/// as a branch on the turn: the CPU guesses it and loads the next node before the comparison is
/// known (see [`Walk::Branchy`]). Without `MISSING` the rows have no missing value, and the
/// missing-value test is left out (so too in [`turn_branch_free`]).
#[inline]
fn turn_branchy<const W: usize, const MISSING: bool>(n: u32, ranks: &[u8; W]) -> usize {
    let r = ranks[feature(n) & (W - 1)];
    let left = u32::from(r) <= (n & 0xFF) || (MISSING && r == NAN_RANK && n & NAN_LEFT != 0);
    if left {
        2 * (n >> 16) as usize + 1
    } else {
        2 * (n >> 16) as usize + 2
    }
}

/// [`turn_branchy`] without branches, for walks that step several rows or trees side by side,
/// given the row's rank `r` on the node's feature.
#[inline]
fn turn_branch_free<const MISSING: bool>(n: u32, r: u8) -> usize {
    let left = (u32::from(r) <= (n & 0xFF)) | (MISSING & (r == NAN_RANK) & (n & NAN_LEFT != 0));
    2 * (n >> 16) as usize + 1 + usize::from(!left)
}

/// The forest in 4-byte nodes. A split node is `rank | feature << 8 | nan_left << 15 | pair << 16`:
/// it sends a row left when the row's rank on `feature` is at most `rank`, and its children sit at
/// `2 * pair + 1` and `2 * pair + 2` of its tree. A leaf has feature bits [`LEAF_FEATURE`] and its
/// value-table index in the other 24 bits.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Distinct thresholds of every feature, increasing, back to back; feature `f`'s are
    /// `thresholds[starts[f]..starts[f + 1]]`.
    thresholds: Vec<f64>,
    starts: Vec<usize>,
    nodes: Vec<u32>,
    /// Where each tree's nodes begin in `nodes`.
    roots: Vec<usize>,
    /// Distinct leaf distributions, `n_classes` values each.
    values: Vec<f64>,
    n_classes: usize,
}

impl Plan {
    /// The plan of `trees` (over `n_features` features), or `None` if they exceed its limits.
    pub(crate) fn build(trees: &[Tree], n_features: usize) -> Option<Plan> {
        if n_features > MAX_FEATURES || trees.is_empty() {
            return None;
        }
        let n_classes = trees[0].n_classes;
        let mut per_feature: Vec<Vec<f64>> = vec![Vec::new(); n_features];
        for t in trees {
            for n in t.nodes.iter().filter(|n| !n.is_leaf()) {
                per_feature[n.feature()].push(n.threshold);
            }
        }
        let mut thresholds = Vec::new();
        let mut starts = vec![0];
        for ts in &mut per_feature {
            ts.sort_unstable_by(f64::total_cmp);
            // `==` merges -0.0 and 0.0, which `x <= t` cannot tell apart either.
            ts.dedup_by(|a, b| a == b);
            if ts.len() > MAX_THRESHOLDS {
                return None;
            }
            thresholds.extend_from_slice(ts);
            starts.push(thresholds.len());
        }
        let mut nodes = Vec::with_capacity(trees.iter().map(|t| t.nodes.len()).sum());
        let mut roots = Vec::with_capacity(trees.len());
        let mut values = Vec::new();
        let mut value_index: HashMap<Vec<u64>, u32> = HashMap::new();
        for t in trees {
            roots.push(nodes.len());
            for n in &t.nodes {
                if n.is_leaf() {
                    let dist = t.leaf_distribution(n.child as usize);
                    let key: Vec<u64> = dist.iter().map(|v| v.to_bits()).collect();
                    let next = value_index.len() as u32;
                    let index = *value_index.entry(key).or_insert_with(|| {
                        values.extend_from_slice(dist);
                        next
                    });
                    if index >= 1 << 24 {
                        return None;
                    }
                    nodes.push((index & 0xFF) | LEAF_FEATURE << 8 | (index >> 8) << 16);
                } else {
                    let child = n.child as usize;
                    let pair = (child.checked_sub(1)? / 2) as u32;
                    if child % 2 == 0 || pair > u32::from(u16::MAX) {
                        return None;
                    }
                    let f = n.feature();
                    let ts = &thresholds[starts[f]..starts[f + 1]];
                    let rank = ts.partition_point(|v| *v < n.threshold) as u32;
                    let nan = if n.nan_left() { NAN_LEFT } else { 0 };
                    nodes.push(rank | (f as u32) << 8 | nan | pair << 16);
                }
            }
        }
        Some(Plan {
            thresholds,
            starts,
            nodes,
            roots,
            values,
            n_classes,
        })
    }

    /// Writes the ranks of `row` into `ranks` (one per feature); says whether any value is missing.
    fn rank_row(&self, row: &[f64], ranks: &mut [u8]) -> bool {
        let mut any_missing = false;
        for ((f, &v), r) in row.iter().enumerate().zip(ranks) {
            let ts = &self.thresholds[self.starts[f]..self.starts[f + 1]];
            *r = if v.is_nan() {
                any_missing = true;
                NAN_RANK
            } else {
                ts.partition_point(|t| *t < v) as u8
            };
        }
        any_missing
    }

    /// Adds every tree's leaf distribution for `row` into `out`, in tree order.
    pub(crate) fn sum_row(&self, row: &[f64], out: &mut [f64]) {
        let mut ranks = [0u8; MAX_FEATURES + 1];
        // Rows without missing values (nearly all) skip the missing-value test at every node.
        if self.rank_row(row, &mut ranks[..row.len()]) {
            self.sum_ranked::<true>(&ranks, out);
        } else {
            self.sum_ranked::<false>(&ranks, out);
        }
    }

    fn sum_ranked<const MISSING: bool>(&self, ranks: &[u8; MAX_FEATURES + 1], out: &mut [f64]) {
        const CHUNK: usize = 64;
        let mut found = [0u32; CHUNK];
        for roots in self.roots.chunks(CHUNK) {
            // `GROUP` walks in flight hide each other's memory waits; a lane that reaches a leaf
            // takes the next tree. The leaves are added in tree order afterwards.
            let mut live = GROUP.min(roots.len());
            let mut tree: [usize; GROUP] = std::array::from_fn(|j| j);
            let mut root = [0usize; GROUP];
            let mut node = [0u32; GROUP];
            for j in 0..live {
                root[j] = roots[j];
                node[j] = self.nodes[roots[j]];
            }
            let mut next = live;
            while live > 0 {
                let mut j = 0;
                while j < live {
                    let n = node[j];
                    if !is_leaf(n) {
                        node[j] =
                            self.nodes[root[j] + turn_branch_free::<MISSING>(n, ranks[feature(n)])];
                        j += 1;
                        continue;
                    }
                    found[tree[j]] = n;
                    if next < roots.len() {
                        (tree[j], root[j]) = (next, roots[next]);
                        node[j] = self.nodes[root[j]];
                        next += 1;
                        j += 1;
                    } else {
                        live -= 1;
                        (tree[j], root[j], node[j]) = (tree[live], root[live], node[live]);
                    }
                }
            }
            for n in &found[..roots.len()] {
                self.add_leaf(*n, out);
            }
        }
    }

    #[inline]
    fn add_leaf(&self, leaf: u32, out: &mut [f64]) {
        let c = self.n_classes;
        let i = leaf_value(leaf);
        for (a, v) in out.iter_mut().zip(&self.values[i * c..i * c + c]) {
            *a += v;
        }
    }

    /// Where in `nodes` the leaf that `ranks` reaches in tree `t` is.
    #[inline]
    fn leaf_position<const W: usize, const MISSING: bool>(
        &self,
        t: usize,
        ranks: &[u8; W],
    ) -> usize {
        let root = self.roots[t];
        let mut at = root;
        while !is_leaf(self.nodes[at]) {
            at = root + turn_branchy::<W, MISSING>(self.nodes[at], ranks);
        }
        at
    }

    /// Where in `nodes` the leaves that [`LOCKSTEP_ROWS`] rows of ranks reach in tree `t` are, the
    /// rows stepped side by side; a row at its leaf stays there until all are done.
    fn leaves_lockstep<const W: usize, const MISSING: bool>(
        &self,
        t: usize,
        rows: &[[u8; W]],
    ) -> [usize; LOCKSTEP_ROWS] {
        let root = self.roots[t];
        let mut at = [root; LOCKSTEP_ROWS];
        let mut node = [self.nodes[root]; LOCKSTEP_ROWS];
        loop {
            let mut live = false;
            for j in 0..LOCKSTEP_ROWS {
                let leaf = is_leaf(node[j]);
                // A leaf's feature bits index the row too (rows are `W` wide), so a leaf is
                // stepped like a split and the step dropped.
                let r = rows[j][feature(node[j]) & (W - 1)];
                let next = root + turn_branch_free::<MISSING>(node[j], r);
                at[j] = if leaf { at[j] } else { next };
                node[j] = self.nodes[at[j]];
                live |= !leaf;
            }
            if !live {
                return at;
            }
        }
    }

    /// Adds tree `t`'s leaf distribution for each row of `ranks` into `out`.
    fn add_tree<const W: usize, const MISSING: bool>(
        &self,
        t: usize,
        walk: Walk,
        ranks: &[[u8; W]],
        out: &mut [f64],
    ) {
        let c = self.n_classes;
        let mut done = 0;
        if walk == Walk::Lockstep {
            for (acc, group) in out
                .chunks_exact_mut(c * LOCKSTEP_ROWS)
                .zip(ranks.chunks_exact(LOCKSTEP_ROWS))
            {
                let leaves = self.leaves_lockstep::<W, MISSING>(t, group);
                for (a, at) in acc.chunks_exact_mut(c).zip(leaves) {
                    self.add_leaf(self.nodes[at], a);
                }
            }
            done = ranks.len() / LOCKSTEP_ROWS * LOCKSTEP_ROWS;
        }
        if walk == Walk::Branchy {
            for (acc, pair) in out.chunks_exact_mut(2 * c).zip(ranks.chunks_exact(2)) {
                let (a, b) = self.leaf_positions_pair::<W, MISSING>(t, &pair[0], &pair[1]);
                let (acc_a, acc_b) = acc.split_at_mut(c);
                self.add_leaf(self.nodes[a], acc_a);
                self.add_leaf(self.nodes[b], acc_b);
            }
            done = ranks.len() / 2 * 2;
        }
        for (acc, r) in out[done * c..].chunks_exact_mut(c).zip(&ranks[done..]) {
            self.add_leaf(self.nodes[self.leaf_position::<W, MISSING>(t, r)], acc);
        }
    }

    /// Records, for each row of `ranks`, the position (from the tree's root) of its leaf in tree
    /// `t` at `out[row * n_trees + t]`: the walks of [`add_tree`](Self::add_tree), keeping the leaf.
    fn tree_leaves<const W: usize, const MISSING: bool>(
        &self,
        t: usize,
        walk: Walk,
        ranks: &[[u8; W]],
        out: &mut [u32],
    ) {
        let n_trees = self.roots.len();
        let root = self.roots[t];
        let mut record = |row: usize, at: usize| out[row * n_trees + t] = (at - root) as u32;
        let mut done = 0;
        if walk == Walk::Lockstep {
            for (g, group) in ranks.chunks_exact(LOCKSTEP_ROWS).enumerate() {
                let leaves = self.leaves_lockstep::<W, MISSING>(t, group);
                for (j, at) in leaves.into_iter().enumerate() {
                    record(g * LOCKSTEP_ROWS + j, at);
                }
            }
            done = ranks.len() / LOCKSTEP_ROWS * LOCKSTEP_ROWS;
        }
        if walk == Walk::Branchy {
            for (g, pair) in ranks.chunks_exact(2).enumerate() {
                let (a, b) = self.leaf_positions_pair::<W, MISSING>(t, &pair[0], &pair[1]);
                record(2 * g, a);
                record(2 * g + 1, b);
            }
            done = ranks.len() / 2 * 2;
        }
        for (row, r) in ranks.iter().enumerate().skip(done) {
            record(row, self.leaf_position::<W, MISSING>(t, r));
        }
    }

    /// [`leaf_position`](Self::leaf_position) of two rows at once, each turn still a branch: two
    /// independent chains of node loads keep the core busy while either waits, and the second
    /// row's turns are mostly the first's (sorted rows), which the branch predictor learns
    /// (sorted NF-v2 blocks: 1.07x one row at a time).
    #[inline]
    fn leaf_positions_pair<const W: usize, const MISSING: bool>(
        &self,
        t: usize,
        r0: &[u8; W],
        r1: &[u8; W],
    ) -> (usize, usize) {
        let root = self.roots[t];
        let (mut a, mut b) = (root, root);
        loop {
            let (na, nb) = (self.nodes[a], self.nodes[b]);
            let (leaf_a, leaf_b) = (is_leaf(na), is_leaf(nb));
            if leaf_a && leaf_b {
                return (a, b);
            }
            if !leaf_a {
                a = root + turn_branchy::<W, MISSING>(na, r0);
            }
            if !leaf_b {
                b = root + turn_branchy::<W, MISSING>(nb, r1);
            }
        }
    }

    /// Adds every tree's leaf distributions for the row-major `rows` into `out` (`n_classes` each,
    /// zeroed): rows are ranked once, then walked tree by tree (see `walk::walk_trees`), sorted by
    /// their leaf in the first tree if `sorted`, each walk chosen by timing unless `forced`.
    pub(crate) fn predict_block(
        &self,
        rows: &[f64],
        out: &mut [f64],
        sorted: bool,
        forced: Option<Walk>,
    ) {
        // Rank rows are padded to a power of two, so a node's feature bits index them without a
        // bounds check.
        if self.starts.len() - 1 <= 64 {
            self.predict_padded::<64>(rows, out, sorted, forced);
        } else {
            self.predict_padded::<{ MAX_FEATURES + 1 }>(rows, out, sorted, forced);
        }
    }

    /// Records the leaf each of the row-major `rows` reaches in every tree, as its node's position
    /// from the tree's root, at `out[row * n_trees + tree]`; rows ranked, sorted and walked as in
    /// [`predict_block`](Self::predict_block), so the leaves are the ones prediction adds.
    pub(crate) fn leaves_block(
        &self,
        rows: &[f64],
        out: &mut [u32],
        sorted: bool,
        forced: Option<Walk>,
    ) {
        if self.starts.len() - 1 <= 64 {
            self.leaves_padded::<64>(rows, out, sorted, forced);
        } else {
            self.leaves_padded::<{ MAX_FEATURES + 1 }>(rows, out, sorted, forced);
        }
    }

    /// Adds, per row, the distributions of the leaves [`leaves_block`](Self::leaves_block) found
    /// (`positions`, `n_trees` per row) into `out` (`n_classes` per row), in tree order.
    pub(crate) fn add_leaves(&self, positions: &[u32], out: &mut [f64]) {
        let n_trees = self.roots.len();
        for (acc, row) in out
            .chunks_exact_mut(self.n_classes)
            .zip(positions.chunks_exact(n_trees))
        {
            for (&root, &at) in self.roots.iter().zip(row) {
                self.add_leaf(self.nodes[root + at as usize], acc);
            }
        }
    }

    /// The ranks of the row-major `rows`, and whether any value is missing.
    fn ranks<const W: usize>(&self, rows: &[f64]) -> (Vec<[u8; W]>, bool) {
        let nf = self.starts.len() - 1;
        let mut ranks = vec![[0u8; W]; rows.len() / nf];
        let mut any_missing = false;
        for (row, r) in rows.chunks_exact(nf).zip(&mut ranks) {
            any_missing |= self.rank_row(row, &mut r[..nf]);
        }
        (ranks, any_missing)
    }

    fn predict_padded<const W: usize>(
        &self,
        rows: &[f64],
        out: &mut [f64],
        sorted: bool,
        forced: Option<Walk>,
    ) {
        let (ranks, any_missing) = self.ranks::<W>(rows);
        let c = self.n_classes;
        // Blocks without missing values (nearly all) skip the missing-value test at every node.
        if any_missing {
            self.walk_ranked::<W, true, f64>(&ranks, out, c, sorted, forced, |t, w, r, o| {
                self.add_tree::<W, true>(t, w, r, o)
            });
        } else {
            self.walk_ranked::<W, false, f64>(&ranks, out, c, sorted, forced, |t, w, r, o| {
                self.add_tree::<W, false>(t, w, r, o)
            });
        }
    }

    fn leaves_padded<const W: usize>(
        &self,
        rows: &[f64],
        out: &mut [u32],
        sorted: bool,
        forced: Option<Walk>,
    ) {
        let (ranks, any_missing) = self.ranks::<W>(rows);
        let n_trees = self.roots.len();
        if any_missing {
            self.walk_ranked::<W, true, u32>(&ranks, out, n_trees, sorted, forced, |t, w, r, o| {
                self.tree_leaves::<W, true>(t, w, r, o)
            });
        } else {
            self.walk_ranked::<W, false, u32>(
                &ranks,
                out,
                n_trees,
                sorted,
                forced,
                |t, w, r, o| self.tree_leaves::<W, false>(t, w, r, o),
            );
        }
    }

    /// Walks every tree over `ranks` with `per_tree`, `c` outputs per row (see `walk::walk_trees`).
    fn walk_ranked<const W: usize, const MISSING: bool, O: Copy + Default>(
        &self,
        ranks: &[[u8; W]],
        out: &mut [O],
        c: usize,
        sorted: bool,
        forced: Option<Walk>,
        per_tree: impl Fn(usize, Walk, &[[u8; W]], &mut [O]),
    ) {
        let first_leaf = |r: &[[u8; W]]| self.leaf_position::<W, MISSING>(0, &r[0]);
        let sort_key: Option<SortKey<'_, [u8; W]>> = sorted.then_some(&first_leaf);
        walk_trees(ranks, out, c, self.roots.len(), sort_key, forced, per_tree);
    }

    /// Bytes the plan occupies (nodes, thresholds and the leaf table).
    pub(crate) fn bytes(&self) -> usize {
        self.nodes.len() * 4 + self.thresholds.len() * 8 + self.values.len() * 8
    }
}

/// A forest's plan, built on first use. Derived data: it is not saved, and two forests with the
/// same trees are equal whether or not either has built it yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanCell(OnceLock<Option<Plan>>);

impl PlanCell {
    /// The plan of `trees`, built now if this is the first call.
    pub(crate) fn get(&self, trees: &[Tree], n_features: usize) -> Option<&Plan> {
        self.0
            .get_or_init(|| Plan::build(trees, n_features))
            .as_ref()
    }
}

impl PartialEq for PlanCell {
    fn eq(&self, _: &PlanCell) -> bool {
        true
    }
}
