//! Knobs of a bench run: the unchecked builder [`BenchParams`] and the validated [`BenchConfig`] the runner
//! takes (linfa's [`ParamGuard`](linfa::ParamGuard) pattern, as `ForestParams` in metaforest-forest).

use crate::error::{EvalError, Result};

/// Validated knobs of a bench run; obtain through `BenchParams::check`. [`BenchConfig::default`] is the full
/// protocol, [`BenchConfig::quick`] a CI smoke run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    pub(crate) draws: usize,
    pub(crate) ks: Vec<usize>,
    pub(crate) domains: Option<Vec<String>>,
    pub(crate) seed: u64,
    pub(crate) trees_local: usize,
    pub(crate) trees_known: usize,
    pub(crate) trees_b2: usize,
    pub(crate) tune_trees: usize,
    pub(crate) known_cap: usize,
    pub(crate) pooled_cap: usize,
    pub(crate) b2_cap: usize,
    pub(crate) test_cap: usize,
    pub(crate) oracle_cap: usize,
    pub(crate) unlabelled_cap: usize,
    pub(crate) tune_episodes: usize,
    pub(crate) tune_query: usize,
    pub(crate) p2_min_rows: usize,
    pub(crate) progress: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            draws: 30,
            ks: vec![1, 5, 10, 20, 50, 100],
            domains: None,
            seed: 42,
            trees_local: 100,
            trees_known: 100,
            trees_b2: 50,
            tune_trees: 50,
            known_cap: 50_000,
            pooled_cap: 20_000,
            b2_cap: 5_000,
            test_cap: 20_000,
            oracle_cap: 200_000,
            unlabelled_cap: 5_000,
            tune_episodes: 12,
            tune_query: 2_000,
            p2_min_rows: 40,
            progress: true,
        }
    }
}

impl BenchConfig {
    /// A smoke preset that finishes in under two minutes on two cores: 5 draws, K ∈ {1, 5, 20}, small
    /// forests and caps.
    pub fn quick() -> Self {
        BenchConfig {
            draws: 5,
            ks: vec![1, 5, 20],
            trees_local: 30,
            trees_known: 30,
            trees_b2: 15,
            tune_trees: 15,
            known_cap: 10_000,
            pooled_cap: 4_000,
            b2_cap: 1_000,
            test_cap: 4_000,
            oracle_cap: 20_000,
            unlabelled_cap: 1_000,
            tune_episodes: 3,
            tune_query: 400,
            ..Self::default()
        }
    }

    /// Draws per K.
    pub fn draws(&self) -> usize {
        self.draws
    }
    /// Labelled flows per class in the support.
    pub fn ks(&self) -> &[usize] {
        &self.ks
    }
    /// Held-out domains to run (case-insensitive substrings of their names); `None` = all.
    pub fn domains(&self) -> Option<&[String]> {
        self.domains.as_deref()
    }
    /// Seed of splits, draws and forests.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Trees of local forests (B0, B4's cross-fit, B5, B6).
    pub fn trees_local(&self) -> usize {
        self.trees_local
    }
    /// Trees of per-domain forests, B1's pooled forest, ORACLE and P2's standard forest.
    pub fn trees_known(&self) -> usize {
        self.trees_known
    }
    /// Trees of B2 (refit on every draw on pool + support, the most expensive baseline).
    pub fn trees_b2(&self) -> usize {
        self.trees_b2
    }
    /// Trees per candidate while tuning B5.
    pub fn tune_trees(&self) -> usize {
        self.tune_trees
    }
    /// Rows (stratified) of each known domain its forest is trained on.
    pub fn known_cap(&self) -> usize {
        self.known_cap
    }
    /// Rows (stratified) of each known domain in B1's pool.
    pub fn pooled_cap(&self) -> usize {
        self.pooled_cap
    }
    /// Rows (stratified) of each known domain in B2's pool.
    pub fn b2_cap(&self) -> usize {
        self.b2_cap
    }
    /// Test rows per held-out domain (stratified cap).
    pub fn test_cap(&self) -> usize {
        self.test_cap
    }
    /// Rows of the adaptation pool ORACLE trains on (stratified cap).
    pub fn oracle_cap(&self) -> usize {
        self.oracle_cap
    }
    /// Unlabelled pool flows B6 sees (uniform sample).
    pub fn unlabelled_cap(&self) -> usize {
        self.unlabelled_cap
    }
    /// K-shot episodes per K used to tune B5.
    pub fn tune_episodes(&self) -> usize {
        self.tune_episodes
    }
    /// Query rows per tuning episode.
    pub fn tune_query(&self) -> usize {
        self.tune_query
    }
    /// Minimum KDDTest+ rows of a novel attack type for it to become a P2 task.
    pub fn p2_min_rows(&self) -> usize {
        self.p2_min_rows
    }
    /// Whether a progress bar is shown.
    pub fn progress(&self) -> bool {
        self.progress
    }

    /// Whether the held-out domain `domain` is selected by [`BenchConfig::domains`].
    pub(crate) fn wants(&self, domain: &str) -> bool {
        match &self.domains {
            None => true,
            Some(list) => {
                let d = domain.to_lowercase();
                list.iter().any(|w| d.contains(&w.to_lowercase()))
            }
        }
    }
}

/// Unchecked knobs of a bench run (builder). `check()` validates them into a [`BenchConfig`].
///
/// ```
/// use linfa::ParamGuard;
/// use metaforest_eval::BenchParams;
/// let cfg = BenchParams::quick().draws(2).ks(vec![5]).check().unwrap();
/// assert_eq!(cfg.draws(), 2);
/// assert!(BenchParams::new().draws(0).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenchParams(BenchConfig);

impl BenchParams {
    /// The full protocol: 30 draws, K ∈ {1, 5, 10, 20, 50, 100}, 100-tree forests, seed 42.
    pub fn new() -> Self {
        Self::default()
    }

    /// The smoke preset of [`BenchConfig::quick`].
    pub fn quick() -> Self {
        BenchParams(BenchConfig::quick())
    }

    /// Draws per K (≥ 1).
    pub fn draws(mut self, value: usize) -> Self {
        self.0.draws = value;
        self
    }
    /// Labelled flows per class in the support (at least one K, each ≥ 1).
    pub fn ks(mut self, value: Vec<usize>) -> Self {
        self.0.ks = value;
        self
    }
    /// Held-out domains to run (case-insensitive substrings of their names); `None` = all.
    pub fn domains(mut self, value: Option<Vec<String>>) -> Self {
        self.0.domains = value;
        self
    }
    /// Seed of splits, draws and forests.
    pub fn seed(mut self, value: u64) -> Self {
        self.0.seed = value;
        self
    }
    /// Trees of local forests (≥ 1).
    pub fn trees_local(mut self, value: usize) -> Self {
        self.0.trees_local = value;
        self
    }
    /// Trees of per-domain forests, B1, ORACLE and P2's standard forest (≥ 1).
    pub fn trees_known(mut self, value: usize) -> Self {
        self.0.trees_known = value;
        self
    }
    /// Trees of B2 (≥ 1).
    pub fn trees_b2(mut self, value: usize) -> Self {
        self.0.trees_b2 = value;
        self
    }
    /// Trees per candidate while tuning B5 (≥ 1).
    pub fn tune_trees(mut self, value: usize) -> Self {
        self.0.tune_trees = value;
        self
    }
    /// Rows of each known domain its forest is trained on (≥ 1).
    pub fn known_cap(mut self, value: usize) -> Self {
        self.0.known_cap = value;
        self
    }
    /// Rows of each known domain in B1's pool (≥ 1).
    pub fn pooled_cap(mut self, value: usize) -> Self {
        self.0.pooled_cap = value;
        self
    }
    /// Rows of each known domain in B2's pool (≥ 1).
    pub fn b2_cap(mut self, value: usize) -> Self {
        self.0.b2_cap = value;
        self
    }
    /// Test rows per held-out domain (≥ 1).
    pub fn test_cap(mut self, value: usize) -> Self {
        self.0.test_cap = value;
        self
    }
    /// Pool rows ORACLE trains on (≥ 1).
    pub fn oracle_cap(mut self, value: usize) -> Self {
        self.0.oracle_cap = value;
        self
    }
    /// Unlabelled pool flows B6 sees (≥ 1).
    pub fn unlabelled_cap(mut self, value: usize) -> Self {
        self.0.unlabelled_cap = value;
        self
    }
    /// K-shot episodes per K used to tune B5 (≥ 1).
    pub fn tune_episodes(mut self, value: usize) -> Self {
        self.0.tune_episodes = value;
        self
    }
    /// Query rows per tuning episode (≥ 1).
    pub fn tune_query(mut self, value: usize) -> Self {
        self.0.tune_query = value;
        self
    }
    /// Minimum KDDTest+ rows of a novel attack type for it to become a P2 task.
    pub fn p2_min_rows(mut self, value: usize) -> Self {
        self.0.p2_min_rows = value;
        self
    }
    /// Show a progress bar.
    pub fn progress(mut self, value: bool) -> Self {
        self.0.progress = value;
        self
    }

    fn validate(c: &BenchConfig) -> Result<()> {
        let bad = |m: &str| Err(EvalError::Config(m.to_string()));
        if c.draws == 0 {
            return bad("--draws must be at least 1");
        }
        if c.ks.is_empty() || c.ks.contains(&0) {
            return bad("--ks must list at least one K, each at least 1");
        }
        if [c.trees_local, c.trees_known, c.trees_b2, c.tune_trees].contains(&0) {
            return bad("tree counts must be at least 1");
        }
        if [
            c.known_cap,
            c.pooled_cap,
            c.b2_cap,
            c.test_cap,
            c.oracle_cap,
            c.unlabelled_cap,
        ]
        .contains(&0)
        {
            return bad("row caps must be at least 1");
        }
        if c.tune_episodes == 0 || c.tune_query == 0 {
            return bad("B5 needs at least one tuning episode with at least one query row");
        }
        Ok(())
    }
}

impl linfa::ParamGuard for BenchParams {
    type Checked = BenchConfig;
    type Error = EvalError;

    fn check_ref(&self) -> Result<&BenchConfig> {
        Self::validate(&self.0)?;
        Ok(&self.0)
    }

    fn check(self) -> Result<BenchConfig> {
        Self::validate(&self.0)?;
        Ok(self.0)
    }
}

impl From<BenchConfig> for BenchParams {
    fn from(c: BenchConfig) -> Self {
        BenchParams(c)
    }
}
