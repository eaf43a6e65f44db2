//! The trained meta-model: what adaptation needs ([`crate::adapt`]) and a summary of its training.

use std::sync::Arc;

use ndarray::ArrayView2;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::adapt::{Adapter, TaskLearner};
use crate::coverage::CoverageState;
use crate::descriptor::Normalizer;
use crate::detector::Detector;
use crate::error::Result;
use crate::network::{fixed_local_share, MlpMetaLearner};
use crate::params::{Heads, ValidMetaParams};
use crate::pooled::PooledSample;
use crate::space::FeatureSpace;
use crate::threshold::ThresholdRule;

/// A trained meta-model: the known domains' forests, the heads, and the input normalisation (fitted on
/// meta-training episodes only). Built by [`MetaModel::fit`]; adapted to a new domain by [`MetaModel::adapt`].
#[derive(Clone, Debug)]
pub struct MetaModel {
    pub(crate) adapter: Arc<Adapter>,
    pub(crate) report: TrainReport,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainReport {
    pub episodes_train: usize,
    pub episodes_val: usize,
    pub weight_val_loss: f64,
    /// Whether the configuration and prior heads beat the plain local forest on the validation domain (else off).
    pub config_head_kept: bool,
    pub prior_head_kept: bool,
    /// Epochs of the weighting head chosen on the validation domain (0: not trained, fixed weights kept).
    pub weight_epochs: usize,
    /// Validation query loss of an untrained head (equal head outputs: the local forest's anchored 95 % weight),
    /// for comparison.
    pub equal_weight_val_loss: f64,
    /// The weighting head was kept untrained (no epoch beat the anchored weights on a held-out known domain): the
    /// detector then weighs its forests with fixed weights, the local forest at [`Self::fixed_local_share`].
    pub weight_head_anchored: bool,
    /// With the weighting head not trained, the local forest's share of the weight, chosen on the known domains
    /// (the rest is split equally among the other members). Not a field of model files: a loaded model reads it
    /// off its head ([`crate::network::fixed_local_share`]).
    #[serde(skip)]
    pub fixed_local_share: f64,
    /// Other sources the weighting head also learned from ([`crate::learner::ExtraSource`]) and how many of their
    /// episodes it used. Not written to model files (a loaded model's report has none).
    #[serde(skip)]
    pub extra_sources: Vec<(String, usize)>,
}

impl TrainReport {
    /// What meta-training learned and what it left untrained, in plain words, for training summaries and reports;
    /// `heads` are the heads the parameters asked for.
    pub fn summary(&self, heads: Heads) -> String {
        let weighting = match (heads.weights(), self.weight_head_anchored) {
            (false, _) => "no weighting head (switched off): the local forest alone".to_string(),
            (true, true) => format!(
                "weighting head NOT learned (no training length beat the fixed weights on a held-out known \
                 domain): fixed weights, the local forest {:.0} % (chosen on the known domains), the other \
                 members equal parts of the rest",
                100.0 * self.fixed_local_share
            ),
            (true, false) => format!("weighting head learned ({} epochs)", self.weight_epochs),
        };
        let weighting = if self.extra_sources.is_empty() {
            weighting
        } else {
            let sources: Vec<String> = self
                .extra_sources
                .iter()
                .map(|(name, n)| format!("{name} {n}"))
                .collect();
            format!(
                "{weighting}, with other sources' episodes ({})",
                sources.join(", ")
            )
        };
        if !heads.init() {
            return weighting;
        }
        let kept = |on: bool| if on { "learned" } else { "NOT learned (plain)" };
        format!(
            "{weighting}; local-forest configuration {}, feature prior {}",
            kept(self.config_head_kept),
            kept(self.prior_head_kept)
        )
    }
}

impl MetaModel {
    /// The validated parameters it was meta-trained with.
    pub fn params(&self) -> &ValidMetaParams {
        &self.adapter.params
    }
    /// Feature width of the flows it reads.
    pub fn n_features(&self) -> usize {
        self.adapter.n_features
    }
    /// The known domains' forests, in training order.
    pub fn known(&self) -> &[TaskLearner] {
        &self.adapter.known
    }
    /// The trained heads.
    pub fn heads(&self) -> &MlpMetaLearner {
        &self.adapter.heads
    }
    /// Threshold from the share of a domain's unlabelled flows the detector flags (used only when they are given).
    pub fn threshold_rule(&self) -> ThresholdRule {
        self.adapter.threshold_rule
    }
    /// The columns it reads and where its training data came from.
    pub fn feature_space(&self) -> &FeatureSpace {
        &self.adapter.space
    }

    /// The same model reading the columns of `space` (names and categorical dictionaries, saved with the model
    /// and every detector adapted from it). Fails when `space` is not as wide as the model's features.
    pub fn with_feature_space(self, space: FeatureSpace) -> Result<Self> {
        if space.width() != self.adapter.n_features {
            return Err(crate::MetaError::FeatureMismatch {
                expected: self.adapter.n_features,
                got: space.width(),
            });
        }
        let mut adapter = Arc::unwrap_or_clone(self.adapter);
        adapter.space = space;
        Ok(Self {
            adapter: Arc::new(adapter),
            report: self.report,
        })
    }

    /// Training summary: episodes used and the final validation losses.
    pub fn report(&self) -> &TrainReport {
        &self.report
    }

    /// Adapts to a new domain from a labelled support (0 = benign, 1 = attack): describe, one forward pass of the
    /// meta-network, grow the initialised local forest, return the weighted ensemble.
    pub fn adapt(&self, x: ArrayView2<f64>, y: &[u32]) -> Result<Detector> {
        Detector::adapt(Arc::clone(&self.adapter), x, y, None)
    }

    /// As [`MetaModel::adapt`], and also reads a sample of the domain's unlabelled flows (at most
    /// [`crate::adapt::UNLABELLED_SAMPLE`] are used, evenly strided): the local forest is self-trained on the
    /// flows it is confident about ([`crate::init::self_train`]), and the threshold for the domain's class balance
    /// is set with the learned [`crate::threshold::ThresholdRule`]. [`Detector::adapt_more`] keeps the sample.
    pub fn adapt_with_unlabelled(
        &self,
        x: ArrayView2<f64>,
        y: &[u32],
        unlabelled: ArrayView2<f64>,
    ) -> Result<Detector> {
        let sample = self.adapter.sample_unlabelled(unlabelled)?;
        Detector::adapt(Arc::clone(&self.adapter), x, y, Some(sample))
    }

    /// Checks a support before adaptation: non-empty, both classes present, the model's feature width.
    pub fn check_support(&self, x: ArrayView2<f64>, y: &[u32]) -> Result<()> {
        self.adapter.check_support(x, y)
    }
}

/// The serialised layout of a meta-model (format version 3: version 2's fields, then the feature space).
#[derive(Serialize)]
struct MetaModelRef<'a> {
    params: &'a ValidMetaParams,
    n_features: usize,
    known: &'a [TaskLearner],
    heads: &'a MlpMetaLearner,
    weight_norm: &'a Normalizer,
    init_norm: &'a Normalizer,
    feature_norm: &'a Normalizer,
    threshold_rule: ThresholdRule,
    report: &'a TrainReport,
    space: &'a FeatureSpace,
    pooled: &'a Option<PooledSample>,
}

#[derive(Deserialize)]
struct MetaModelOwned {
    params: ValidMetaParams,
    n_features: usize,
    known: Vec<TaskLearner>,
    heads: MlpMetaLearner,
    weight_norm: Normalizer,
    init_norm: Normalizer,
    feature_norm: Normalizer,
    threshold_rule: ThresholdRule,
    report: TrainReport,
    space: FeatureSpace,
    pooled: Option<PooledSample>,
}

impl MetaModel {
    /// Serialises with `heads` in place of the model's own (the model file stores them as safetensors).
    pub(crate) fn serialize_with_heads<S: Serializer>(
        &self,
        heads: &MlpMetaLearner,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let a = &self.adapter;
        MetaModelRef {
            params: &a.params,
            n_features: a.n_features,
            known: &a.known,
            heads,
            weight_norm: &a.weight_norm,
            init_norm: &a.init_norm,
            feature_norm: &a.feature_norm,
            threshold_rule: a.threshold_rule,
            report: &self.report,
            space: &a.space,
            pooled: &a.pooled,
        }
        .serialize(s)
    }

    /// The same model with the coverage state read from its file (the setting is on exactly when there is one).
    pub(crate) fn with_coverage(self, coverage: Option<CoverageState>) -> Self {
        let mut adapter = Arc::unwrap_or_clone(self.adapter);
        let gate = coverage.as_ref().map_or_else(Default::default, |c| c.gate);
        adapter.params.set_coverage(coverage.is_some(), gate);
        adapter.coverage = coverage;
        Self {
            adapter: Arc::new(adapter),
            report: self.report,
        }
    }

    /// The coverage setting's outcome, when the model was trained with it ([`crate::MetaParams::coverage_shift`]).
    pub fn coverage(&self) -> Option<&CoverageState> {
        self.adapter.coverage.as_ref()
    }

    /// The same model with other heads (the model file reads them from safetensors).
    pub(crate) fn with_heads(self, heads: MlpMetaLearner) -> Self {
        let mut adapter = Arc::unwrap_or_clone(self.adapter);
        adapter.heads = heads;
        Self::of(adapter, self.report)
    }

    /// A model of `adapter`, its report's fixed local share read off the weighting head.
    fn of(adapter: Adapter, mut report: TrainReport) -> Self {
        if report.weight_head_anchored {
            if let Some(head) = &adapter.heads.weight {
                report.fixed_local_share = fixed_local_share(head, &adapter.weight_norm);
            }
        }
        Self {
            adapter: Arc::new(adapter),
            report,
        }
    }
}

impl Serialize for MetaModel {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.serialize_with_heads(&self.adapter.heads, s)
    }
}

impl<'de> Deserialize<'de> for MetaModel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let m = MetaModelOwned::deserialize(d)?;
        Ok(Self::of(
            Adapter {
                params: m.params,
                n_features: m.n_features,
                known: m.known,
                heads: m.heads,
                weight_norm: m.weight_norm,
                init_norm: m.init_norm,
                feature_norm: m.feature_norm,
                threshold_rule: m.threshold_rule,
                space: m.space,
                pooled: m.pooled,
                // Stored after the body, and only when the setting was on (`io`: format version 5).
                coverage: None,
            },
            m.report,
        ))
    }
}
