//! Adaptation: a meta-model plus a K-shot support becomes a [`Detector`], a weighted ensemble of the known forests
//! and a local forest that scores new flows and explains its decisions.

use std::sync::Arc;

use metaforest_forest::Forest;
use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::descriptor::*;
use crate::error::Result;
use crate::init::LocalForestSettings;
use crate::learner::{MetaModel, TaskLearner};
use crate::network::{combine, mixture_weights, MetaLearner, MlpMetaLearner};

/// A detector for one new domain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detector {
    known: Arc<Vec<TaskLearner>>,
    heads: MlpMetaLearner,
    norm: Normalizer,
    local_settings: LocalForestSettings,
    /// The labelled flows adapted on so far (kept so that more labels extend, rather than replace, the support).
    support_x: Array2<f64>,
    support_y: Vec<u32>,
    local: Forest,
    evidence: Vec<ForestEvidence>,
    task: [f32; TASK_WIDTH],
    /// The initialisation the meta-network chose (reported by `explain`).
    pub initialisation: crate::init::Initialisation,
    /// A sample of the domain's unlabelled flows, when supplied: the threshold rule then reads what they say
    /// about the domain's class balance (labelled "uses unlabelled traffic" in reports).
    unlabelled: Option<Array2<f64>>,
    /// Attack-probability threshold for `predict`: ½, or the learned rule's value when unlabelled flows were given.
    pub threshold: f64,
    threshold_rule: crate::threshold::ThresholdRule,
    model_params: crate::learner::MetaParams,
    init_norm: Normalizer,
    feature_norm: Normalizer,
    n_features: usize,
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
    /// Per-flow logit shift applied after weighting (0 while [`crate::network::FLOW_SHIFT_SCALE`] is 0; the
    /// operating point is [`Detector::threshold`]).
    pub shift: f64,
    pub forests: Vec<ForestContribution>,
    /// Features used on the decision paths of the most heavily weighted forest, with the share of its trees' split
    /// steps that test them (highest first).
    pub top_features: Vec<(usize, f64)>,
}

impl MetaModel {
    /// Adapts to a new domain from a labelled support (0 = benign, 1 = attack): describe, one forward pass of the
    /// meta-network, grow the initialised local forest, return the weighted ensemble.
    pub fn adapt(&self, x: ArrayView2<f64>, y: &[u32]) -> Result<Detector> {
        self.adapt_inner(x, y, None)
    }

    /// As [`MetaModel::adapt`], and also reads a sample of the domain's unlabelled flows (at most
    /// [`crate::learner::UNLABELLED_SAMPLE`] are used, evenly strided): the local forest is self-trained on the
    /// flows it is confident about ([`crate::init::self_train`]), and the threshold for the domain's class balance
    /// is set with the learned [`crate::threshold::ThresholdRule`]. [`Detector::adapt_more`] keeps the sample.
    pub fn adapt_with_unlabelled(
        &self,
        x: ArrayView2<f64>,
        y: &[u32],
        unlabelled: ArrayView2<f64>,
    ) -> Result<Detector> {
        if unlabelled.ncols() != self.n_features {
            return Err(crate::error::MetaError::FeatureMismatch {
                expected: self.n_features,
                got: unlabelled.ncols(),
            });
        }
        // An evenly strided sample, not the first rows: files are often grouped by class (NF-BoT-IoT-v2 is).
        let n = unlabelled.nrows().min(crate::learner::UNLABELLED_SAMPLE);
        let rows: Vec<usize> = (0..n).map(|i| i * unlabelled.nrows() / n).collect();
        self.adapt_inner(x, y, Some(unlabelled.select(Axis(0), &rows)))
    }

    fn adapt_inner(
        &self,
        x: ArrayView2<f64>,
        y: &[u32],
        unlabelled: Option<Array2<f64>>,
    ) -> Result<Detector> {
        self.check_support(x, y)?;
        let support = Support { x: x.view(), y };
        let ids: Vec<usize> = (0..self.known.len()).collect();
        let (initialisation, local, evidence, task) = self.analyse(
            &ids,
            support,
            &self.params.local,
            unlabelled.as_ref().map(|u| u.view()),
        )?;
        let mut detector = Detector {
            known: Arc::clone(&self.known),
            heads: self.heads.clone(),
            norm: self.weight_norm.clone(),
            local_settings: self.params.local.clone(),
            support_x: x.to_owned(),
            support_y: y.to_vec(),
            local,
            evidence,
            task,
            initialisation,
            unlabelled,
            threshold: 0.5,
            threshold_rule: self.threshold_rule,
            model_params: self.params.clone(),
            init_norm: self.init_norm.clone(),
            feature_norm: self.feature_norm.clone(),
            n_features: self.n_features,
        };
        detector.set_threshold();
        Ok(detector)
    }
}

impl Detector {
    fn as_model(&self) -> MetaModel {
        MetaModel {
            params: self.model_params.clone(),
            n_features: self.n_features,
            known: Arc::clone(&self.known),
            heads: self.heads.clone(),
            weight_norm: self.norm.clone(),
            init_norm: self.init_norm.clone(),
            feature_norm: self.feature_norm.clone(),
            threshold_rule: self.threshold_rule,
            report: Default::default(),
        }
    }

    /// ½ without unlabelled flows; with them, the learned rule applied to the share of them this detector flags.
    fn set_threshold(&mut self) {
        self.threshold = match &self.unlabelled {
            Some(u) if u.nrows() > 0 => {
                self.threshold_rule
                    .threshold(crate::threshold::ThresholdRule::flagged_share(
                        &self.predict_proba(u.view()),
                    ))
            }
            _ => 0.5,
        };
    }

    fn rebuild(&mut self) -> Result<()> {
        let model = self.as_model();
        let support = Support {
            x: self.support_x.view(),
            y: &self.support_y,
        };
        let ids: Vec<usize> = (0..self.known.len()).collect();
        let (init, local, evidence, task) = model.analyse(
            &ids,
            support,
            &self.local_settings,
            self.unlabelled.as_ref().map(|u| u.view()),
        )?;
        self.initialisation = init;
        self.local = local;
        self.evidence = evidence;
        self.task = task;
        self.set_threshold();
        Ok(())
    }

    /// Adapts again with more labelled flows: the known forests and the meta-network are reused as they are; only
    /// the small local forest and the support evidence are recomputed.
    pub fn adapt_more(&mut self, x: ArrayView2<f64>, y: &[u32]) -> Result<()> {
        let all_x = concatenate(Axis(0), &[self.support_x.view(), x.view()]).map_err(|_| {
            crate::error::MetaError::FeatureMismatch {
                expected: self.n_features,
                got: x.ncols(),
            }
        })?;
        let all_y = [self.support_y.as_slice(), y].concat();
        self.as_model().check_support(all_x.view(), &all_y)?;
        self.support_x = all_x;
        self.support_y = all_y;
        self.rebuild()
    }

    fn forests(&self) -> Vec<&Forest> {
        let mut f: Vec<&Forest> = self.known.iter().map(|t| &t.forest).collect();
        f.push(&self.local);
        f
    }

    /// Names of the forests in weighting order: the known domains, then `local`.
    pub fn forest_names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.known.iter().map(|t| t.name.clone()).collect();
        n.push("local".to_string());
        n
    }

    /// The local forest grown on the support.
    pub fn local_forest(&self) -> &Forest {
        &self.local
    }

    /// The labelled support the detector was adapted on.
    pub fn support(&self) -> (ArrayView2<'_, f64>, &[u32]) {
        (self.support_x.view(), &self.support_y)
    }

    fn outputs(&self, x: ArrayView2<f64>) -> (QueryEvidence, Vec<(f32, f32)>) {
        let mut q = query_evidence(&self.forests(), &self.evidence, &self.task, x);
        self.norm.apply(&mut q.rows);
        let out = self.heads.score_rows(&q.rows);
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
        if self.heads.weight.is_some() {
            combine(&out, &Self::flat_probs(&q), q.n_forests)
        } else {
            q.probs[q.n_forests - 1].clone()
        }
    }

    /// 0/1 decisions at [`Detector::threshold`].
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<u8> {
        self.predict_proba(x)
            .iter()
            .map(|&p| (p >= self.threshold) as u8)
            .collect()
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
        if row.len() != self.n_features {
            return Err(crate::error::MetaError::FeatureMismatch {
                expected: self.n_features,
                got: row.len(),
            });
        }
        let x = ArrayView2::from_shape((1, row.len()), row).expect("row shape");
        let (q, out) = self.outputs(x);
        let nf = q.n_forests;
        let e: Vec<f64> = if self.heads.weight.is_some() {
            mixture_weights(&out)
        } else {
            (0..nf).map(|f| (f == nf - 1) as u8 as f64).collect()
        };
        let z: f64 = e.iter().sum();
        let names = self.forest_names();
        let forests: Vec<ForestContribution> = (0..nf)
            .map(|f| ForestContribution {
                forest: names[f].clone(),
                weight: e[f] / z,
                attack_probability: q.probs[f][0],
            })
            .collect();
        let score = self.predict_proba(x)[0];
        let shift = crate::network::FLOW_SHIFT_SCALE as f64
            * out.iter().map(|o| o.1 as f64).sum::<f64>()
            / nf as f64;
        let top = forests
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.weight.total_cmp(&b.1.weight))
            .map(|(i, _)| i)
            .unwrap_or(nf - 1);
        let mut counts = vec![0.0; self.n_features];
        let mut steps = 0.0;
        for path in self.forests()[top].decision_path(row)? {
            for step in path.steps {
                counts[step.feature] += 1.0;
                steps += 1.0;
            }
        }
        let mut top_features: Vec<(usize, f64)> = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0.0)
            .map(|(j, &c)| (j, c / steps))
            .collect();
        top_features.sort_by(|a, b| b.1.total_cmp(&a.1));
        top_features.truncate(8);
        Ok(Explanation {
            score,
            attack: score >= self.threshold,
            shift,
            forests,
            top_features,
        })
    }
}

/// EM estimate of the positive-class prior of unlabelled data (Saerens, Latinne & Decaestecker 2002), given
/// probabilities calibrated for a training prior `train_prior`.
pub fn em_prior(probs: &[f64], train_prior: f64) -> f64 {
    if probs.is_empty() {
        return train_prior;
    }
    let mut pi = train_prior;
    for _ in 0..200 {
        let ratio_a = pi / train_prior;
        let ratio_b = (1.0 - pi) / (1.0 - train_prior);
        let next = probs
            .iter()
            .map(|&p| {
                let a = p * ratio_a;
                let b = (1.0 - p) * ratio_b;
                if a + b > 0.0 {
                    a / (a + b)
                } else {
                    0.5
                }
            })
            .sum::<f64>()
            / probs.len() as f64;
        let done = (next - pi).abs() < 1e-7;
        pi = next.clamp(1e-4, 1.0 - 1e-4);
        if done {
            break;
        }
    }
    pi
}
