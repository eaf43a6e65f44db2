//! How a block of rows walks a tree: two walks and the timing choice between them, shared by the
//! raw-value trees and the prediction plan.

use std::time::{Duration, Instant};

/// How a block of rows walks one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Branching on every turn (each row alone in the trees' own walk, two rows side by side in
    /// the plan's): the CPU predicts the turn and loads the next node early. Fast when
    /// consecutive rows turn alike (sorted NF-v2 blocks).
    Branchy,
    /// [`LOCKSTEP_ROWS`] rows side by side with branch-free turns: no mispredicts, but every row
    /// waits for the deepest of its group. Fast when turns are coin flips (the synthetic data:
    /// 1.6x the branchy rate there, 0.8x on sorted NF-v2, 1.1-1.3x on unsorted 256-row NF-v2 batches).
    Lockstep,
}

/// Rows per lockstep group (4 and 8 were alike on the synthetic data, 16 slower).
pub(crate) const LOCKSTEP_ROWS: usize = 4;
/// Trees a block spends timing the two walks (alternately) before it keeps the faster.
const PROBE_TREES: usize = 6;

/// Which walk wins depends on how predictable the data's turns are, which only the hardware
/// knows; so each block times both on its first trees and keeps the faster. The choice changes
/// speed only: both walks find the same leaves.
pub(crate) struct WalkChooser {
    forced: Option<Walk>,
    probed: usize,
    spent: [Duration; 2],
    chosen: Option<Walk>,
}

impl WalkChooser {
    pub(crate) fn new(forced: Option<Walk>) -> WalkChooser {
        WalkChooser {
            forced,
            probed: 0,
            spent: Default::default(),
            chosen: forced,
        }
    }

    /// Whether the next tree's walk is to be timed.
    pub(crate) fn timing(&self) -> bool {
        self.chosen.is_none()
    }

    pub(crate) fn next(&self) -> Walk {
        self.chosen.unwrap_or(if self.probed & 1 == 0 {
            Walk::Branchy
        } else {
            Walk::Lockstep
        })
    }

    pub(crate) fn record(&mut self, walk: Walk, took: Duration) {
        if self.forced.is_some() {
            return;
        }
        self.spent[usize::from(walk == Walk::Lockstep)] += took;
        self.probed += 1;
        if self.probed == PROBE_TREES {
            self.chosen = Some(if self.spent[1] < self.spent[0] {
                Walk::Lockstep
            } else {
                Walk::Branchy
            });
        }
    }
}

/// Orders a block's rows for walking: a row's leaf in the first tree.
pub(crate) type SortKey<'a, T> = &'a dyn Fn(&[T]) -> usize;

/// Adds the leaf distributions of trees `0..n_trees` for a block of rows (of equal width) into
/// `out` (`c` per row, zeroed by the caller), or records the rows' leaves there (`c` = `n_trees`), tree by tree: the part of a tree the rows visit is read
/// from memory once and then served from cache, and per row the sum still runs in tree order, so
/// the result is bit-identical whichever walk `add_tree(tree, walk, rows, out)` is told to use.
///
/// With `sort_key`, the rows are walked in the order of their key (their leaf in the first tree):
/// rows that share a leaf are alike in the features that matter, so they tend to take the same
/// turns in the other trees too, and walked one after another the CPU predicts those turns instead
/// of missing half of them (NF-v2: 1.3-1.4x). Results go back to the rows' own places.
pub(crate) fn walk_trees<T: Copy, O: Copy + Default>(
    rows: &[T],
    out: &mut [O],
    c: usize,
    n_trees: usize,
    sort_key: Option<SortKey<'_, T>>,
    forced: Option<Walk>,
    add_tree: impl Fn(usize, Walk, &[T], &mut [O]),
) {
    let mut chooser = WalkChooser::new(forced);
    let mut run = |rows: &[T], out: &mut [O]| {
        for t in 0..n_trees {
            let walk = chooser.next();
            let started = chooser.timing().then(Instant::now);
            add_tree(t, walk, rows, out);
            if let Some(t0) = started {
                chooser.record(walk, t0.elapsed());
            }
        }
    };
    let Some(key) = sort_key else {
        return run(rows, out);
    };
    let width = rows.len() / (out.len() / c).max(1);
    let mut order: Vec<(u32, u32)> = rows
        .chunks_exact(width)
        .enumerate()
        .map(|(i, row)| (key(row) as u32, i as u32))
        .collect();
    order.sort_unstable();
    let mut sorted_rows = Vec::with_capacity(rows.len());
    for &(_, i) in &order {
        let i = i as usize;
        sorted_rows.extend_from_slice(&rows[i * width..(i + 1) * width]);
    }
    let mut sorted_out = vec![O::default(); out.len()];
    run(&sorted_rows, &mut sorted_out);
    for (&(_, i), acc) in order.iter().zip(sorted_out.chunks_exact(c)) {
        let i = i as usize;
        out[i * c..(i + 1) * c].copy_from_slice(acc);
    }
}
