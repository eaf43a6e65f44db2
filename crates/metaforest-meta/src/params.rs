//! Meta-training parameters: the unchecked builder [`MetaParams`] and the validated [`ValidMetaParams`] (linfa's
//! [`ParamGuard`](linfa::ParamGuard) pattern, as `ForestParams` in the forest crate).

use serde::{Deserialize, Serialize};

use crate::augment::Augmentation;
use crate::coverage::CoverageGate;
use crate::error::{MetaError, Result};
use crate::init::LocalForestSettings;
use crate::network::TrainSchedule;

/// Which halves of the meta-learner are active (the ablation switch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Heads {
    /// Learned weights over known forests and a learned local-forest initialisation.
    Both,
    /// Learned weights over known forests and a plain local forest.
    WeightsOnly,
    /// The learned initialisation of the local forest, used alone at threshold 0.5.
    InitOnly,
}

impl Heads {
    pub fn weights(self) -> bool {
        matches!(self, Heads::Both | Heads::WeightsOnly)
    }
    pub fn init(self) -> bool {
        matches!(self, Heads::Both | Heads::InitOnly)
    }
}

/// How the weighting head's training length is chosen from the best epoch counts of the known domains held out in
/// turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpochChoice {
    /// The least: train only as long as every held-out known domain still gains (often 0: the anchored head).
    Least,
    /// The median: as long as most held-out known domains still gain.
    Median,
}

/// Validated meta-training parameters; obtain through `MetaParams::check` (linfa's
/// [`ParamGuard`](linfa::ParamGuard)). Stored in model files, so the field order is part of the format.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ValidMetaParams {
    n_episodes: usize,
    ks: Vec<usize>,
    query_size: usize,
    task_learner_trees: usize,
    local: LocalForestSettings,
    schedule: TrainSchedule,
    val_fraction: f64,
    class_task_share: f64,
    heads: Heads,
    seed: u64,
    progress: bool,
    augment: Augmentation,
    pooled_member: bool,
    epoch_choice: EpochChoice,
    /// Not in the parameters' stored form: a model file records the coverage setting with its outcome
    /// ([`crate::coverage::CoverageState`], present only when the setting was on), so files of models trained
    /// without it keep format version 4, byte for byte.
    #[serde(skip)]
    coverage_shift: bool,
    #[serde(skip)]
    coverage_gate: CoverageGate,
    /// Not in the parameters' stored form either: a model with this member cannot be saved yet
    /// ([`crate::MetaError::NotSaved`]), so it never reaches a file.
    #[serde(skip)]
    self_trained_member: bool,
}

impl Default for ValidMetaParams {
    fn default() -> Self {
        Self {
            n_episodes: 480,
            ks: vec![1, 2, 5, 10, 20, 50],
            query_size: 256,
            task_learner_trees: 60,
            local: LocalForestSettings::default(),
            schedule: TrainSchedule {
                max_epochs: 40,
                patience: 5,
                learning_rate: 1e-3,
                seed: 0,
            },
            val_fraction: 0.2,
            class_task_share: 0.5,
            // Weights only: on P1 (30 paired draws) the learned initialisation cost 0.4–1.7 macro-F1 points at
            // every K, with or without the weights (see the ablation rows of `metaforest bench p1 --ablation`).
            heads: Heads::WeightsOnly,
            seed: 0,
            progress: false,
            augment: Augmentation::default(),
            pooled_member: false,
            epoch_choice: EpochChoice::Least,
            coverage_shift: false,
            coverage_gate: CoverageGate::EveryKnownDomain,
            self_trained_member: false,
        }
    }
}

impl ValidMetaParams {
    /// Episodes drawn from the known domains.
    pub fn n_episodes(&self) -> usize {
        self.n_episodes
    }
    /// Support sizes (flows per class) episodes draw from.
    pub fn ks(&self) -> &[usize] {
        &self.ks
    }
    /// Query flows per episode.
    pub fn query_size(&self) -> usize {
        self.query_size
    }
    /// Trees of each known domain's forest.
    pub fn task_learner_trees(&self) -> usize {
        self.task_learner_trees
    }
    /// Base settings of every local forest.
    pub fn local(&self) -> &LocalForestSettings {
        &self.local
    }
    /// Training schedule of the heads.
    pub fn schedule(&self) -> &TrainSchedule {
        &self.schedule
    }
    /// Share of episodes held out for early stopping when no whole known domain can be.
    pub fn val_fraction(&self) -> f64 {
        self.val_fraction
    }
    /// Share of episodes drawn as "benign vs one attack class" tasks (the rest are "benign vs every attack").
    pub fn class_task_share(&self) -> f64 {
        self.class_task_share
    }
    /// Which heads are trained and used.
    pub fn heads(&self) -> Heads {
        self.heads
    }
    /// Base seed of meta-training.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Whether progress bars are shown.
    pub fn progress(&self) -> bool {
        self.progress
    }
    /// How meta-training episodes are augmented.
    pub fn augment(&self) -> &Augmentation {
        &self.augment
    }
    /// Whether a pooled forest (known domains' sample plus the support, as baseline B2) is one more member.
    pub fn pooled_member(&self) -> bool {
        self.pooled_member
    }
    /// How the weighting head's epochs are chosen from the held-out known domains' best counts.
    pub fn epoch_choice(&self) -> EpochChoice {
        self.epoch_choice
    }
    /// Whether a per-flow coverage shift is learned (kept only if it passes the held-out known-domain check).
    pub fn coverage_shift(&self) -> bool {
        self.coverage_shift
    }
    /// The check the coverage shift must pass to be kept.
    pub fn coverage_gate(&self) -> CoverageGate {
        self.coverage_gate
    }
    /// Whether, with unlabelled flows, the support-grown forest stays a member beside the self-trained local one.
    pub fn self_trained_member(&self) -> bool {
        self.self_trained_member
    }
    pub(crate) fn set_coverage(&mut self, on: bool, gate: CoverageGate) {
        self.coverage_shift = on;
        self.coverage_gate = gate;
    }
}

/// Meta-training parameters (builder). `check()` validates them into [`ValidMetaParams`] before any work starts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MetaParams(ValidMetaParams);

impl MetaParams {
    pub fn new() -> Self {
        Self::default()
    }
    /// Episodes drawn from the known domains (≥ 10).
    pub fn n_episodes(mut self, n: usize) -> Self {
        self.0.n_episodes = n;
        self
    }
    /// Support sizes (flows per class), each ≥ 1.
    pub fn ks(mut self, ks: Vec<usize>) -> Self {
        self.0.ks = ks;
        self
    }
    /// Query flows per episode (≥ 8).
    pub fn query_size(mut self, n: usize) -> Self {
        self.0.query_size = n;
        self
    }
    /// Trees of each known domain's forest (≥ 1).
    pub fn task_learner_trees(mut self, n: usize) -> Self {
        self.0.task_learner_trees = n;
        self
    }
    /// Share of episodes held out for early stopping when no whole known domain can be, in [0.05, 0.5].
    pub fn val_fraction(mut self, f: f64) -> Self {
        self.0.val_fraction = f;
        self
    }
    /// Share of "benign vs one attack class" episodes, in [0, 1].
    pub fn class_task_share(mut self, f: f64) -> Self {
        self.0.class_task_share = f;
        self
    }
    /// Which heads are trained and used.
    pub fn heads(mut self, heads: Heads) -> Self {
        self.0.heads = heads;
        self
    }
    /// Progress bars on or off.
    pub fn progress(mut self, on: bool) -> Self {
        self.0.progress = on;
        self
    }
    /// One seed for episodes, heads and local forests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self.0.schedule.seed = seed;
        self.0.local.seed = seed;
        self
    }
    /// Trees of every local forest (≥ 4).
    pub fn local_trees(mut self, n: usize) -> Self {
        self.0.local.n_trees = n;
        self
    }
    /// Most epochs any head trains (≥ 1).
    pub fn max_epochs(mut self, n: usize) -> Self {
        self.0.schedule.max_epochs = n;
        self
    }
    /// Query and unlabelled attack share of episodes drawn uniform in log-odds, not the domain's own.
    pub fn share_augmentation(mut self, on: bool) -> Self {
        self.0.augment.share = on;
        self
    }
    /// Share of episodes with a narrow support (benign from 1–2 benign clusters, attacks from 1–2 classes), in
    /// [0, 1].
    pub fn narrow_support_share(mut self, f: f64) -> Self {
        self.0.augment.narrow_share = f;
        self
    }
    /// A pooled forest (a sample of the known domains plus the support, the support weighted to half, as
    /// baseline B2) as one more member the weighting head weighs.
    pub fn pooled_member(mut self, on: bool) -> Self {
        self.0.pooled_member = on;
        self
    }
    /// With unlabelled flows, the self-trained local forest ([`crate::init::self_train`]) and the support-grown one
    /// are both members the weighting head weighs: the self-trained one as `local` (it keeps the anchor, as META+U
    /// has it without this setting), the support-grown one as `support-grown`. Meta-training episodes then
    /// self-train on their own unlabelled sample. Off by default. An experiment: a model trained with it cannot be
    /// saved yet.
    pub fn self_trained_member(mut self, on: bool) -> Self {
        self.0.self_trained_member = on;
        self
    }
    /// How the weighting head's epochs are chosen from the held-out known domains' best counts.
    pub fn epoch_choice(mut self, choice: EpochChoice) -> Self {
        self.0.epoch_choice = choice;
        self
    }
    /// A learned per-flow logit shift from coverage evidence (how far a flow lies from the nearest benign and the
    /// nearest attack support flow in rank space, [`crate::coverage`]), fitted on the meta-training episodes and kept
    /// only if it passes the check on known domains held out of its fit. Off by default.
    pub fn coverage_shift(mut self, on: bool) -> Self {
        self.0.coverage_shift = on;
        self
    }
    /// The check the coverage shift must pass on held-out known domains (default: every one of them).
    pub fn coverage_gate(mut self, gate: CoverageGate) -> Self {
        self.0.coverage_gate = gate;
        self
    }
    /// Clusters of each known domain's benign flows that narrow supports draw from (≥ 2).
    pub fn benign_clusters(mut self, n: usize) -> Self {
        self.0.augment.benign_clusters = n;
        self
    }

    /// Rejects values that would fail (or silently degrade) later, before any forest is trained.
    fn validate(p: &ValidMetaParams) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(MetaError::InvalidParam {
                name,
                reason: reason.to_string(),
            })
        };
        if p.n_episodes < 10 {
            return bad(
                "n_episodes",
                "need at least 10 episodes (some are held out for early stopping)",
            );
        }
        if p.ks.is_empty() || p.ks.contains(&0) {
            return bad("ks", "give one or more K values, each at least 1");
        }
        if p.query_size < 8 {
            return bad("query_size", "need at least 8 query flows per episode");
        }
        if p.task_learner_trees == 0 || p.local.n_trees < 4 {
            return bad(
                "trees",
                "task learners need ≥ 1 tree and the local forest ≥ 4",
            );
        }
        if !(0.05..=0.5).contains(&p.val_fraction) {
            return bad("val_fraction", "must lie in [0.05, 0.5]");
        }
        if !(0.0..=1.0).contains(&p.class_task_share) {
            return bad("class_task_share", "must lie in [0, 1]");
        }
        if !(0.0..=1.0).contains(&p.augment.narrow_share) {
            return bad("narrow_support_share", "must lie in [0, 1]");
        }
        if p.augment.benign_clusters < 2 {
            return bad("benign_clusters", "need at least 2 clusters");
        }
        if p.schedule.max_epochs == 0
            || p.schedule.learning_rate.is_nan()
            || p.schedule.learning_rate <= 0.0
        {
            return bad("schedule", "max_epochs ≥ 1 and a positive learning rate");
        }
        Ok(())
    }
}

impl linfa::ParamGuard for MetaParams {
    type Checked = ValidMetaParams;
    type Error = MetaError;

    fn check_ref(&self) -> Result<&ValidMetaParams> {
        Self::validate(&self.0)?;
        Ok(&self.0)
    }

    fn check(self) -> Result<ValidMetaParams> {
        Self::validate(&self.0)?;
        Ok(self.0)
    }
}

impl From<ValidMetaParams> for MetaParams {
    fn from(p: ValidMetaParams) -> Self {
        MetaParams(p)
    }
}
