//! Task learners and episodic meta-training.
//!
//! Meta-training is first-order: forests are constants to the network. Every episode picks one known domain as a
//! pseudo-target (the whole "benign vs attack" task or one "benign vs attack class" task inside it), draws a K-shot
//! support and a query with the domain's natural class balance, and uses only the *other* known domains' forests.
//! Episodes are independent, so they are computed in parallel (each seeded by its index) and cached; the heads are
//! then trained on the cache.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::adapt::{argmax, Adapter, TaskLearner, UNLABELLED_SAMPLE};
use crate::augment::{clusters, counts_at_share, draw_share, narrow_pool};
use crate::coverage::{coverage_features, CoverageEpisode, CoverageState, SupportCoverage};
use crate::descriptor::*;
use crate::error::{MetaError, Result};
use crate::init::*;
use crate::model::{MetaModel, TrainReport};
use crate::network::*;
use crate::params::{EpochChoice, ValidMetaParams};
use crate::pooled::PooledSample;
use crate::prob::log_loss;
use crate::threshold::{ThresholdEpisode, ThresholdRule};
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use linfa::ParamGuard;
use metaforest_flows::rng::derive_seed;
use metaforest_forest::{Forest, ForestParams};
use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

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

/// Another data set's known domains, meta-trained on beside the target's own known domains: each of its episodes
/// stays inside its own feature space and adapts with its own forests, so any data set with a benign class and
/// attacks can teach the weighting head (whose inputs do not depend on which features exist). It adds episodes to
/// the weighting head's training only: the initialisation heads, the threshold rule, the coverage shift and every
/// held-out check stay on the target's own known domains, and nothing of it is kept in the model.
///
/// The caller decides what may be a source: never the domain the model will be evaluated on, nor another view of
/// the same traffic (a NetFlow export of the capture held out, say).
#[derive(Clone, Debug)]
pub struct ExtraSource {
    pub name: String,
    /// Its domains, one feature space (each with benign flows and attacks).
    pub domains: Vec<DomainData>,
    /// One forest per domain, same order, on the same features.
    pub known: Vec<TaskLearner>,
    /// Episodes to draw from it.
    pub episodes: usize,
}

impl ExtraSource {
    /// A source from its domains, training one forest per domain with `n_trees` trees (seeded as
    /// [`train_task_learners`]).
    pub fn train(
        name: &str,
        domains: Vec<DomainData>,
        n_trees: usize,
        seed: u64,
        episodes: usize,
    ) -> Result<Self> {
        let known = train_task_learners(&domains, n_trees, seed)?;
        Ok(Self {
            name: name.to_string(),
            domains,
            known,
            episodes,
        })
    }

    fn check(&self) -> Result<()> {
        if self.domains.len() < 2 || self.known.len() != self.domains.len() {
            return Err(MetaError::TooFewDomains {
                needed: 2.max(self.domains.len()),
                got: self.known.len().min(self.domains.len()),
            });
        }
        let nf = self.domains[0].x.ncols();
        if let Some(d) = self.domains.iter().find(|d| d.x.ncols() != nf) {
            return Err(MetaError::FeatureMismatch {
                expected: nf,
                got: d.x.ncols(),
            });
        }
        if let Some(l) = self.known.iter().find(|l| l.forest.n_features() != nf) {
            return Err(MetaError::FeatureMismatch {
                expected: nf,
                got: l.forest.n_features(),
            });
        }
        Ok(())
    }
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
                .seed(derive_seed(seed, i as u64))
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

/// The rows of one episode inside its domain.
struct EpisodeRows {
    target: usize,
    /// "benign vs every attack" of the domain (its natural balance), not "benign vs one attack class".
    whole_domain: bool,
    k: usize,
    support: Vec<usize>,
    query: Vec<usize>,
    /// Unlabelled flows of the same task (natural balance), disjoint from support and query (for the threshold rule).
    unlabelled: Vec<usize>,
}

impl EpisodeRows {
    /// Support features and labels, then query features and labels, out of the target domain.
    fn matrices(&self, domains: &[DomainData]) -> (Array2<f64>, Vec<u32>, Array2<f64>, Vec<u32>) {
        let d = &domains[self.target];
        let labels = |rows: &[usize]| rows.iter().map(|&r| d.y[r]).collect::<Vec<u32>>();
        (
            select(&d.x, &self.support),
            labels(&self.support),
            select(&d.x, &self.query),
            labels(&self.query),
        )
    }
}

/// Draws one episode from `domains` with its own seed (see [`episode_seed`]); `None` when the drawn task is too
/// small for a support and a query.
fn draw_episode(
    domains: &[DomainData],
    benign_clusters: &[Vec<Vec<usize>>],
    params: &ValidMetaParams,
    seed: u64,
) -> Option<EpisodeRows> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let aug = params.augment();
    let t = rng.gen_range(0..domains.len());
    let d = &domains[t];
    let benign: Vec<usize> = (0..d.y.len()).filter(|&r| d.y[r] == 0).collect();
    let class_task = rng.gen_bool(params.class_task_share());
    let classes_of = |d: &DomainData| -> Vec<(u16, usize)> {
        let mut classes: Vec<u16> = d.class.iter().copied().filter(|&c| c != 0).collect();
        classes.sort_unstable();
        classes.dedup();
        classes
            .iter()
            .map(|&c| (c, d.class.iter().filter(|&&x| x == c).count()))
            .collect()
    };
    let attack_rows: Vec<usize> = if class_task {
        // "benign vs attack class c": pick among classes with enough rows for a support and some query flows.
        let eligible: Vec<u16> = classes_of(d)
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
    let k = (*params.ks().choose(&mut rng)?).min((smallest - 1).max(1));
    let mut b = benign.clone();
    let mut a = attack_rows;
    b.shuffle(&mut rng);
    a.shuffle(&mut rng);
    // The random draws below happen only when augmentation is on, so episodes without it stay as they were.
    if aug.narrow_share > 0.0 && rng.gen_bool(aug.narrow_share) {
        // Narrow support: its flows come first in `b` / `a`; the query and unlabelled flows keep the whole task.
        let attack_groups: Vec<Vec<usize>> = if class_task {
            vec![a.clone()]
        } else {
            classes_of(d)
                .iter()
                .map(|&(c, _)| a.iter().copied().filter(|&r| d.class[r] == c).collect())
                .collect()
        };
        narrow_first(&mut rng, &mut b, &benign_clusters[t], k);
        narrow_first(&mut rng, &mut a, &attack_groups, k);
    }
    let share = aug.share.then(|| draw_share(&mut rng));
    let support: Vec<usize> = b[..k].iter().chain(&a[..k]).copied().collect();
    // Query: the task's natural balance (or the augmented share), at least one flow of each class.
    let (rest_b, rest_a) = (&b[k..], &a[k..]);
    let total = (rest_b.len() + rest_a.len()) as f64;
    let q = params.query_size().min(rest_b.len() + rest_a.len());
    let (qb, qa) = match share {
        Some(s) => counts_at_share(q, s, rest_b.len(), rest_a.len(), true),
        None => {
            let qa =
                ((q as f64 * rest_a.len() as f64 / total).round() as usize).clamp(1, rest_a.len());
            ((q.saturating_sub(qa)).clamp(1, rest_b.len()), qa)
        }
    };
    let query = rest_b[..qb].iter().chain(&rest_a[..qa]).copied().collect();
    // Unlabelled flows of the task at the same balance: what the threshold rule reads.
    let (left_b, left_a) = (&rest_b[qb..], &rest_a[qa..]);
    let unlabelled = if !left_b.is_empty() || !left_a.is_empty() {
        let u = UNLABELLED_SAMPLE.min(left_b.len() + left_a.len());
        let (ub, ua) = match share {
            Some(s) => counts_at_share(u, s, left_b.len(), left_a.len(), false),
            None => {
                let ua =
                    (u as f64 * left_a.len() as f64 / (left_b.len() + left_a.len()) as f64).round();
                let ua = (ua as usize).min(left_a.len());
                (u.saturating_sub(ua).min(left_b.len()), ua)
            }
        };
        left_b[..ub].iter().chain(&left_a[..ua]).copied().collect()
    } else {
        Vec::new()
    };
    Some(EpisodeRows {
        target: t,
        whole_domain: !class_task,
        k,
        support,
        query,
        unlabelled,
    })
}

/// Moves `k` rows of one or two of `groups` to the front of `rows` (the support is drawn from the front); leaves
/// `rows` as it is when no such pick has `k` rows and at least one row to spare for the query.
fn narrow_first(rng: &mut ChaCha8Rng, rows: &mut Vec<usize>, groups: &[Vec<usize>], k: usize) {
    let Some(pool) = narrow_pool(rng, groups, k) else {
        return;
    };
    let front: Vec<usize> = pool[..k].to_vec();
    if rows.len() <= k {
        return;
    }
    let chosen: std::collections::HashSet<usize> = front.iter().copied().collect();
    let rest: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|r| !chosen.contains(r))
        .collect();
    *rows = front.into_iter().chain(rest).collect();
}

/// The seed of episode `index` of a source: the known domains' own episodes (source `None`) keep the seeds they
/// always had; each other source's episodes derive from its own base, so adding a source moves no other episode.
fn episode_seed(params: &ValidMetaParams, source: Option<usize>, index: u64) -> u64 {
    derive_seed(source_base(params, source), 1_000_000 + index)
}

fn source_base(params: &ValidMetaParams, source: Option<usize>) -> u64 {
    match source {
        None => params.seed(),
        Some(s) => derive_seed(params.seed(), 4_000_000 + s as u64),
    }
}

/// Benign clusters of every domain of a source (empty lists when narrow supports are off, so nothing is computed).
fn all_benign_clusters(
    domains: &[DomainData],
    params: &ValidMetaParams,
    source: Option<usize>,
) -> Vec<Vec<Vec<usize>>> {
    let aug = params.augment();
    if aug.narrow_share <= 0.0 {
        return vec![Vec::new(); domains.len()];
    }
    domains
        .par_iter()
        .enumerate()
        .map(|(i, d)| {
            let benign: Vec<usize> = (0..d.y.len()).filter(|&r| d.y[r] == 0).collect();
            clusters(
                &d.x,
                &benign,
                aug.benign_clusters,
                derive_seed(source_base(params, source), 2_000_000 + i as u64),
            )
        })
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::INFINITY
    } else {
        sum / n as f64
    }
}

/// Class-balanced query log-loss of the local forest grown with and without the learned sampling prior, over the
/// validation episodes (mean of the two classes' mean losses, so no domain's class balance decides).
fn self_check_prior(
    adapter: &Adapter,
    domains: &[DomainData],
    val: &[EpisodeRows],
) -> Result<(f64, f64)> {
    let pairs: Vec<(f64, f64)> = val
        .par_iter()
        .map(|s| {
            let (sx, sy, qx, qy) = s.matrices(domains);
            let support = Support {
                x: sx.view(),
                y: &sy,
            };
            let ids = known_except(adapter, s.target);
            let settings = local_settings(adapter, s);
            let known = adapter.known_forests(&ids);
            let with = adapter.initialise(&ids, support, &settings)?;
            let without = Initialisation {
                feature_prior: None,
                ..with.clone()
            };
            let loss = |init: &Initialisation| -> Result<f64> {
                let local = grow_local(init, &settings, support, &known)?;
                Ok(balanced_log_loss(&attack_probs(&local, qx.view()), &qy))
            };
            Ok((loss(&with)?, loss(&without)?))
        })
        .collect::<Result<_>>()?;
    Ok((
        mean(pairs.iter().map(|p| p.0)),
        mean(pairs.iter().map(|p| p.1)),
    ))
}

fn balanced_log_loss(p: &[f64], y: &[u32]) -> f64 {
    let part = |class: u32| {
        let (pp, yy): (Vec<f64>, Vec<u32>) = p
            .iter()
            .zip(y)
            .filter(|(_, &c)| c == class)
            .map(|(&p, &c)| (p, c))
            .unzip();
        log_loss(&yy, &pp)
    };
    (part(0) + part(1)) / 2.0
}

/// Known domains held out, one at a time, to choose the weighting head's epochs.
const LODO_DOMAINS: usize = 3;

/// The weighting head's validation run: trained on `train`, early-stopped on `val`. When `val` is one whole known
/// domain's episodes and `train` every other episode (how [`draw_episodes`] splits them when it can), it is also
/// that domain's leave-one-domain-out run, and is not trained twice.
struct SplitRun<'a> {
    train: Vec<&'a WeightEpisode>,
    val: Vec<&'a WeightEpisode>,
    held_out_domain: Option<usize>,
}

/// What one run of [`validation_and_held_out_epochs`] found: the validation run's (loss, epochs), and a held-out
/// domain's epoch count (the validation run has one when it doubles as a held-out run).
#[derive(Default)]
struct RunOutcome {
    validation: Option<(f64, usize)>,
    held_out_epochs: Option<usize>,
}

/// Trains the validation run and, beside it, decides how long to train the weighting head the way it will be used:
/// for each known domain, train on the episodes of the others and note the epoch count with the lowest loss on
/// that domain's episodes; take the least (the head trains only as long as every held-out known domain still gains;
/// 0 keeps the anchored head) or the median, as `choice` says. Returns the validation run's (loss, epochs) and the
/// chosen count, `None` when fewer than two domains can be held out this way.
fn validation_and_held_out_epochs(
    split: &SplitRun,
    episodes: &[&WeightEpisode],
    targets: &[Option<usize>],
    schedule: &TrainSchedule,
    choice: EpochChoice,
) -> Result<((f64, usize), Option<usize>)> {
    let mut domains: Vec<usize> = targets.iter().flatten().copied().collect();
    domains.sort_unstable();
    domains.dedup();
    // At most LODO_DOMAINS held out (those with the most episodes), so the cost stays flat when there are many
    // known domains (P3 has eight).
    let count = |d: usize| targets.iter().filter(|&&t| t == Some(d)).count();
    domains.sort_by_key(|&d| (std::cmp::Reverse(count(d)), d));
    domains.truncate(LODO_DOMAINS);
    // With the least count, one held-out domain at 0 decides: the other held-out runs may stop early.
    let decided = AtomicBool::new(false);
    let decide = |epochs: usize| {
        if choice == EpochChoice::Least && epochs == 0 {
            decided.store(true, Ordering::Relaxed);
        }
    };
    let log = |v: usize, head: &Mlp, loss: f64, epochs: usize, val: &[&WeightEpisode]| {
        tracing::info!(
            held_out = v,
            loss,
            epochs,
            others_chose_zero = decided.load(Ordering::Relaxed),
            "meta-training: weighting head, leave one domain out"
        );
        if tracing::enabled!(tracing::Level::DEBUG) {
            log_held_out_by_k(v, epochs, head, val);
        }
    };
    // None: the validation run. The runs are independent (each seeded by the schedule alone), so they train side
    // by side.
    let jobs: Vec<Option<usize>> = std::iter::once(None)
        .chain(
            domains
                .iter()
                .filter(|&&v| Some(v) != split.held_out_domain)
                .map(|&v| Some(v)),
        )
        .collect();
    let runs: Vec<RunOutcome> = jobs
        .par_iter()
        .map(|&job| {
            let Some(v) = job else {
                let (head, loss, epochs) =
                    train_weight_head(&split.train, &split.val, schedule, None, None)?;
                let held_out = split.held_out_domain.filter(|d| {
                    domains.contains(d) && split.val.len() >= 2 && split.train.len() >= 8
                });
                if let Some(v) = held_out {
                    log(v, &head, loss, epochs, &split.val);
                    decide(epochs);
                }
                return Ok(RunOutcome {
                    validation: Some((loss, epochs)),
                    held_out_epochs: held_out.map(|_| epochs),
                });
            };
            let (mut train, mut val) = (Vec::new(), Vec::new());
            for (&e, &t) in episodes.iter().zip(targets) {
                if t == Some(v) {
                    val.push(e);
                } else {
                    train.push(e);
                }
            }
            if val.len() < 2 || train.len() < 8 {
                return Ok(RunOutcome::default());
            }
            let (head, loss, epochs) =
                train_weight_head(&train, &val, schedule, None, Some(&decided))?;
            log(v, &head, loss, epochs, &val);
            decide(epochs);
            Ok(RunOutcome {
                validation: None,
                held_out_epochs: Some(epochs),
            })
        })
        .collect::<Result<_>>()?;
    let validation = runs
        .iter()
        .find_map(|r| r.validation)
        .expect("the validation run is the first job");
    let mut chosen: Vec<usize> = runs.into_iter().filter_map(|r| r.held_out_epochs).collect();
    if chosen.len() < 2 {
        return Ok((validation, None));
    }
    chosen.sort_unstable();
    Ok((
        validation,
        Some(match choice {
            EpochChoice::Least => chosen[0],
            // The lower middle for an even count.
            EpochChoice::Median => chosen[(chosen.len() - 1) / 2],
        }),
    ))
}

/// Debug log of one held-out known domain, per support size: the query loss and macro-F1 at ½ of the head trained
/// without it against the anchored head's, to show at which K the check's verdict comes from.
fn log_held_out_by_k(held_out: usize, epochs: usize, head: &Mlp, val: &[&WeightEpisode]) {
    let anchored = zero_weight_head();
    let mut ks: Vec<usize> = val.iter().map(|e| e.k).collect();
    ks.sort_unstable();
    ks.dedup();
    for k in ks {
        let of_k: Vec<&WeightEpisode> = val.iter().copied().filter(|e| e.k == k).collect();
        tracing::debug!(
            held_out,
            k,
            epochs,
            episodes = of_k.len(),
            loss_head = weight_loss(head, &of_k),
            loss_anchored = weight_loss(&anchored, &of_k),
            macro_f1_head = weight_macro_f1(head, &of_k),
            macro_f1_anchored = weight_macro_f1(&anchored, &of_k),
            "meta-training: weighting head, leave one domain out, by K"
        );
    }
}

/// Stage-A episode: inputs and targets of the initialisation heads.
struct InitEpisode {
    config_in: [f32; INIT_IN],
    config_target: [f32; N_CONFIGS],
    feature_in: Vec<[f32; FEATURE_WIDTH]>,
    prior_target: Vec<f32>,
    /// Query log-loss of every configuration, for the check that the head beats the plain one on unseen domains.
    config_losses: [f64; N_CONFIGS],
}

/// Temperature (in query log-loss units) of the soft configuration targets.
const CONFIG_TEMPERATURE: f64 = 0.05;

fn select(x: &Array2<f64>, rows: &[usize]) -> Array2<f64> {
    x.select(Axis(0), rows)
}

/// `probs[forest][flow]` laid out flow-major (`n_forests` values per flow), as the weighting head reads them.
pub(crate) fn flow_major(probs: &[Vec<f64>]) -> Vec<f32> {
    let n = probs.first().map_or(0, |p| p.len());
    (0..n)
        .flat_map(|r| probs.iter().map(move |p| p[r] as f32))
        .collect()
}

/// Known forests other than the episode's pseudo-target.
fn known_except(adapter: &Adapter, target: usize) -> Vec<usize> {
    (0..adapter.known.len()).filter(|&i| i != target).collect()
}

/// The local forest's settings in an episode: seeded by the episode's first support row.
fn local_settings(adapter: &Adapter, s: &EpisodeRows) -> LocalForestSettings {
    LocalForestSettings {
        n_trees: adapter.params.local().n_trees,
        seed: derive_seed(adapter.params.seed(), s.support[0] as u64),
    }
}

fn progress_bar(params: &ValidMetaParams, len: usize, msg: &'static str) -> ProgressBar {
    if params.progress() {
        ProgressBar::new(len as u64)
            .with_style(
                ProgressStyle::with_template("{msg:>28} {bar:40} {pos}/{len} [{elapsed}<{eta}]")
                    .expect("static template"),
            )
            .with_message(msg)
    } else {
        ProgressBar::hidden()
    }
}

/// Draws the episodes and orders them training first, validation last; returns them with the validation count.
///
/// Early stopping must reward what transfers to an unseen domain, so the validation episodes are those of one whole
/// known domain (the last), never seen by the heads while they train; the weighting head is then refit on every
/// episode for the epoch count that domain chose. Without enough of them, a random share is used.
fn draw_episodes(
    domains: &[DomainData],
    params: &ValidMetaParams,
) -> Result<(Vec<EpisodeRows>, usize)> {
    let specs = draw_source_episodes(domains, params, None, params.n_episodes());
    if specs.len() < 10 {
        return Err(MetaError::NoEpisodes(format!(
            "only {} of {} episodes could be drawn",
            specs.len(),
            params.n_episodes()
        )));
    }
    let val_domain = domains.len() - 1;
    let (mut train_specs, val_specs): (Vec<_>, Vec<_>) =
        specs.into_iter().partition(|s| s.target != val_domain);
    let specs: Vec<EpisodeRows> = if val_specs.len() < 2 || train_specs.len() < 8 {
        train_specs.extend(val_specs);
        train_specs
    } else {
        train_specs.into_iter().chain(val_specs).collect()
    };
    let n_val = specs.iter().filter(|s| s.target == val_domain).count();
    let n_val = if n_val >= 2 && specs.len() - n_val >= 8 {
        n_val
    } else {
        ((specs.len() as f64 * params.val_fraction()).round() as usize).max(2)
    };
    Ok((specs, n_val))
}

/// Draws `n` episodes from the domains of one source (some may not be drawable: too few flows of a class).
fn draw_source_episodes(
    domains: &[DomainData],
    params: &ValidMetaParams,
    source: Option<usize>,
    n: usize,
) -> Vec<EpisodeRows> {
    let benign_clusters = all_benign_clusters(domains, params, source);
    (0..n as u64)
        .filter_map(|i| {
            draw_episode(
                domains,
                &benign_clusters,
                params,
                episode_seed(params, source, i),
            )
        })
        .collect()
}

/// The adapter before any head is trained: no heads, identity normalisers, threshold ½.
fn untrained_adapter(
    params: &ValidMetaParams,
    n_features: usize,
    known: Vec<TaskLearner>,
) -> Adapter {
    let identity = |width: usize| Normalizer {
        mean: vec![0.0; width],
        scale: vec![1.0; width],
    };
    Adapter {
        params: params.clone(),
        n_features,
        known,
        heads: MlpMetaLearner {
            weight: None,
            config: None,
            prior: None,
        },
        weight_norm: identity(WEIGHT_IN),
        init_norm: identity(INIT_IN),
        feature_norm: identity(FEATURE_WIDTH),
        threshold_rule: ThresholdRule::NEUTRAL,
        space: crate::space::FeatureSpace::unnamed(n_features),
        pooled: None,
        coverage: params
            .coverage_shift()
            .then(|| crate::coverage::CoverageState {
                gate: params.coverage_gate(),
                shift: None,
                checks: Vec::new(),
            }),
    }
}

impl MetaModel {
    /// Meta-trains on known domains. Never sees any other data: the held-out domain is not an argument.
    pub fn fit(domains: &[DomainData], params: &ValidMetaParams) -> Result<Self> {
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
        let known = train_task_learners(domains, params.task_learner_trees(), params.seed())?;
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
        params: &ValidMetaParams,
    ) -> Result<Self> {
        Self::fit_with_sources(domains, known, &[], params)
    }

    /// As [`MetaModel::fit_with_task_learners`], and the weighting head also learns from the episodes of `extra`
    /// sources, each in its own feature space ([`ExtraSource`]).
    pub fn fit_with_sources(
        domains: &[DomainData],
        known: Vec<TaskLearner>,
        extra: &[ExtraSource],
        params: &ValidMetaParams,
    ) -> Result<Self> {
        extra.iter().try_for_each(ExtraSource::check)?;
        if domains.len() < 2 || known.len() != domains.len() {
            return Err(MetaError::TooFewDomains {
                needed: 2.max(domains.len()),
                got: known.len().min(domains.len()),
            });
        }
        let (specs, n_val) = draw_episodes(domains, params)?;
        let n_train = specs.len() - n_val;
        let mut adapter = untrained_adapter(params, domains[0].x.ncols(), known);
        if params.pooled_member() {
            let parts: Vec<(ndarray::ArrayView2<f64>, &[u32])> =
                domains.iter().map(|d| (d.x.view(), &d.y[..])).collect();
            adapter.pooled = Some(PooledSample::of(&parts)?);
        }
        let mut report = TrainReport {
            episodes_train: n_train,
            episodes_val: n_val,
            ..Default::default()
        };
        if params.heads().init() {
            train_init_heads(&mut adapter, &mut report, domains, &specs, n_train)?;
        }
        if params.heads().weights() {
            let extra_episodes = extra_weight_episodes(&adapter, extra)?;
            report.extra_sources = extra
                .iter()
                .zip(&extra_episodes)
                .map(|(s, e)| (s.name.clone(), e.len()))
                .collect();
            let extra_episodes: Vec<WeightEpisode> = extra_episodes.into_iter().flatten().collect();
            let stage_b = train_weighting(
                &mut adapter,
                &mut report,
                domains,
                &specs,
                n_train,
                extra_episodes,
            )?;
            if params.coverage_shift() {
                adapter.coverage = Some(train_coverage_shift(&adapter, domains, &specs, &stage_b));
            }
            adapter.threshold_rule = fit_threshold_rule(&adapter, domains, &stage_b, &specs);
        }
        Ok(MetaModel {
            adapter: Arc::new(adapter),
            report,
        })
    }
}

/// Stage A: the configuration and prior heads, each kept only if it beats the plain local forest on the validation
/// domain's episodes (a domain the heads never trained on): a head that only fits the training domains would cost
/// the new domain accuracy.
fn train_init_heads(
    adapter: &mut Adapter,
    report: &mut TrainReport,
    domains: &[DomainData],
    specs: &[EpisodeRows],
    n_train: usize,
) -> Result<()> {
    let params = adapter.params.clone();
    let stage_a: Vec<InitEpisode> = specs
        .par_iter()
        .progress_with(progress_bar(
            &params,
            specs.len(),
            "episodes (initialisation)",
        ))
        .map(|s| init_episode(adapter, domains, s))
        .collect::<Result<_>>()?;
    let mut cfg_in: Vec<[f32; INIT_IN]> = stage_a.iter().map(|e| e.config_in).collect();
    adapter.init_norm = Normalizer::fit(&cfg_in[..n_train]);
    adapter.init_norm.apply(&mut cfg_in);
    let mut feat: Vec<Vec<[f32; FEATURE_WIDTH]>> =
        stage_a.iter().map(|e| e.feature_in.clone()).collect();
    let all_feat: Vec<[f32; FEATURE_WIDTH]> = feat[..n_train].iter().flatten().copied().collect();
    adapter.feature_norm = Normalizer::fit(&all_feat);
    feat.iter_mut().for_each(|f| adapter.feature_norm.apply(f));
    let cfg: Vec<_> = cfg_in
        .into_iter()
        .zip(stage_a.iter().map(|e| e.config_target))
        .collect();
    let pri: Vec<_> = feat
        .into_iter()
        .zip(stage_a.iter().map(|e| e.prior_target.clone()))
        .collect();
    let config = train_config_head(&cfg[..n_train], &cfg[n_train..], params.schedule())?;
    let val_a = &stage_a[n_train..];
    let chosen_loss = mean(cfg[n_train..].iter().zip(val_a).map(|((x, _), e)| {
        let logits = config.forward(x);
        e.config_losses[argmax(&logits)]
    }));
    let plain_loss = mean(val_a.iter().map(|e| e.config_losses[0]));
    tracing::info!(
        chosen_loss,
        plain_loss,
        "meta-training: configuration head check"
    );
    report.config_head_kept = chosen_loss < plain_loss;
    adapter.heads.config = report.config_head_kept.then_some(config);
    adapter.heads.prior = Some(train_prior_head(
        &pri[..n_train],
        &pri[n_train..],
        params.schedule(),
    )?);
    let (with_prior, without) = self_check_prior(adapter, domains, &specs[n_train..])?;
    tracing::info!(with_prior, without, "meta-training: prior head check");
    report.prior_head_kept = with_prior < without;
    if !report.prior_head_kept {
        adapter.heads.prior = None;
    }
    Ok(())
}

/// The weighting episodes of every extra source (un-normalised), each drawn from and adapted within its own
/// source: an adapter with the source's forests and the heads trained so far.
fn extra_weight_episodes(
    adapter: &Adapter,
    extra: &[ExtraSource],
) -> Result<Vec<Vec<WeightEpisode>>> {
    extra
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let params = &adapter.params;
            let specs = draw_source_episodes(&source.domains, params, Some(i), source.episodes);
            let n_features = source.domains[0].x.ncols();
            let mut local = untrained_adapter(params, n_features, source.known.clone());
            local.heads = adapter.heads.clone();
            local.init_norm = adapter.init_norm.clone();
            local.feature_norm = adapter.feature_norm.clone();
            if params.pooled_member() {
                let parts: Vec<(ndarray::ArrayView2<f64>, &[u32])> = source
                    .domains
                    .iter()
                    .map(|d| (d.x.view(), &d.y[..]))
                    .collect();
                local.pooled = Some(PooledSample::of(&parts)?);
            }
            tracing::info!(
                source = %source.name,
                episodes = specs.len(),
                "meta-training: episodes of another source"
            );
            specs
                .par_iter()
                .progress_with(progress_bar(params, specs.len(), "episodes (other source)"))
                .map(|s| weight_episode(&local, &source.domains, s))
                .collect()
        })
        .collect()
}

/// Stage B: the weighting head, on local forests grown from the (now learned) initialisation, trained on the known
/// domains' training episodes and every `extra` episode (other sources); early stopping and the epoch count are
/// decided on the known domains alone. Returns the known domains' normalised episodes (the threshold rule is fitted
/// on them).
fn train_weighting(
    adapter: &mut Adapter,
    report: &mut TrainReport,
    domains: &[DomainData],
    specs: &[EpisodeRows],
    n_train: usize,
    mut extra: Vec<WeightEpisode>,
) -> Result<Vec<WeightEpisode>> {
    let params = adapter.params.clone();
    let mut stage_b: Vec<WeightEpisode> = specs
        .par_iter()
        .progress_with(progress_bar(&params, specs.len(), "episodes (weighting)"))
        .map(|s| weight_episode(adapter, domains, s))
        .collect::<Result<_>>()?;
    let rows: Vec<[f32; WEIGHT_IN]> = stage_b[..n_train]
        .iter()
        .chain(&extra)
        .flat_map(|e| e.rows.clone())
        .collect();
    adapter.weight_norm = Normalizer::fit(&rows);
    stage_b.iter_mut().chain(extra.iter_mut()).for_each(|e| {
        adapter.weight_norm.apply(&mut e.rows);
        adapter.weight_norm.apply(&mut e.unlabelled_rows);
    });
    let (train, val) = stage_b.split_at(n_train);
    let equal = zero_weight_head();
    report.equal_weight_val_loss = weight_loss(&equal, &val.iter().collect::<Vec<_>>());
    let (train, val): (Vec<&WeightEpisode>, Vec<&WeightEpisode>) =
        (train.iter().chain(&extra).collect(), val.iter().collect());
    // Other sources' episodes always train; only the known domains are held out.
    let groups: Vec<Option<usize>> = specs
        .iter()
        .map(|s| Some(s.target))
        .chain(extra.iter().map(|_| None))
        .collect();
    let every: Vec<&WeightEpisode> = stage_b.iter().chain(&extra).collect();
    let val_specs = &specs[n_train..];
    let held_out_domain = val_specs.first().map(|s| s.target).filter(|&d| {
        val_specs.iter().all(|s| s.target == d) && specs[..n_train].iter().all(|s| s.target != d)
    });
    let split = SplitRun {
        train,
        val,
        held_out_domain,
    };
    let ((val_loss, split_epochs), lodo) = validation_and_held_out_epochs(
        &split,
        &every,
        &groups,
        params.schedule(),
        params.epoch_choice(),
    )?;
    let best_epochs = lodo.unwrap_or(split_epochs);
    report.weight_val_loss = val_loss;
    report.weight_epochs = best_epochs;
    report.weight_head_anchored = best_epochs == 0;
    // No epoch beat the untrained head on the unseen domain: keep fixed weights rather than weights that only fit
    // the training domains, with the local forest's share chosen on the known domains' episodes.
    let mlp = if best_epochs == 0 {
        let head = fixed_share_on_known_domains(&adapter.weight_norm, &stage_b, specs);
        // Read off the head, as a loaded model reads it.
        report.fixed_local_share = fixed_local_share(&head, &adapter.weight_norm);
        head
    } else {
        train_weight_head(&every, &[], params.schedule(), Some(best_epochs), None)?.0
    };
    adapter.heads.weight = Some(mlp);
    tracing::info!(
        val_loss,
        anchored_untrained = report.equal_weight_val_loss,
        "meta-training: weighting head done"
    );
    Ok(stage_b)
}

/// The fixed weighting with the lowest loss on the known domains' episodes, each domain counted equally (every
/// episode leaves its own domain's forest out, and nothing is fitted but the choice, so all of them are held out),
/// among [`FIXED_LOCAL_SHARES`]; on ties the larger local share.
fn fixed_share_on_known_domains(
    norm: &Normalizer,
    episodes: &[WeightEpisode],
    specs: &[EpisodeRows],
) -> Mlp {
    let mut by_domain: std::collections::BTreeMap<usize, Vec<&WeightEpisode>> = Default::default();
    for (e, s) in episodes.iter().zip(specs) {
        by_domain.entry(s.target).or_default().push(e);
    }
    let (mut best, mut best_loss) = (None, f64::INFINITY);
    for &share in &FIXED_LOCAL_SHARES {
        let head = fixed_share_head(norm, share);
        let loss = mean(by_domain.values().map(|of_d| weight_loss(&head, of_d)));
        tracing::info!(share, loss, "meta-training: fixed weighting, known domains");
        if loss < best_loss {
            (best, best_loss) = (Some(head), loss);
        }
    }
    best.unwrap_or_else(zero_weight_head)
}

/// The threshold rule, on the whole-domain episodes (a new network's traffic is all of its attacks at its own
/// balance, not one attack class); kept only if it beats threshold ½ on known domains held out.
fn fit_threshold_rule(
    adapter: &Adapter,
    domains: &[DomainData],
    stage_b: &[WeightEpisode],
    specs: &[EpisodeRows],
) -> ThresholdRule {
    let (threshold_episodes, groups): (Vec<ThresholdEpisode>, Vec<usize>) = stage_b
        .par_iter()
        .zip(specs)
        .filter(|(_, s)| s.whole_domain)
        .map(|(e, s)| {
            let learner = &adapter.heads;
            let query = combine(&learner.score_rows(&e.rows), &e.probs, e.n_forests);
            let unlabelled = combine(
                &learner.score_rows(&e.unlabelled_rows),
                &e.unlabelled_probs,
                e.n_forests,
            );
            // With a kept coverage shift the rule reads the shifted probabilities, as the detector will.
            let (query, unlabelled) = match adapter.coverage_shift() {
                Some(shift) => {
                    let d = &domains[s.target];
                    let cov = episode_coverage(adapter, domains, s);
                    let shifted = |rows: &[usize], p: Vec<f64>| {
                        let phi = coverage_features(&cov, select(&d.x, rows).view(), &p);
                        p.iter()
                            .zip(&phi)
                            .map(|(&p, phi)| shift.apply(p, phi))
                            .collect::<Vec<f64>>()
                    };
                    (shifted(&s.query, query), shifted(&s.unlabelled, unlabelled))
                }
                None => (query, unlabelled),
            };
            let episode = ThresholdEpisode {
                query_probs: query,
                labels: e.labels.iter().map(|&y| (y > 0.5) as u32).collect(),
                flagged: ThresholdRule::flagged_share(&unlabelled),
            };
            (episode, s.target)
        })
        .filter(|(e, _)| e.labels.contains(&1) && e.labels.contains(&0))
        .unzip();
    let rule = ThresholdRule::fit_checked(&threshold_episodes, &groups);
    tracing::info!(rule = ?rule, "meta-training: threshold rule");
    rule
}

/// The episode's support in the rank space of the known forests it adapts with.
fn episode_coverage(adapter: &Adapter, domains: &[DomainData], s: &EpisodeRows) -> SupportCoverage {
    let d = &domains[s.target];
    let sx = select(&d.x, &s.support);
    let sy: Vec<u32> = s.support.iter().map(|&r| d.y[r]).collect();
    adapter.support_coverage(
        &known_except(adapter, s.target),
        Support {
            x: sx.view(),
            y: &sy,
        },
    )
}

/// Stage C (only with `MetaParams::coverage_shift`): the per-flow coverage shift on the ensemble's query
/// probabilities under the trained weighting head, kept only if it passes the held-out known-domain check
/// ([`crate::coverage::fit_checked`]).
fn train_coverage_shift(
    adapter: &Adapter,
    domains: &[DomainData],
    specs: &[EpisodeRows],
    stage_b: &[WeightEpisode],
) -> CoverageState {
    let episodes: Vec<CoverageEpisode> = specs
        .par_iter()
        .zip(stage_b)
        .map(|(s, e)| {
            let d = &domains[s.target];
            let probs = combine(&adapter.heads.score_rows(&e.rows), &e.probs, e.n_forests);
            let cov = episode_coverage(adapter, domains, s);
            let features = coverage_features(&cov, select(&d.x, &s.query).view(), &probs);
            CoverageEpisode {
                probs,
                features,
                labels: e.labels.iter().map(|&y| (y > 0.5) as u32).collect(),
                loss_weights: e.loss_weights.iter().map(|&w| w as f64).collect(),
                whole_domain: s.whole_domain,
            }
        })
        .collect();
    let groups: Vec<usize> = specs.iter().map(|s| s.target).collect();
    let state = crate::coverage::fit_checked(&episodes, &groups, adapter.params.coverage_gate());
    tracing::info!(summary = %state.summary(), "meta-training: coverage shift");
    state
}

fn init_episode(adapter: &Adapter, domains: &[DomainData], s: &EpisodeRows) -> Result<InitEpisode> {
    let (sx, sy, qx, qy) = s.matrices(domains);
    let support = Support {
        x: sx.view(),
        y: &sy,
    };
    let ids = known_except(adapter, s.target);
    let settings = local_settings(adapter, s);
    let known_forests = adapter.known_forests(&ids);
    let plain = grow_local(&Initialisation::plain(), &settings, support, &known_forests)?;
    let (evidence, stats) = adapter.evidence(&ids, &[], &plain, support);
    let task = task_descriptor(s.k, &evidence[..ids.len()], &stats, None);
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
            Ok(log_loss(&qy, &attack_probs(&local, qx.view())))
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
        .map(|&i| (&adapter.known[i].forest, &adapter.known[i].facts))
        .collect();
    let feature_in = feature_inputs(&facts, &plain.feature_importances(), support, &stats);
    let target_imp = &adapter.known[s.target].facts.importances;
    let z: f64 = target_imp.iter().sum::<f64>().max(1e-12);
    Ok(InitEpisode {
        config_in: init_input(&task, &evidence[..ids.len()]),
        config_target,
        feature_in,
        prior_target: target_imp.iter().map(|v| (v / z) as f32).collect(),
        config_losses: losses
            .clone()
            .try_into()
            .expect("one loss per configuration"),
    })
}

fn weight_episode(
    adapter: &Adapter,
    domains: &[DomainData],
    s: &EpisodeRows,
) -> Result<WeightEpisode> {
    let d = &domains[s.target];
    let (sx, qx) = (select(&d.x, &s.support), select(&d.x, &s.query));
    let sy: Vec<u32> = s.support.iter().map(|&r| d.y[r]).collect();
    let support = Support {
        x: sx.view(),
        y: &sy,
    };
    let ids = known_except(adapter, s.target);
    let ux = select(&d.x, &s.unlabelled);
    // With the self-trained member, the episode self-trains on its own unlabelled sample, as adaptation will.
    let unlabelled = adapter.params.self_trained_member().then(|| ux.view());
    let a = adapter.analyse(&ids, support, &local_settings(adapter, s), unlabelled)?;
    let forests = a.forests(adapter.known_forests(&ids));
    let q = query_evidence(&forests, &a.evidence, &a.task, qx.view());
    let u = query_evidence(&forests, &a.evidence, &a.task, ux.view());
    let labels: Vec<f32> = s.query.iter().map(|&r| d.y[r] as f32).collect();
    Ok(WeightEpisode {
        probs: flow_major(&q.probs),
        rows: q.rows,
        loss_weights: loss_weights(&labels, true),
        labels,
        n_forests: forests.len(),
        k: s.k,
        unlabelled_probs: flow_major(&u.probs),
        unlabelled_rows: u.rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Episodes of two domains whose two known forests score every flow `known` right (attack probability
    /// `known` on attacks, `1 − known` on benign flows) and whose local forest scores it `local` right.
    fn episodes(known: f32, local: f32) -> (Normalizer, Vec<WeightEpisode>, Vec<EpisodeRows>) {
        let n_forests = 3;
        let labels: Vec<f32> = (0..20).map(|i| (i % 2) as f32).collect();
        let right = |p: f32, y: f32| if y > 0.5 { p } else { 1.0 - p };
        let probs: Vec<f32> = labels
            .iter()
            .flat_map(|&y| [right(known, y), right(known, y), right(local, y)])
            .collect();
        let mut rows: Vec<[f32; WEIGHT_IN]> = (0..labels.len() * n_forests)
            .map(|i| {
                let mut r = [0f32; WEIGHT_IN];
                r[forest_slot::IS_LOCAL] = (i % n_forests == n_forests - 1) as u8 as f32;
                r
            })
            .collect();
        let norm = Normalizer::fit(&rows);
        norm.apply(&mut rows);
        let episode = || WeightEpisode {
            rows: rows.clone(),
            probs: probs.clone(),
            loss_weights: loss_weights(&labels, true),
            labels: labels.clone(),
            n_forests,
            k: 1,
            unlabelled_rows: Vec::new(),
            unlabelled_probs: Vec::new(),
        };
        let spec = |target| EpisodeRows {
            target,
            whole_domain: true,
            k: 1,
            support: Vec::new(),
            query: Vec::new(),
            unlabelled: Vec::new(),
        };
        (norm, vec![episode(), episode()], vec![spec(0), spec(1)])
    }

    #[test]
    fn the_fixed_share_follows_whichever_members_score_the_known_domains_best() {
        // Known forests right, the local forest barely better than chance: the smallest local share.
        let (norm, e, s) = episodes(0.9, 0.55);
        let head = fixed_share_on_known_domains(&norm, &e, &s);
        assert!((fixed_local_share(&head, &norm) - 0.1).abs() < 1e-6);
        // The local forest right, the known forests wrong: the anchor itself.
        let (norm, e, s) = episodes(0.3, 0.9);
        assert_eq!(
            fixed_share_on_known_domains(&norm, &e, &s),
            zero_weight_head()
        );
    }

    #[test]
    fn a_held_out_run_told_to_stop_trains_no_further() {
        // Known forests right: the head learns to weight them, unless told to stop before its first epoch.
        let (_, e, _) = episodes(0.9, 0.55);
        let refs: Vec<&WeightEpisode> = e.iter().collect();
        let params = crate::params::MetaParams::default().check().unwrap();
        let (_, _, epochs) =
            train_weight_head(&refs, &refs, params.schedule(), None, None).unwrap();
        assert!(epochs > 0);
        let stop = AtomicBool::new(true);
        let (head, _, epochs) =
            train_weight_head(&refs, &refs, params.schedule(), None, Some(&stop)).unwrap();
        assert_eq!((epochs, head), (0, zero_weight_head()));
    }
}
