//! A detector for one new domain: a weighted ensemble of the known forests and a local forest that scores new flows
//! and explains its decisions. It is built by adaptation ([`crate::adapt`]) and shares its meta-model's
//! `Adapter`.

use std::sync::Arc;

use metaforest_forest::Forest;
use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::adapt::{Adapter, TaskLearner};
use crate::coverage::{coverage_features, CoverageShift, CoverageState};
use crate::descriptor::{
    query_evidence, ForestEvidence, Normalizer, QueryEvidence, Support, TASK_WIDTH,
};
use crate::error::{MetaError, Result};
use crate::init::{Initialisation, LocalForestSettings};
use crate::network::{combine, mixture_weights, MetaLearner, MlpMetaLearner};
use crate::params::ValidMetaParams;
use crate::pooled::PooledSample;
use crate::space::FeatureSpace;
use crate::threshold::{ThresholdBasis, ThresholdRule};
use crate::validate::{self, Check};

/// A detector for one new domain.
#[derive(Clone, Debug)]
pub struct Detector {
    adapter: Arc<Adapter>,
    local_settings: LocalForestSettings,
    /// The labelled flows adapted on so far (kept so that more labels extend, rather than replace, the support).
    support_x: Array2<f64>,
    support_y: Vec<u32>,
    local: Forest,
    /// The pooled member (known domains' sample plus the support), when the meta-model has one.
    pooled: Option<Forest>,
    /// The support-grown member beside the self-trained local forest (unlabelled flows given, and the meta-model
    /// has [`crate::MetaParams::self_trained_member`]; never saved).
    support_grown: Option<Forest>,
    evidence: Vec<ForestEvidence>,
    task: [f32; TASK_WIDTH],
    /// The initialisation the meta-network chose (reported by `explain`).
    initialisation: Initialisation,
    /// A sample of the domain's unlabelled flows, when supplied: the threshold rule then reads what they say
    /// about the domain's class balance (labelled "uses unlabelled traffic" in reports).
    unlabelled: Option<Array2<f64>>,
    /// Attack-probability threshold for `predict`: ½, or the learned rule's value when unlabelled flows were given.
    threshold: f64,
    /// How `threshold` was chosen.
    threshold_basis: ThresholdBasis,
}

/// One forest's part in a decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForestContribution {
    pub forest: String,
    pub weight: f64,
    pub attack_probability: f64,
}

/// Why a flow got its score.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Explanation {
    pub score: f64,
    pub attack: bool,
    pub forests: Vec<ForestContribution>,
    /// Features used on the decision paths of the most heavily weighted forest, with the share of its trees' split
    /// steps that test them (highest first).
    pub top_features: Vec<(usize, f64)>,
}

impl Detector {
    /// Adapts `adapter` to a labelled support (and a sample of the domain's unlabelled flows, when given).
    pub(crate) fn adapt(
        adapter: Arc<Adapter>,
        x: ArrayView2<f64>,
        y: &[u32],
        unlabelled: Option<Array2<f64>>,
    ) -> Result<Self> {
        adapter.check_support(x, y)?;
        let local_settings = adapter.params.local().clone();
        let a = adapter.analyse(
            &adapter.all_known(),
            Support { x: x.view(), y },
            &local_settings,
            unlabelled.as_ref().map(|u| u.view()),
        )?;
        let mut detector = Detector {
            adapter,
            local_settings,
            support_x: x.to_owned(),
            support_y: y.to_vec(),
            local: a.local,
            pooled: a.pooled,
            support_grown: a.support_grown,
            evidence: a.evidence,
            task: a.task,
            initialisation: a.initialisation,
            unlabelled,
            threshold: 0.5,
            threshold_basis: ThresholdBasis::Default,
        };
        detector.apply_threshold_rule();
        Ok(detector)
    }

    /// ½ without unlabelled flows; with them, the learned rule applied to the share of them this detector flags.
    fn apply_threshold_rule(&mut self) {
        (self.threshold, self.threshold_basis) = match &self.unlabelled {
            Some(u) if u.nrows() > 0 => {
                let rule = self.adapter.threshold_rule;
                // Scoring the sample is most of `adapt_with_unlabelled`'s cost after self-training; a rule that
                // ignores the flagged share does not need it (and gives the same threshold bit for bit).
                let flagged = if rule.reads_flagged_share() {
                    ThresholdRule::flagged_share(&self.predict_proba(u.view()))
                } else {
                    0.5
                };
                (rule.threshold(flagged), ThresholdBasis::LearnedRule)
            }
            _ => (0.5, ThresholdBasis::Default),
        };
    }

    /// A new detector adapted from the same meta-model on another labelled support, with this one's unlabelled
    /// flows.
    pub(crate) fn adapt_fresh(&self, x: ArrayView2<f64>, y: &[u32]) -> Result<Self> {
        Detector::adapt(Arc::clone(&self.adapter), x, y, self.unlabelled.clone())
    }

    fn rebuild(&mut self) -> Result<()> {
        let support = Support {
            x: self.support_x.view(),
            y: &self.support_y,
        };
        let a = self.adapter.analyse(
            &self.adapter.all_known(),
            support,
            &self.local_settings,
            self.unlabelled.as_ref().map(|u| u.view()),
        )?;
        self.initialisation = a.initialisation;
        self.local = a.local;
        self.pooled = a.pooled;
        self.support_grown = a.support_grown;
        self.evidence = a.evidence;
        self.task = a.task;
        self.apply_threshold_rule();
        Ok(())
    }

    /// Adapts again with more labelled flows: the known forests and the meta-network are reused as they are; only
    /// the small local forest and the support evidence are recomputed.
    pub fn adapt_more(&mut self, x: ArrayView2<f64>, y: &[u32]) -> Result<()> {
        let all_x = concatenate(Axis(0), &[self.support_x.view(), x.view()]).map_err(|_| {
            MetaError::FeatureMismatch {
                expected: self.adapter.n_features,
                got: x.ncols(),
            }
        })?;
        let all_y = [self.support_y.as_slice(), y].concat();
        self.adapter.check_support(all_x.view(), &all_y)?;
        self.support_x = all_x;
        self.support_y = all_y;
        self.rebuild()
    }

    /// Attack-probability threshold of [`Detector::predict`]: ½, or the learned rule's value when unlabelled flows
    /// were given.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// How [`Detector::threshold`] was chosen.
    pub fn threshold_basis(&self) -> ThresholdBasis {
        self.threshold_basis
    }

    /// Sets the operating point by hand (see [`Detector::calibrate_far`] for a false-alarm budget).
    pub fn set_threshold(&mut self, threshold: f64) {
        self.set_threshold_with_basis(threshold, ThresholdBasis::Set);
    }

    pub(crate) fn set_threshold_with_basis(&mut self, threshold: f64, basis: ThresholdBasis) {
        self.threshold = threshold;
        self.threshold_basis = basis;
    }

    /// The initialisation the meta-network chose for the local forest.
    pub fn initialisation(&self) -> &Initialisation {
        &self.initialisation
    }

    /// The known domains' forests, in weighting order.
    pub fn known(&self) -> &[TaskLearner] {
        &self.adapter.known
    }

    /// The known forest `i` (in weighting order), e.g. to read rules from it.
    pub fn known_forest(&self, i: usize) -> Option<&Forest> {
        self.adapter.known.get(i).map(|t| &t.forest)
    }

    /// The known forests, in weighting order.
    pub fn known_forests(&self) -> Vec<&Forest> {
        self.adapter.known.iter().map(|t| &t.forest).collect()
    }

    /// Feature width of the flows it reads.
    pub fn n_features(&self) -> usize {
        self.adapter.n_features
    }

    /// The columns it reads and where its meta-model's training data came from.
    pub fn feature_space(&self) -> &FeatureSpace {
        &self.adapter.space
    }

    fn forests(&self) -> Vec<&Forest> {
        crate::adapt::in_weighting_order(
            self.adapter.known.iter().map(|t| &t.forest).collect(),
            self.pooled.as_ref(),
            self.support_grown.as_ref(),
            &self.local,
        )
    }

    /// Names of the forests in weighting order: the known domains, `pooled` and `support-grown` (when the
    /// detector has those members), then `local`.
    pub fn forest_names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.adapter.known.iter().map(|t| t.name.clone()).collect();
        if self.pooled.is_some() {
            n.push("pooled".to_string());
        }
        if self.support_grown.is_some() {
            n.push("support-grown".to_string());
        }
        n.push("local".to_string());
        n
    }

    /// The local forest grown on the support.
    pub fn local_forest(&self) -> &Forest {
        &self.local
    }

    /// The support-grown member, when the local forest is self-trained and the meta-model keeps the support-grown
    /// forest beside it ([`crate::MetaParams::self_trained_member`]).
    pub fn support_grown_forest(&self) -> Option<&Forest> {
        self.support_grown.as_ref()
    }

    /// The labelled support the detector was adapted on.
    pub fn support(&self) -> (ArrayView2<'_, f64>, &[u32]) {
        (self.support_x.view(), &self.support_y)
    }

    fn outputs(&self, x: ArrayView2<f64>) -> (QueryEvidence, Vec<(f32, f32)>) {
        let mut q = query_evidence(&self.forests(), &self.evidence, &self.task, x);
        self.adapter.weight_norm.apply(&mut q.rows);
        let out = self.adapter.heads.score_rows(&q.rows);
        (q, out)
    }

    fn flat_probs(q: &QueryEvidence) -> Vec<f32> {
        let n = q.probs.first().map_or(0, |p| p.len());
        (0..n)
            .flat_map(|r| q.probs.iter().map(move |p| p[r] as f32))
            .collect()
    }

    /// Attack probability of each flow.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Vec<f64> {
        if x.nrows() == 0 {
            return vec![];
        }
        let (q, out) = self.outputs(x);
        self.scores(x, &q, &out)
    }

    /// Each flow's attack probability from its evidence and the head's outputs: the weighted forests, shifted by
    /// coverage when the model learned that shift.
    fn scores(&self, x: ArrayView2<f64>, q: &QueryEvidence, out: &[(f32, f32)]) -> Vec<f64> {
        let p = if self.adapter.heads.weight.is_some() {
            combine(out, &Self::flat_probs(q), q.n_forests)
        } else {
            q.probs[q.n_forests - 1].clone()
        };
        match self.adapter.coverage_shift() {
            Some(shift) => self.shift_by_coverage(shift, x, p),
            None => p,
        }
    }

    /// `p` shifted by each flow's coverage (how far it lies from the nearest benign and attack support flow).
    fn shift_by_coverage(
        &self,
        shift: &CoverageShift,
        x: ArrayView2<f64>,
        p: Vec<f64>,
    ) -> Vec<f64> {
        let (sx, sy) = self.support();
        let cov = self
            .adapter
            .support_coverage(&self.adapter.all_known(), Support { x: sx, y: sy });
        let phi = coverage_features(&cov, x, &p);
        p.iter()
            .zip(&phi)
            .map(|(&p, phi)| shift.apply(p, phi))
            .collect()
    }

    /// 0/1 decisions at [`Detector::threshold`].
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<u8> {
        self.predict_proba(x)
            .iter()
            .map(|&p| (p >= self.threshold) as u8)
            .collect()
    }

    /// The sample of the domain's unlabelled flows it was adapted with, if any.
    pub fn unlabelled(&self) -> Option<ArrayView2<'_, f64>> {
        self.unlabelled.as_ref().map(|u| u.view())
    }

    /// Whether the detector reads unlabelled flows of its domain (reports label such results separately).
    pub fn uses_unlabelled(&self) -> bool {
        self.unlabelled.is_some()
    }

    /// Per-task weight of each forest: the mean of its per-flow weights over the support flows.
    pub fn task_weights(&self) -> Vec<f64> {
        let (q, out) = self.outputs(self.support_x.view());
        let nf = q.n_forests;
        let mut w = vec![0.0; nf];
        for chunk in out.chunks(nf) {
            w.iter_mut()
                .zip(mixture_weights(chunk))
                .for_each(|(w, e)| *w += e);
        }
        let n = (out.len() / nf).max(1) as f64;
        w.iter().map(|v| v / n).collect()
    }

    /// Which forests and features drove the decision on one flow.
    pub fn explain(&self, row: &[f64]) -> Result<Explanation> {
        let x = ArrayView2::from_shape((1, row.len()), row).map_err(|_| {
            MetaError::FeatureMismatch {
                expected: self.adapter.n_features,
                got: row.len(),
            }
        })?;
        Ok(self.explain_rows(x)?.remove(0))
    }

    /// [`explain`](Self::explain) for every flow of `x`, from one pass over them (the scores are
    /// [`predict_proba`](Self::predict_proba)'s).
    pub fn explain_rows(&self, x: ArrayView2<f64>) -> Result<Vec<Explanation>> {
        if x.ncols() != self.adapter.n_features {
            return Err(MetaError::FeatureMismatch {
                expected: self.adapter.n_features,
                got: x.ncols(),
            });
        }
        if x.nrows() == 0 {
            return Ok(Vec::new());
        }
        let (q, out) = self.outputs(x);
        let nf = q.n_forests;
        let learned = self.adapter.heads.weight.is_some();
        let scores = self.scores(x, &q, &out);
        let names = self.forest_names();
        let all = self.forests();
        let mut explained = Vec::with_capacity(x.nrows());
        for (r, score) in scores.into_iter().enumerate() {
            let e: Vec<f64> = if learned {
                mixture_weights(&out[r * nf..(r + 1) * nf])
            } else {
                (0..nf).map(|f| (f == nf - 1) as u8 as f64).collect()
            };
            let z: f64 = e.iter().sum();
            let forests: Vec<ForestContribution> = (0..nf)
                .map(|f| ForestContribution {
                    forest: names[f].clone(),
                    weight: e[f] / z,
                    attack_probability: q.probs[f][r],
                })
                .collect();
            let top = forests
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.weight.total_cmp(&b.1.weight))
                .map(|(i, _)| i)
                .unwrap_or(nf - 1);
            let leaves = q.leaves[top].row(r);
            let leaves = leaves.as_slice().expect("leaves are row-major");
            let counts = all[top].leaf_path_feature_counts(leaves)?;
            let steps = f64::from(counts.iter().sum::<u32>());
            let mut top_features: Vec<(usize, f64)> = counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(j, &c)| (j, f64::from(c) / steps))
                .collect();
            top_features.sort_by(|a, b| b.1.total_cmp(&a.1));
            top_features.truncate(8);
            explained.push(Explanation {
                score,
                attack: score >= self.threshold,
                forests,
                top_features,
            });
        }
        Ok(explained)
    }
}

impl Detector {
    pub(crate) fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    /// The same detector with the coverage state read from its file (the setting is on exactly when there is one).
    pub(crate) fn with_coverage(mut self, coverage: Option<CoverageState>) -> Self {
        let mut adapter = Arc::unwrap_or_clone(self.adapter);
        let gate = coverage.as_ref().map_or_else(Default::default, |c| c.gate);
        adapter.params.set_coverage(coverage.is_some(), gate);
        adapter.coverage = coverage;
        self.adapter = Arc::new(adapter);
        self
    }

    /// Checks a decoded detector before use (see [`crate::validate`]).
    pub(crate) fn validate(&self) -> Check {
        let a = &self.adapter;
        validate::adapter(a)?;
        validate::local_settings(&self.local_settings)?;
        validate::forest("local", &self.local, a.n_features)?;
        if let Some(p) = &self.pooled {
            validate::forest("pooled", p, a.n_features)?;
        }
        if self.pooled.is_some() != a.pooled.is_some() {
            return Err("pooled member and the model's pooled sample do not go together".into());
        }
        let n = self.support_y.len();
        if n == 0 || self.support_x.nrows() != n || self.support_x.ncols() != a.n_features {
            return Err(format!(
                "support of {}×{} features and {n} labels, expected {} features per flow",
                self.support_x.nrows(),
                self.support_x.ncols(),
                a.n_features
            ));
        }
        a.check_support(self.support_x.view(), &self.support_y)
            .map_err(|e| format!("support: {e}"))?;
        let forests = self.forests();
        if self.evidence.len() != forests.len() {
            return Err(format!(
                "evidence for {} forests, the detector has {}",
                self.evidence.len(),
                forests.len()
            ));
        }
        for (e, f) in self.evidence.iter().zip(&forests) {
            if e.occupancy.n_trees() != f.n_trees() || e.support_probs.len() != n {
                return Err("forest evidence does not match its forest or the support".into());
            }
        }
        let init = &self.initialisation;
        if !(init.config_probs.is_empty() || init.config_probs.len() == crate::init::N_CONFIGS)
            || init
                .feature_prior
                .as_ref()
                .is_some_and(|p| p.len() != a.n_features)
            || init.donor.is_some_and(|d| d >= a.known.len())
        {
            return Err("initialisation does not match the model".into());
        }
        if let Some(u) = &self.unlabelled {
            if u.ncols() != a.n_features {
                return Err(format!(
                    "unlabelled flows have {} features, expected {}",
                    u.ncols(),
                    a.n_features
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(format!("threshold {} is not in [0, 1]", self.threshold));
        }
        validate::threshold_basis(self.threshold, &self.threshold_basis)
    }
}

/// The serialised layout of a detector (format version 3: version 2's fields, then the feature space and the threshold's basis).
#[derive(Serialize)]
struct DetectorRef<'a> {
    known: &'a [TaskLearner],
    heads: &'a MlpMetaLearner,
    norm: &'a Normalizer,
    local_settings: &'a LocalForestSettings,
    support_x: &'a Array2<f64>,
    support_y: &'a [u32],
    local: &'a Forest,
    evidence: &'a [ForestEvidence],
    task: &'a [f32; TASK_WIDTH],
    initialisation: &'a Initialisation,
    unlabelled: &'a Option<Array2<f64>>,
    threshold: f64,
    threshold_rule: ThresholdRule,
    model_params: &'a ValidMetaParams,
    init_norm: &'a Normalizer,
    feature_norm: &'a Normalizer,
    n_features: usize,
    space: &'a FeatureSpace,
    threshold_basis: ThresholdBasis,
    pooled_sample: &'a Option<PooledSample>,
    pooled: &'a Option<Forest>,
}

#[derive(Deserialize)]
struct DetectorOwned {
    known: Vec<TaskLearner>,
    heads: MlpMetaLearner,
    norm: Normalizer,
    local_settings: LocalForestSettings,
    support_x: Array2<f64>,
    support_y: Vec<u32>,
    local: Forest,
    evidence: Vec<ForestEvidence>,
    task: [f32; TASK_WIDTH],
    initialisation: Initialisation,
    unlabelled: Option<Array2<f64>>,
    threshold: f64,
    threshold_rule: ThresholdRule,
    model_params: ValidMetaParams,
    init_norm: Normalizer,
    feature_norm: Normalizer,
    n_features: usize,
    space: FeatureSpace,
    threshold_basis: ThresholdBasis,
    pooled_sample: Option<PooledSample>,
    pooled: Option<Forest>,
}

impl Serialize for Detector {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let a = &self.adapter;
        DetectorRef {
            known: &a.known,
            heads: &a.heads,
            norm: &a.weight_norm,
            local_settings: &self.local_settings,
            support_x: &self.support_x,
            support_y: &self.support_y,
            local: &self.local,
            evidence: &self.evidence,
            task: &self.task,
            initialisation: &self.initialisation,
            unlabelled: &self.unlabelled,
            threshold: self.threshold,
            threshold_rule: a.threshold_rule,
            model_params: &a.params,
            init_norm: &a.init_norm,
            feature_norm: &a.feature_norm,
            n_features: a.n_features,
            space: &a.space,
            threshold_basis: self.threshold_basis,
            pooled_sample: &a.pooled,
            pooled: &self.pooled,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Detector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let f = DetectorOwned::deserialize(d)?;
        Ok(Self {
            adapter: Arc::new(Adapter {
                params: f.model_params,
                n_features: f.n_features,
                known: f.known,
                heads: f.heads,
                weight_norm: f.norm,
                init_norm: f.init_norm,
                feature_norm: f.feature_norm,
                threshold_rule: f.threshold_rule,
                space: f.space,
                pooled: f.pooled_sample,
                // Stored after the detector, and only when the setting was on (`io`: format version 5).
                coverage: None,
            }),
            local_settings: f.local_settings,
            support_x: f.support_x,
            support_y: f.support_y,
            local: f.local,
            pooled: f.pooled,
            support_grown: None,
            evidence: f.evidence,
            task: f.task,
            initialisation: f.initialisation,
            unlabelled: f.unlabelled,
            threshold: f.threshold,
            threshold_basis: f.threshold_basis,
        })
    }
}
