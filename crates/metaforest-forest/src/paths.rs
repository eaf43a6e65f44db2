//! The features tested on the path to each leaf, derived from the trees on first use (not saved): a
//! flow's decision paths are then read from the leaves it reached, without walking the trees again.

use std::sync::OnceLock;

use crate::tree::Tree;

/// Per tree, the features on the path from the root to each leaf: leaf `l`'s are
/// `features[starts[l]..starts[l + 1]]`.
#[derive(Debug, Clone)]
pub(crate) struct LeafPaths {
    starts: Vec<u32>,
    features: Vec<u16>,
}

impl LeafPaths {
    fn of(tree: &Tree) -> LeafPaths {
        let mut per_leaf: Vec<Vec<u16>> = vec![Vec::new(); tree.n_leaves()];
        // Depth-first; `path` holds the features of the ancestors of the node popped, `depth` long.
        let mut path: Vec<u16> = Vec::new();
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            path.truncate(depth);
            let n = tree.nodes[i];
            if n.is_leaf() {
                per_leaf[n.child as usize].clone_from(&path);
            } else {
                path.push(n.feature() as u16);
                stack.push((n.child as usize + 1, depth + 1));
                stack.push((n.child as usize, depth + 1));
            }
        }
        let mut starts = Vec::with_capacity(per_leaf.len() + 1);
        let mut features = Vec::new();
        starts.push(0);
        for p in per_leaf {
            features.extend(p);
            starts.push(features.len() as u32);
        }
        LeafPaths { starts, features }
    }

    /// The features on the path to `leaf`, or `None` for a leaf the tree does not have.
    pub(crate) fn features(&self, leaf: usize) -> Option<&[u16]> {
        let (a, b) = (*self.starts.get(leaf)?, *self.starts.get(leaf + 1)?);
        Some(&self.features[a as usize..b as usize])
    }
}

/// The leaf paths of a forest's trees, built on first use. Derived data: two forests with the same
/// trees are equal whether or not either has built them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathsCell(OnceLock<Vec<LeafPaths>>);

impl PathsCell {
    pub(crate) fn get(&self, trees: &[Tree]) -> &[LeafPaths] {
        self.0
            .get_or_init(|| trees.iter().map(LeafPaths::of).collect())
    }
}

impl PartialEq for PathsCell {
    fn eq(&self, _: &PathsCell) -> bool {
        true
    }
}
