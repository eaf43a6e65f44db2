//! Task learners and episodic meta-training.
//!
//! Meta-training is first-order: forests are constants to the network. Every episode picks one known domain as a
//! pseudo-target (the whole "benign vs attack" task or one "benign vs attack class" task inside it), draws a K-shot
//! support and a query with the domain's natural class balance, and uses only the *other* known domains' forests.
//! Episodes are independent, so they are computed in parallel (each seeded by its index) and cached; the heads are
//! then trained on the cache.

use std::sync::Arc;

use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use linfa::ParamGuard;
use metaforest_forest::{Forest, ForestParams};
use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::descriptor::*;
use crate::error::{MetaError, Result};
use crate::init::*;
use crate::network::*;

/// One known domain's rows: features, 0/1 targets and the attack-class code of each row (0 = benign).
#[derive(Clone, Debug)]
pub struct DomainData {
    pub name: String,
    pub x: Array2<f64>,
    pub y: Vec<u32>,
    pub class: Vec<u16>,
}

impl DomainData {
    /// Copies a domain's rows out of a flow table. Class code 0 is reserved for benign rows.
    pub fn from_table(table: &metaforest_flows::FlowTable, name: &str, rows: &[usize]) -> Self {
        let x = table.features().select(Axis(0), rows);
        let labels = table.labels();
        let classes = table.class_codes();
        let y = rows.iter().map(|&r| labels[r] as u32).collect();
        // Benign rows share one class; attack classes keep their table code shifted by one.
        let class = rows
            .iter()
            .map(|&r| if labels[r] == 0 { 0 } else { classes[r] + 1 })
            .collect();
        Self {
            name: name.to_string(),
            x,
            y,
            class,
        }
    }
}

/// A forest trained on all of one known domain, with the facts its descriptors need.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskLearner {
    pub name: String,
    pub forest: Forest,
    pub facts: ForestFacts,
}

/// Trains one forest per domain, in parallel; each forest's seed derives from the base seed and its index, so the
/// result is the same at any thread count.
pub fn train_task_learners(
    domains: &[DomainData],
    n_trees: usize,
    seed: u64,
) -> Result<Vec<TaskLearner>> {
    domains
        .par_iter()
        .enumerate()
        .map(|(i, d)| {
            let p = ForestParams::new()
                .n_trees(n_trees)
                .seed(mix(seed, i as u64))
                .n_classes(Some(2))
                .check()?;
            let forest = p.fit(d.x.view(), &d.y)?;
            let facts = ForestFacts::of(&forest, d.y.len());
            Ok(TaskLearner {
                name: d.name.clone(),
                forest,
                facts,
            })
        })
        .collect()
}

/// SplitMix64 of (seed, index): independent, reproducible streams per episode / forest.
pub fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Which halves of the meta-learner are active (the ablation switch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Heads {
    /// Learned weights + threshold shift over known forests and a learned local-forest initialisation.
    Both,
    /// Learned weights + threshold shift over known forests and a plain local forest.
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

/// Meta-training parameters (builder; validated by [`MetaParams::check`] before any work starts).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetaParams {
    pub n_episodes: usize,
    pub ks: Vec<usize>,
    pub query_size: usize,
    pub task_learner_trees: usize,
    pub local: LocalForestSettings,
    pub schedule: TrainSchedule,
    pub val_fraction: f64,
    /// Share of episodes drawn as "benign vs one attack class" tasks (the rest are "benign vs every attack").
    pub class_task_share: f64,
    pub heads: Heads,
    pub seed: u64,
    pub progress: bool,
}

impl Default for MetaParams {
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
            heads: Heads::Both,
            seed: 0,
            progress: false,
        }
    }
}

macro_rules! setter {
    ($name:ident, $ty:ty) => {
        pub fn $name(mut self, v: $ty) -> Self {
            self.$name = v;
            self
        }
    };
}

impl MetaParams {
    setter!(n_episodes, usize);
    setter!(ks, Vec<usize>);
    setter!(query_size, usize);
    setter!(task_learner_trees, usize);
    setter!(val_fraction, f64);
    setter!(class_task_share, f64);
    setter!(heads, Heads);
    setter!(progress, bool);
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.schedule.seed = seed;
        self.local.seed = seed;
        self
    }
    pub fn local_trees(mut self, n: usize) -> Self {
        self.local.n_trees = n;
        self
    }
    pub fn max_epochs(mut self, n: usize) -> Self {
        self.schedule.max_epochs = n;
        self
    }

    /// Rejects values that would fail (or silently degrade) later, before any forest is trained.
    pub fn check(&self) -> Result<&Self> {
        let bad = |name, reason: &str| {
            Err(MetaError::InvalidParam {
                name,
                reason: reason.to_string(),
            })
        };
        if self.n_episodes < 10 {
            return bad(
                "n_episodes",
                "need at least 10 episodes (some are held out for early stopping)",
            );
        }
        if self.ks.is_empty() || self.ks.contains(&0) {
            return bad("ks", "give one or more K values, each at least 1");
        }
        if self.query_size < 8 {
            return bad("query_size", "need at least 8 query flows per episode");
        }
        if self.task_learner_trees == 0 || self.local.n_trees < 4 {
            return bad(
                "trees",
                "task learners need ≥ 1 tree and the local forest ≥ 4",
            );
        }
        if !(0.05..=0.5).contains(&self.val_fraction) {
            return bad("val_fraction", "must lie in [0.05, 0.5]");
        }
        if !(0.0..=1.0).contains(&self.class_task_share) {
            return bad("class_task_share", "must lie in [0, 1]");
        }
        if self.schedule.max_epochs == 0
            || self.schedule.learning_rate.is_nan()
            || self.schedule.learning_rate <= 0.0
        {
            return bad("schedule", "max_epochs ≥ 1 and a positive learning rate");
        }
        Ok(self)
    }
}

/// A trained meta-model: the known domains' forests, the heads, and the input normalisation (fitted on
/// meta-training episodes only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetaModel {
    pub params: MetaParams,
    pub n_features: usize,
    pub known: Arc<Vec<TaskLearner>>,
    pub heads: MlpMetaLearner,
    pub weight_norm: Normalizer,
    pub init_norm: Normalizer,
    pub feature_norm: Normalizer,
    /// Training summary: episodes used and the final validation losses.
    pub report: TrainReport,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainReport {
    pub episodes_train: usize,
    pub episodes_val: usize,
    pub weight_val_loss: f64,
    /// Validation query loss of the plain mean of forests (equal weights, no shift), for comparison.
    pub equal_weight_val_loss: f64,
}

/// The rows of one episode inside its domain.
struct EpisodeRows {
    target: usize,
    k: usize,
    support: Vec<usize>,
    query: Vec<usize>,
    /// Unlabelled flows of the same task (natural balance), disjoint from support and query; empty in the episodes
    /// that train the labelled-only mode.
    unlabelled: Vec<usize>,
}

fn draw_episode(domains: &[DomainData], params: &MetaParams, index: u64) -> Option<EpisodeRows> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(params.seed, 1_000_000 + index));
    let t = rng.gen_range(0..domains.len());
    let d = &domains[t];
    let benign: Vec<usize> = (0..d.y.len()).filter(|&r| d.y[r] == 0).collect();
    let attack_rows: Vec<usize> = if rng.gen_bool(params.class_task_share) {
        // "benign vs attack class c": pick among classes with enough rows for a support and some query flows.
        let mut classes: Vec<u16> = d.class.iter().copied().filter(|&c| c != 0).collect();
        classes.sort_unstable();
        classes.dedup();
        let counts: Vec<(u16, usize)> = classes
            .iter()
            .map(|&c| (c, d.class.iter().filter(|&&x| x == c).count()))
            .collect();
        let eligible: Vec<u16> = counts
            .iter()
            .filter(|(_, n)| *n >= 4)
            .map(|(c, _)| *c)
            .collect();
        let c = *eligible.choose(&mut rng)?;
        (0..d.y.len()).filter(|&r| d.class[r] == c).collect()
    } else {
        (0..d.y.len()).filter(|&r| d.y[r] == 1).collect()
    };
    let smallest = benign.len().min(attack_rows.len());
    if smallest < 2 {
        return None;
    }
    // K may not exceed what leaves at least one flow of each class for the query.
    let k = (*params.ks.choose(&mut rng)?).min((smallest - 1).max(1));
    let mut b = benign.clone();
    let mut a = attack_rows;
    b.shuffle(&mut rng);
    a.shuffle(&mut rng);
    let support: Vec<usize> = b[..k].iter().chain(&a[..k]).copied().collect();
    // Query: natural balance of this task in the domain, at least one flow of each class.
    let (rest_b, rest_a) = (&b[k..], &a[k..]);
    let total = (rest_b.len() + rest_a.len()) as f64;
    let q = params.query_size.min(rest_b.len() + rest_a.len());
    let qa = ((q as f64 * rest_a.len() as f64 / total).round() as usize).clamp(1, rest_a.len());
    let qb = (q.saturating_sub(qa)).clamp(1, rest_b.len());
    let query = rest_b[..qb].iter().chain(&rest_a[..qa]).copied().collect();
    // Half of the episodes see unlabelled flows of the task, so one network serves both modes.
    let (left_b, left_a) = (&rest_b[qb..], &rest_a[qa..]);
    let unlabelled = if rng.gen_bool(0.5) && !left_b.is_empty() {
        let u = UNLABELLED_SAMPLE.min(left_b.len() + left_a.len());
        let ua = (u as f64 * left_a.len() as f64 / (left_b.len() + left_a.len()) as f64).round();
        let ua = (ua as usize).min(left_a.len());
        let ub = u.saturating_sub(ua).min(left_b.len());
        left_b[..ub].iter().chain(&left_a[..ua]).copied().collect()
    } else {
        Vec::new()
    };
    Some(EpisodeRows {
        target: t,
        k,
        support,
        query,
        unlabelled,
    })
}

/// Unlabelled flows per meta-training episode (and the default sample size at adaptation).
pub const UNLABELLED_SAMPLE: usize = 512;

/// Stage-A episode: inputs and targets of the initialisation heads.
struct InitEpisode {
    config_in: [f32; INIT_IN],
    config_target: [f32; N_CONFIGS],
    feature_in: Vec<[f32; FEATURE_WIDTH]>,
    prior_target: Vec<f32>,
}

/// Temperature (in query log-loss units) of the soft configuration targets.
const CONFIG_TEMPERATURE: f64 = 0.05;

fn select(x: &Array2<f64>, rows: &[usize]) -> Array2<f64> {
    x.select(Axis(0), rows)
}

impl MetaModel {
    /// Meta-trains on known domains. Never sees any other data: the held-out domain is not an argument.
    pub fn fit(domains: &[DomainData], params: &MetaParams) -> Result<Self> {
        params.check()?;
        if domains.len() < 2 {
            return Err(MetaError::TooFewDomains {
                needed: 2,
                got: domains.len(),
            });
        }
        let nf = domains[0].x.ncols();
        if let Some(d) = domains.iter().find(|d| d.x.ncols() != nf) {
            return Err(MetaError::FeatureMismatch {
                expected: nf,
                got: d.x.ncols(),
            });
        }
        let known = train_task_learners(domains, params.task_learner_trees, params.seed)?;
        tracing::info!(
            domains = known.len(),
            "meta-training: task learners trained"
        );
        Self::fit_with_task_learners(domains, known, params)
    }

    /// Meta-trains with task learners trained elsewhere (one per domain, same order; e.g. the evaluation harness's
    /// per-domain forests, so they are trained once per protocol run).
    pub fn fit_with_task_learners(
        domains: &[DomainData],
        known: Vec<TaskLearner>,
        params: &MetaParams,
    ) -> Result<Self> {
        params.check()?;
        if domains.len() < 2 || known.len() != domains.len() {
            return Err(MetaError::TooFewDomains {
                needed: 2.max(domains.len()),
                got: known.len().min(domains.len()),
            });
        }
        let nf = domains[0].x.ncols();
        let specs: Vec<EpisodeRows> = (0..params.n_episodes as u64)
            .filter_map(|i| draw_episode(domains, params, i))
            .collect();
        if specs.len() < 10 {
            return Err(MetaError::NoEpisodes(format!(
                "only {} of {} episodes could be drawn",
                specs.len(),
                params.n_episodes
            )));
        }
        let n_val = ((specs.len() as f64 * params.val_fraction).round() as usize).max(2);
        let n_train = specs.len() - n_val;
        let bar = |len: usize, msg: &'static str| {
            if params.progress {
                ProgressBar::new(len as u64)
                    .with_style(
                        ProgressStyle::with_template(
                            "{msg:>28} {bar:40} {pos}/{len} [{elapsed}<{eta}]",
                        )
                        .expect("static template"),
                    )
                    .with_message(msg)
            } else {
                ProgressBar::hidden()
            }
        };

        let mut model = MetaModel {
            params: params.clone(),
            n_features: nf,
            known: Arc::new(known),
            heads: MlpMetaLearner {
                weight: None,
                config: None,
                prior: None,
            },
            weight_norm: Normalizer {
                mean: vec![0.0; WEIGHT_IN],
                scale: vec![1.0; WEIGHT_IN],
            },
            init_norm: Normalizer {
                mean: vec![0.0; INIT_IN],
                scale: vec![1.0; INIT_IN],
            },
            feature_norm: Normalizer {
                mean: vec![0.0; FEATURE_WIDTH],
                scale: vec![1.0; FEATURE_WIDTH],
            },
            report: TrainReport {
                episodes_train: n_train,
                episodes_val: n_val,
                ..Default::default()
            },
        };

        // Stage A: initialisation heads.
        if params.heads.init() {
            let stage_a: Vec<InitEpisode> = specs
                .par_iter()
                .progress_with(bar(specs.len(), "episodes (initialisation)"))
                .map(|s| model.init_episode(domains, s))
                .collect::<Result<_>>()?;
            let mut cfg_in: Vec<[f32; INIT_IN]> = stage_a.iter().map(|e| e.config_in).collect();
            model.init_norm = Normalizer::fit(&cfg_in[..n_train]);
            model.init_norm.apply(&mut cfg_in);
            let mut feat: Vec<Vec<[f32; FEATURE_WIDTH]>> =
                stage_a.iter().map(|e| e.feature_in.clone()).collect();
            let all_feat: Vec<[f32; FEATURE_WIDTH]> =
                feat[..n_train].iter().flatten().copied().collect();
            model.feature_norm = Normalizer::fit(&all_feat);
            feat.iter_mut().for_each(|f| model.feature_norm.apply(f));
            let cfg: Vec<_> = cfg_in
                .into_iter()
                .zip(stage_a.iter().map(|e| e.config_target))
                .collect();
            let pri: Vec<_> = feat
                .into_iter()
                .zip(stage_a.iter().map(|e| e.prior_target.clone()))
                .collect();
            model.heads.config = Some(train_config_head(
                &cfg[..n_train],
                &cfg[n_train..],
                &params.schedule,
            )?);
            model.heads.prior = Some(train_prior_head(
                &pri[..n_train],
                &pri[n_train..],
                &params.schedule,
            )?);
        }

        // Stage B: weighting head, on local forests grown from the (now learned) initialisation.
        if params.heads.weights() {
            let mut stage_b: Vec<WeightEpisode> = specs
                .par_iter()
                .progress_with(bar(specs.len(), "episodes (weighting)"))
                .map(|s| model.weight_episode(domains, s))
                .collect::<Result<_>>()?;
            let rows: Vec<[f32; WEIGHT_IN]> = stage_b[..n_train]
                .iter()
                .flat_map(|e| e.rows.clone())
                .collect();
            model.weight_norm = Normalizer::fit(&rows);
            stage_b
                .iter_mut()
                .for_each(|e| model.weight_norm.apply(&mut e.rows));
            let (train, val) = stage_b.split_at(n_train);
            let equal = Mlp {
                layers: vec![(vec![0.0; 2 * WEIGHT_IN], vec![0.0, 0.0])],
            };
            model.report.equal_weight_val_loss =
                weight_loss(&equal, &val.iter().collect::<Vec<_>>());
            let (mlp, val_loss) = train_weight_head(train, val, &params.schedule)?;
            model.report.weight_val_loss = val_loss;
            model.heads.weight = Some(mlp);
            tracing::info!(
                val_loss,
                equal_weights = model.report.equal_weight_val_loss,
                "meta-training: done"
            );
        }
        Ok(model)
    }

    fn known_except(&self, target: usize) -> Vec<usize> {
        (0..self.known.len()).filter(|&i| i != target).collect()
    }

    fn init_episode(&self, domains: &[DomainData], s: &EpisodeRows) -> Result<InitEpisode> {
        let d = &domains[s.target];
        let (sx, qx) = (select(&d.x, &s.support), select(&d.x, &s.query));
        let sy: Vec<u32> = s.support.iter().map(|&r| d.y[r]).collect();
        let qy: Vec<u32> = s.query.iter().map(|&r| d.y[r]).collect();
        let support = Support {
            x: sx.view(),
            y: &sy,
        };
        let ids = self.known_except(s.target);
        let settings = self.local_settings(s);
        let known_forests: Vec<&Forest> = ids.iter().map(|&i| &self.known[i].forest).collect();
        let plain = grow_local(&Initialisation::plain(), &settings, support, &known_forests)?;
        let (evidence, stats) = self.evidence(&ids, &plain, support);
        let ux = select(&d.x, &s.unlabelled);
        let summary = UnlabelledSummary::of(&plain, &known_forests, ux.view());
        let task = task_descriptor(s.k, &evidence[..ids.len()], &stats, summary.as_ref());
        let donor = best_donor(&evidence[..ids.len()], support);
        let losses: Vec<f64> = CONFIGS
            .iter()
            .map(|&config| {
                let init = Initialisation {
                    config,
                    config_probs: vec![],
                    feature_prior: None,
                    donor,
                };
                let local = grow_local(&init, &settings, support, &known_forests)?;
                Ok(log_loss(&attack_probs(&local, qx.view()), &qy))
            })
            .collect::<Result<_>>()?;
        let best = losses.iter().copied().fold(f64::INFINITY, f64::min);
        let e: Vec<f64> = losses
            .iter()
            .map(|l| (-(l - best) / CONFIG_TEMPERATURE).exp())
            .collect();
        let z: f64 = e.iter().sum();
        let mut config_target = [0f32; N_CONFIGS];
        config_target
            .iter_mut()
            .zip(&e)
            .for_each(|(t, v)| *t = (v / z) as f32);
        let facts: Vec<(&Forest, &ForestFacts)> = ids
            .iter()
            .map(|&i| (&self.known[i].forest, &self.known[i].facts))
            .collect();
        let feature_in = feature_inputs(&facts, &plain.feature_importances(), support, &stats);
        let target_imp = &self.known[s.target].facts.importances;
        let z: f64 = target_imp.iter().sum::<f64>().max(1e-12);
        Ok(InitEpisode {
            config_in: init_input(&task, &evidence[..ids.len()]),
            config_target,
            feature_in,
            prior_target: target_imp.iter().map(|v| (v / z) as f32).collect(),
        })
    }

    fn weight_episode(&self, domains: &[DomainData], s: &EpisodeRows) -> Result<WeightEpisode> {
        let d = &domains[s.target];
        let (sx, qx) = (select(&d.x, &s.support), select(&d.x, &s.query));
        let sy: Vec<u32> = s.support.iter().map(|&r| d.y[r]).collect();
        let support = Support {
            x: sx.view(),
            y: &sy,
        };
        let ids = self.known_except(s.target);
        let ux = select(&d.x, &s.unlabelled);
        let (_, local, evidence, task) =
            self.analyse(&ids, support, Some(ux.view()), &self.local_settings(s))?;
        let mut forests: Vec<&Forest> = ids.iter().map(|&i| &self.known[i].forest).collect();
        forests.push(&local);
        let q = query_evidence(&forests, &evidence, &task, qx.view());
        let nq = qx.nrows();
        let probs = (0..nq)
            .flat_map(|r| q.probs.iter().map(move |p| p[r] as f32))
            .collect();
        let labels: Vec<f32> = s.query.iter().map(|&r| d.y[r] as f32).collect();
        Ok(WeightEpisode {
            rows: q.rows,
            probs,
            loss_weights: loss_weights(&labels, s.unlabelled.is_empty()),
            labels,
            n_forests: forests.len(),
        })
    }

    fn local_settings(&self, s: &EpisodeRows) -> LocalForestSettings {
        LocalForestSettings {
            n_trees: self.params.local.n_trees,
            seed: mix(self.params.seed, s.support[0] as u64),
        }
    }

    /// Evidence of the known forests `ids` plus `local` (last) on the support, and the support's statistics.
    fn evidence(
        &self,
        ids: &[usize],
        local: &Forest,
        support: Support,
    ) -> (Vec<ForestEvidence>, SupportStats) {
        let local_facts = ForestFacts::of(local, support.y.len());
        let mut pairs: Vec<(&Forest, &ForestFacts)> = ids
            .iter()
            .map(|&i| (&self.known[i].forest, &self.known[i].facts))
            .collect();
        pairs.push((local, &local_facts));
        (forest_evidence(&pairs, support), SupportStats::of(support))
    }

    /// Decides the initialisation for a support.
    pub(crate) fn initialise(
        &self,
        ids: &[usize],
        support: Support,
        unlabelled: Option<ArrayView2<f64>>,
        settings: &LocalForestSettings,
    ) -> Result<Initialisation> {
        if !self.params.heads.init() {
            return Ok(Initialisation::plain());
        }
        let known_forests: Vec<&Forest> = ids.iter().map(|&i| &self.known[i].forest).collect();
        let plain = grow_local(&Initialisation::plain(), settings, support, &known_forests)?;
        let (evidence, stats) = self.evidence(ids, &plain, support);
        let summary = unlabelled.and_then(|u| UnlabelledSummary::of(&plain, &known_forests, u));
        let task = task_descriptor(
            support.y.len() / 2,
            &evidence[..ids.len()],
            &stats,
            summary.as_ref(),
        );
        let mut cfg_in = [init_input(&task, &evidence[..ids.len()])];
        self.init_norm.apply(&mut cfg_in);
        let logits = self.heads.config_logits(&cfg_in[0]);
        let best = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        let facts: Vec<(&Forest, &ForestFacts)> = ids
            .iter()
            .map(|&i| (&self.known[i].forest, &self.known[i].facts))
            .collect();
        let mut feat = feature_inputs(&facts, &plain.feature_importances(), support, &stats);
        self.feature_norm.apply(&mut feat);
        Ok(Initialisation {
            config: CONFIGS[best],
            config_probs: logits.iter().map(|l| (l - max).exp() / z).collect(),
            feature_prior: Some(prior_from_logits(&self.heads.prior_logits(&feat))),
            donor: best_donor(&evidence[..ids.len()], support),
        })
    }

    /// Initialise, grow the local forest, and describe all forests on the support.
    #[allow(clippy::type_complexity)]
    pub(crate) fn analyse(
        &self,
        ids: &[usize],
        support: Support,
        unlabelled: Option<ArrayView2<f64>>,
        settings: &LocalForestSettings,
    ) -> Result<(
        Initialisation,
        Forest,
        Vec<ForestEvidence>,
        [f32; TASK_WIDTH],
    )> {
        let init = self.initialise(ids, support, unlabelled, settings)?;
        let known_forests: Vec<&Forest> = ids.iter().map(|&i| &self.known[i].forest).collect();
        let local = grow_local(&init, settings, support, &known_forests)?;
        let (evidence, stats) = self.evidence(ids, &local, support);
        let summary = unlabelled.and_then(|u| UnlabelledSummary::of(&local, &known_forests, u));
        let task = task_descriptor(
            support.y.len() / 2,
            &evidence[..ids.len()],
            &stats,
            summary.as_ref(),
        );
        Ok((init, local, evidence, task))
    }

    /// Checks a support before adaptation: non-empty, both classes present, the model's feature width.
    pub fn check_support(&self, x: ArrayView2<f64>, y: &[u32]) -> Result<()> {
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
}

// Kept for the unused-import lint when progress bars are compiled out of a configuration.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<MetaModel>();
}
