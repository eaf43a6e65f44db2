//! The [`Method`] trait every row of a report implements (baselines B0–B6, ORACLE, later META), and the
//! [`Fold`] / [`Draw`] it sees.

use std::sync::Arc;

use ndarray::Array2;

use metaforest_flows::{Domain, FlowTable};
use metaforest_forest::Forest;

use crate::config::BenchConfig;
use crate::error::Result;

/// One held-out domain of a protocol run. Built once; every method and every draw of the fold shares it.
///
/// A method may read the known domains (rows, labels, their forests) freely; of the held-out domain it may
/// read only the support of a [`Draw`] with labels, and [`Fold::unlabelled`] without labels (and must then
/// say so through [`Method::uses_unlabelled`]). `pool` and the test labels are there for ORACLE and the
/// scorer.
pub struct Fold {
    pub protocol: String,
    pub variant: String,
    /// Name of the held-out domain.
    pub held_out: String,
    /// All rows of the protocol (known domains and the held-out one).
    pub table: Arc<FlowTable>,
    /// The known domains (never the held-out one): names and row indices into `table`.
    pub known: Vec<Domain>,
    /// One forest per known domain (same order as `known`), trained once per protocol run.
    pub known_forests: Vec<Arc<Forest>>,
    /// Attack probabilities of each known forest on the test rows (same order as `known`).
    pub known_test_proba: Vec<Vec<f64>>,
    /// The held-out domain's adaptation pool (supports are drawn from it).
    pub pool: Vec<usize>,
    /// The held-out domain's test rows.
    pub test: Vec<usize>,
    pub x_test: Array2<f64>,
    pub y_test: Vec<u8>,
    /// A capped sample of the pool's rows whose labels a method may not read (B6's unlabelled traffic).
    pub unlabelled: Vec<usize>,
    pub x_unlabelled: Array2<f64>,
    /// The fold's seed (everything a method draws at random derives from it or from a draw's seed).
    pub seed: u64,
    pub config: Arc<BenchConfig>,
}

impl Fold {
    /// Labels of the fold's table.
    pub fn labels(&self) -> &[u8] {
        self.table.labels()
    }
}

/// One K-shot draw: the labelled support from the held-out pool, and the default local forest trained on it
/// (B0's forest, shared by the methods that build on it so it is grown once per draw).
pub struct Draw {
    pub k: usize,
    /// Draw index `0..draws`.
    pub index: usize,
    pub seed: u64,
    /// Support rows: `k` benign then `k` attack rows of the pool.
    pub support: Vec<usize>,
    pub x_support: Array2<f64>,
    pub y_support: Vec<u32>,
    /// B0's forest on the support (default local hyperparameters, seeded by the draw).
    pub local: Arc<Forest>,
    /// Its attack probabilities on the test rows.
    pub local_test_proba: Vec<f64>,
}

/// A method's output on the test rows of a fold.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Attack probability per test row.
    pub proba: Vec<f64>,
    /// Hard decision per test row (each method owns its threshold).
    pub pred: Vec<u8>,
}

/// A detector construction that can be evaluated on a fold's draws.
pub trait Method: Send + Sync {
    /// Row name in the reports (`B0`…`B6`, `ORACLE`, `META`).
    fn name(&self) -> &str;
    /// One-line description for the report.
    fn describe(&self) -> String {
        String::new()
    }
    /// True when the method reads the held-out domain's unlabelled flows.
    fn uses_unlabelled(&self) -> bool {
        false
    }
    /// Called once per fold before any draw; sees the known domains (and may cache anything per fold).
    fn prepare(&mut self, fold: &Fold) -> Result<()>;
    /// What [`Method::prepare`] chose on the fold just prepared (B5's tuned hyperparameters), for the
    /// report's per-fold notes. A method that returns `Some` is described per fold, not once per run.
    fn fold_choice(&self) -> Option<String> {
        None
    }
    /// Scores the fold's test rows given one draw's support. Called concurrently for different draws.
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored>;
}
