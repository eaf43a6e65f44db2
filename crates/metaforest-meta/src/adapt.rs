//! Adaptation, in one place: what a meta-model and its detectors share (the known forests, the heads, the input
//! normalisers, the threshold rule and the parameters) and the steps that turn a support into a local forest and
//! its evidence. [`crate::MetaModel`] and every [`crate::Detector`] adapted from it hold the same `Adapter` behind
//! an `Arc`, so adapting again rebuilds nothing.

use metaforest_forest::Forest;
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::coverage::{CoverageShift, CoverageState, RankReference, SupportCoverage};
use crate::descriptor::{
    feature_inputs, forest_evidence, init_input, task_descriptor, ForestEvidence, ForestFacts,
    Normalizer, Support, SupportStats, TASK_WIDTH,
};
use crate::error::{MetaError, Result};
use crate::init::{
    best_donor, grow_local, prior_from_logits, self_train, Initialisation, LocalForestSettings,
    CONFIGS,
};
use crate::network::{MetaLearner, MlpMetaLearner};
use crate::params::ValidMetaParams;
use crate::pooled::PooledSample;
use crate::space::FeatureSpace;
use crate::threshold::ThresholdRule;

/// Unlabelled flows per meta-training episode (and the default sample size at adaptation).
pub const UNLABELLED_SAMPLE: usize = 512;

/// A forest trained on all of one known domain, with the facts its descriptors need.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskLearner {
    pub name: String,
    pub forest: Forest,
    pub facts: ForestFacts,
}

/// Everything adaptation reads, fixed once meta-training ends.
#[derive(Clone, Debug)]
pub(crate) struct Adapter {
    pub(crate) params: ValidMetaParams,
    pub(crate) n_features: usize,
    pub(crate) known: Vec<TaskLearner>,
    pub(crate) heads: MlpMetaLearner,
    pub(crate) weight_norm: Normalizer,
    pub(crate) init_norm: Normalizer,
    pub(crate) feature_norm: Normalizer,
    /// Threshold from the share of a domain's unlabelled flows the detector flags (used only when they are given).
    pub(crate) threshold_rule: ThresholdRule,
    /// The columns the known forests read (saved with the model and its detectors).
    pub(crate) space: FeatureSpace,
    /// The known domains' sample the pooled member is grown on (when the parameters ask for that member).
    pub(crate) pooled: Option<PooledSample>,
    /// The coverage setting's outcome (`Some` only when the parameters asked for it; see [`crate::coverage`]).
    pub(crate) coverage: Option<CoverageState>,
}

/// What adapting to one support produced.
pub(crate) struct Adaptation {
    pub(crate) initialisation: Initialisation,
    pub(crate) local: Forest,
    /// The pooled member, grown on the known domains' sample and the support (when the model has one).
    pub(crate) pooled: Option<Forest>,
    /// With unlabelled flows and [`crate::MetaParams::self_trained_member`], the support-grown forest, kept as a
    /// member beside the self-trained `local` one.
    pub(crate) support_grown: Option<Forest>,
    pub(crate) evidence: Vec<ForestEvidence>,
    pub(crate) task: [f32; TASK_WIDTH],
}

impl Adaptation {
    /// Every member in weighting order (see [`in_weighting_order`]).
    pub(crate) fn forests<'a>(&'a self, known: Vec<&'a Forest>) -> Vec<&'a Forest> {
        in_weighting_order(
            known,
            self.pooled.as_ref(),
            self.support_grown.as_ref(),
            &self.local,
        )
    }
}

/// The one order the weighting head sees its members in: `known`, then the pooled and the support-grown members
/// (when present), then the local forest (last: it carries the anchor).
pub(crate) fn in_weighting_order<'a>(
    mut known: Vec<&'a Forest>,
    pooled: Option<&'a Forest>,
    support_grown: Option<&'a Forest>,
    local: &'a Forest,
) -> Vec<&'a Forest> {
    known.extend(pooled);
    known.extend(support_grown);
    known.push(local);
    known
}

/// Index of the largest value (the first on ties; 0 when empty).
pub(crate) fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

impl Adapter {
    /// Every known forest's index (what a new domain adapts with; meta-training episodes leave their own out).
    pub(crate) fn all_known(&self) -> Vec<usize> {
        (0..self.known.len()).collect()
    }

    /// The learned coverage shift, when the setting was on and the shift passed its check.
    pub(crate) fn coverage_shift(&self) -> Option<&CoverageShift> {
        self.coverage.as_ref()?.shift.as_ref()
    }

    /// The support in the rank space of the known forests `ids` (what coverage is measured against).
    pub(crate) fn support_coverage(&self, ids: &[usize], support: Support) -> SupportCoverage {
        SupportCoverage::new(
            RankReference::of(&self.known_forests(ids), self.n_features),
            support,
        )
    }

    pub(crate) fn known_forests(&self, ids: &[usize]) -> Vec<&Forest> {
        ids.iter().map(|&i| &self.known[i].forest).collect()
    }

    fn known_facts(&self, ids: &[usize]) -> Vec<(&Forest, &ForestFacts)> {
        ids.iter()
            .map(|&i| (&self.known[i].forest, &self.known[i].facts))
            .collect()
    }

    /// Evidence of the known forests `ids`, then the other `members` (each with its training rows), then `local`
    /// (last) on the support, and the support's statistics.
    pub(crate) fn evidence(
        &self,
        ids: &[usize],
        members: &[(&Forest, usize)],
        local: &Forest,
        support: Support,
    ) -> (Vec<ForestEvidence>, SupportStats) {
        let local_facts = ForestFacts::of(local, support.y.len());
        let mut pairs = self.known_facts(ids);
        let member_facts: Vec<(&Forest, ForestFacts)> = members
            .iter()
            .map(|&(f, n_train)| (f, ForestFacts::of(f, n_train)))
            .collect();
        pairs.extend(member_facts.iter().map(|(f, facts)| (*f, facts)));
        pairs.push((local, &local_facts));
        (forest_evidence(&pairs, support), SupportStats::of(support))
    }

    /// Decides the initialisation for a support.
    pub(crate) fn initialise(
        &self,
        ids: &[usize],
        support: Support,
        settings: &LocalForestSettings,
    ) -> Result<Initialisation> {
        if !self.params.heads().init() {
            return Ok(Initialisation::plain());
        }
        let known_forests = self.known_forests(ids);
        let plain = grow_local(&Initialisation::plain(), settings, support, &known_forests)?;
        let (evidence, stats) = self.evidence(ids, &[], &plain, support);
        let task = task_descriptor(support.y.len() / 2, &evidence[..ids.len()], &stats, None);
        let mut cfg_in = [init_input(&task, &evidence[..ids.len()])];
        self.init_norm.apply(&mut cfg_in);
        let logits = self.heads.config_logits(&cfg_in[0]);
        // A head switched off by its validation check leaves the plain configuration (index 0).
        let best = if self.heads.config.is_some() {
            argmax(&logits)
        } else {
            0
        };
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        let facts = self.known_facts(ids);
        let mut feat = feature_inputs(&facts, &plain.feature_importances(), support, &stats);
        self.feature_norm.apply(&mut feat);
        Ok(Initialisation {
            config: CONFIGS[best],
            config_probs: logits.iter().map(|l| (l - max).exp() / z).collect(),
            feature_prior: self
                .heads
                .prior
                .as_ref()
                .map(|_| prior_from_logits(&self.heads.prior_logits(&feat))),
            donor: best_donor(&evidence[..ids.len()], support),
        })
    }

    /// Initialise, grow the local forest, self-train it on `unlabelled` flows when given (see
    /// [`crate::init::self_train`]; with [`crate::MetaParams::self_trained_member`] the support-grown forest stays
    /// as a member beside it), and describe all forests on the support.
    pub(crate) fn analyse(
        &self,
        ids: &[usize],
        support: Support,
        settings: &LocalForestSettings,
        unlabelled: Option<ArrayView2<f64>>,
    ) -> Result<Adaptation> {
        let initialisation = self.initialise(ids, support, settings)?;
        let known_forests = self.known_forests(ids);
        let mut local = grow_local(&initialisation, settings, support, &known_forests)?;
        let mut support_grown = None;
        if let Some(u) = unlabelled.filter(|u| u.nrows() > 0) {
            let grown = self_train(&local, settings, support, u)?;
            let support_only = std::mem::replace(&mut local, grown);
            if self.params.self_trained_member() {
                // The self-trained forest keeps the local anchor (an anchored head scores as without the member).
                support_grown = Some((support_only, support.y.len()));
            }
        }
        let pooled = match &self.pooled {
            Some(sample) => Some((
                sample.grow(ids, support, (settings.n_trees / 2).max(4), settings.seed)?,
                sample.n_rows(ids) + support.y.len(),
            )),
            None => None,
        };
        let members: Vec<(&Forest, usize)> = pooled
            .iter()
            .chain(&support_grown)
            .map(|(f, n)| (f, *n))
            .collect();
        let (evidence, stats) = self.evidence(ids, &members, &local, support);
        let task = task_descriptor(support.y.len() / 2, &evidence[..ids.len()], &stats, None);
        Ok(Adaptation {
            initialisation,
            local,
            pooled: pooled.map(|(f, _)| f),
            support_grown: support_grown.map(|(f, _)| f),
            evidence,
            task,
        })
    }

    /// Checks a support before adaptation: non-empty, both classes present, the model's feature width.
    pub(crate) fn check_support(&self, x: ArrayView2<f64>, y: &[u32]) -> Result<()> {
        if y.is_empty() || x.nrows() == 0 {
            return Err(MetaError::EmptySupport);
        }
        if x.ncols() != self.n_features {
            return Err(MetaError::FeatureMismatch {
                expected: self.n_features,
                got: x.ncols(),
            });
        }
        if x.nrows() != y.len() {
            return Err(MetaError::InvalidParam {
                name: "support",
                reason: format!("{} feature rows but {} labels", x.nrows(), y.len()),
            });
        }
        if !y.contains(&1) {
            return Err(MetaError::OneClassSupport { missing: "attack" });
        }
        if !y.contains(&0) {
            return Err(MetaError::OneClassSupport { missing: "benign" });
        }
        if let Some(bad) = y.iter().find(|&&c| c > 1) {
            return Err(MetaError::InvalidParam {
                name: "support",
                reason: format!("label {bad} is not 0/1"),
            });
        }
        Ok(())
    }

    /// At most [`UNLABELLED_SAMPLE`] of a domain's unlabelled flows, evenly strided (not the first rows: files are
    /// often grouped by class, NF-BoT-IoT-v2 is).
    pub(crate) fn sample_unlabelled(&self, unlabelled: ArrayView2<f64>) -> Result<Array2<f64>> {
        if unlabelled.ncols() != self.n_features {
            return Err(MetaError::FeatureMismatch {
                expected: self.n_features,
                got: unlabelled.ncols(),
            });
        }
        let n = unlabelled.nrows().min(UNLABELLED_SAMPLE);
        let rows: Vec<usize> = (0..n).map(|i| i * unlabelled.nrows() / n).collect();
        Ok(unlabelled.select(Axis(0), &rows))
    }
}
