//! The pooled member: a forest grown on a sample of the known domains plus the support, the support's rows together
//! weighing as much as the pool (what baseline B2 grows). The weighting head weighs it like any other forest, so
//! META can lean on it where pooling the known networks with the new one's few labels leads.

use linfa::ParamGuard;
use metaforest_flows::rng::derive_seed;
use metaforest_forest::{Forest, ForestParams};
use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::descriptor::Support;
use crate::error::{MetaError, Result};

/// Flows of each known domain kept in the pool (evenly strided over the domain's rows).
pub const POOL_PER_DOMAIN: usize = 1_000;

/// A sample of every known domain's flows, and which known domain each row came from (so a meta-training episode
/// can leave its pseudo-target's rows out).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PooledSample {
    pub x: Array2<f64>,
    pub y: Vec<u32>,
    pub domain: Vec<usize>,
}

impl PooledSample {
    /// At most [`POOL_PER_DOMAIN`] rows of each domain `(features, 0/1 targets)`, evenly strided (files are often
    /// grouped by class).
    pub fn of(domains: &[(ArrayView2<f64>, &[u32])]) -> Result<Self> {
        let mut parts = Vec::new();
        let (mut y, mut domain) = (Vec::new(), Vec::new());
        for (i, (x, t)) in domains.iter().enumerate() {
            let n = x.nrows().min(POOL_PER_DOMAIN);
            let rows: Vec<usize> = (0..n).map(|r| r * x.nrows() / n).collect();
            parts.push(x.select(Axis(0), &rows));
            y.extend(rows.iter().map(|&r| t[r]));
            domain.extend(std::iter::repeat_n(i, n));
        }
        let views: Vec<ArrayView2<f64>> = parts.iter().map(|p| p.view()).collect();
        let x = concatenate(Axis(0), &views).map_err(|e| MetaError::InvalidParam {
            name: "pooled sample",
            reason: e.to_string(),
        })?;
        Ok(Self { x, y, domain })
    }

    /// Rows of known domains `ids` in the sample.
    pub(crate) fn n_rows(&self, ids: &[usize]) -> usize {
        self.domain.iter().filter(|d| ids.contains(d)).count()
    }

    /// Grows the pooled forest on the rows of known domains `ids` plus the support.
    pub(crate) fn grow(
        &self,
        ids: &[usize],
        support: Support,
        n_trees: usize,
        seed: u64,
    ) -> Result<Forest> {
        let rows: Vec<usize> = (0..self.y.len())
            .filter(|&r| ids.contains(&self.domain[r]))
            .collect();
        let pool_y: Vec<u32> = rows.iter().map(|&r| self.y[r]).collect();
        let (x, y, w) = pool_and_support(
            self.x.select(Axis(0), &rows).view(),
            &pool_y,
            support.x,
            support.y,
        )?;
        let params = ForestParams::new()
            .n_trees(n_trees)
            .n_classes(Some(2))
            .seed(derive_seed(seed, 0xB2))
            .check()?;
        Ok(params.fit_weighted(x.view(), &y, &w)?)
    }
}

/// A pool's rows followed by a support's, with sample weights: 1 for every pool row, and the support's rows
/// together weighing as much as the pool.
pub fn pool_and_support(
    pool_x: ArrayView2<f64>,
    pool_y: &[u32],
    support_x: ArrayView2<f64>,
    support_y: &[u32],
) -> Result<(Array2<f64>, Vec<u32>, Vec<f64>)> {
    let x = concatenate(Axis(0), &[pool_x.view(), support_x.view()]).map_err(|e| {
        MetaError::InvalidParam {
            name: "pool and support",
            reason: e.to_string(),
        }
    })?;
    let mut y = pool_y.to_vec();
    y.extend_from_slice(support_y);
    let support_w = pool_y.len().max(1) as f64 / support_y.len().max(1) as f64;
    let mut w = vec![1.0; pool_y.len()];
    w.extend(std::iter::repeat_n(support_w, support_y.len()));
    Ok((x, y, w))
}
