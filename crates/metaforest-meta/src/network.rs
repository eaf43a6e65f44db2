//! The meta-network: three small MLPs trained with dfdx, served by a plain-Rust forward pass.
//!
//! * the **weighting head** scores every (forest, flow) row: a weight logit (softmax over the forests of that flow);
//!   the local forest's weight logit carries a fixed anchor ([`local_anchor`]) so an untrained head is the local forest at 95 %;
//! * the **configuration head** picks the local forest's hyperparameters from a small grid;
//! * the **prior head** scores every feature for the local forest's per-split sampling prior.
//!
//! Training uses dfdx (autodiff + Adam); inference uses [`Mlp`], the same weights read out of dfdx, so one flow is
//! scored without tensor allocation and another backend could replace dfdx behind [`MetaLearner`].

use std::sync::atomic::{AtomicBool, Ordering};

use dfdx::optim::Adam;
use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::descriptor::{forest_slot, Normalizer, FEATURE_WIDTH, INIT_IN, WEIGHT_IN};
use crate::error::{MetaError, Result};
use crate::init::N_CONFIGS;
use crate::prob::{binary_macro_f1, logit, sigmoid, PROB_EPS};

const HIDDEN: usize = 64;
// The weighting head keeps a second output that nothing reads (a per-flow logit shift, measured and dropped): removing
// it would change the shape of the last layer, hence dfdx's random initialisation and the stored files.
type WeightNet = (
    Linear<WEIGHT_IN, HIDDEN>,
    ReLU,
    Linear<HIDDEN, HIDDEN>,
    ReLU,
    Linear<HIDDEN, 2>,
);
type ConfigNet = (Linear<INIT_IN, 32>, ReLU, Linear<32, N_CONFIGS>);
type PriorNet = (Linear<FEATURE_WIDTH, 16>, ReLU, Linear<16, 1>);

/// What the adaptation step asks of a meta-network. dfdx trains the default implementation, [`MlpMetaLearner`].
pub trait MetaLearner: Send + Sync {
    /// For normalised (forest, flow) rows: (weight logit, unused second output) per row.
    fn score_rows(&self, rows: &[[f32; WEIGHT_IN]]) -> Vec<(f32, f32)>;
    /// Logits over the local-forest configuration grid.
    fn config_logits(&self, input: &[f32; INIT_IN]) -> Vec<f32>;
    /// One sampling-prior logit per feature.
    fn prior_logits(&self, rows: &[[f32; FEATURE_WIDTH]]) -> Vec<f32>;
}

/// A dense ReLU network held as plain vectors: `layers[i] = (weight out×in row-major, bias)`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Mlp {
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Mlp {
    pub fn forward(&self, input: &[f32]) -> Vec<f32> {
        let mut h = input.to_vec();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            let n_in = h.len();
            let mut out = b.clone();
            for (o, out_v) in out.iter_mut().enumerate() {
                let row = &w[o * n_in..(o + 1) * n_in];
                *out_v += row.iter().zip(&h).map(|(a, b)| a * b).sum::<f32>();
            }
            if i + 1 < self.layers.len() {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            h = out;
        }
        h
    }
}

fn linear<const I: usize, const O: usize>(
    l: &dfdx::nn::modules::Linear<I, O, f32, Cpu>,
) -> (Vec<f32>, Vec<f32>) {
    (l.weight.as_vec(), l.bias.as_vec())
}

fn weight_mlp(m: &<WeightNet as BuildOnDevice<Cpu, f32>>::Built) -> Mlp {
    Mlp {
        layers: vec![linear(&m.0), linear(&m.2), linear(&m.4)],
    }
}
fn config_mlp(m: &<ConfigNet as BuildOnDevice<Cpu, f32>>::Built) -> Mlp {
    Mlp {
        layers: vec![linear(&m.0), linear(&m.2)],
    }
}
fn prior_mlp(m: &<PriorNet as BuildOnDevice<Cpu, f32>>::Built) -> Mlp {
    Mlp {
        layers: vec![linear(&m.0), linear(&m.2)],
    }
}

/// A weighting head of the trained shape whose outputs are all zero: the local-anchored mixture.
pub fn zero_weight_head() -> Mlp {
    Mlp {
        layers: vec![
            (vec![0.0; HIDDEN * WEIGHT_IN], vec![0.0; HIDDEN]),
            (vec![0.0; HIDDEN * HIDDEN], vec![0.0; HIDDEN]),
            (vec![0.0; 2 * HIDDEN], vec![0.0; 2]),
        ],
    }
}

/// Shares of the weight the local forest may keep when the weighting head is not trained, the rest split equally
/// among the other members; meta-training picks one on held-out known domains (the first, 95 %, is the anchor
/// itself).
pub const FIXED_LOCAL_SHARES: [f64; 5] = [0.95, 0.75, 0.5, 0.25, 0.1];

/// A weighting head of the trained shape that gives the local forest `share` of every flow's weight and the other
/// members equal parts of the rest, whatever their number: its only input is the local-forest flag (as `norm`
/// standardises it), and it moves the local logit by `logit(share) − logit(0.95)` against the anchor. Share 0.95
/// is exactly [`zero_weight_head`].
pub fn fixed_share_head(norm: &Normalizer, share: f64) -> Mlp {
    let mut head = zero_weight_head();
    let shift = (logit(share) - logit(0.95)) as f32;
    if shift == 0.0 {
        return head;
    }
    // The flag's standardised values on a local row and on any other row; the first unit is 1 on the local
    // forest's rows and 0 on the others.
    let (on, off) = (local_flag(norm, 1.0), local_flag(norm, 0.0));
    let slope = 1.0 / (on - off);
    head.layers[0].0[forest_slot::IS_LOCAL] = slope;
    head.layers[0].1[0] = -off * slope;
    head.layers[1].0[0] = 1.0;
    head.layers[2].0[0] = shift;
    head
}

/// The local forest's share of the weight under a head whose outputs do not depend on the flow (an untrained or
/// [`fixed_share_head`] head): read off its outputs on a local and on another member's row of average evidence.
pub fn fixed_local_share(head: &Mlp, norm: &Normalizer) -> f64 {
    let row = |flag: f32| {
        let mut r = [0f32; WEIGHT_IN];
        r[forest_slot::IS_LOCAL] = local_flag(norm, flag);
        head.forward(&r)[0]
    };
    sigmoid((row(1.0) - row(0.0)) as f64 + logit(0.95))
}

/// The standardised local-forest flag.
fn local_flag(norm: &Normalizer, flag: f32) -> f32 {
    let mut r = [0f32; WEIGHT_IN];
    r[forest_slot::IS_LOCAL] = flag;
    norm.apply(std::slice::from_mut(&mut r));
    r[forest_slot::IS_LOCAL]
}

/// The trained heads, as plain weights, plus the dfdx safetensors bytes they were read from (what the model file
/// stores, so the file is loadable back into dfdx for further training).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MlpMetaLearner {
    pub weight: Option<Mlp>,
    pub config: Option<Mlp>,
    pub prior: Option<Mlp>,
}

/// Layer shapes `(inputs, outputs)` of each head, as dfdx compiles them.
const WEIGHT_LAYERS: [(usize, usize); 3] = [(WEIGHT_IN, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, 2)];
const CONFIG_LAYERS: [(usize, usize); 2] = [(INIT_IN, 32), (32, N_CONFIGS)];
const PRIOR_LAYERS: [(usize, usize); 2] = [(FEATURE_WIDTH, 16), (16, 1)];

impl Mlp {
    /// Checks that the layers have exactly the `(inputs, outputs)` shapes given and finite weights, so
    /// [`Mlp::forward`] cannot index out of bounds (a model read from a file).
    fn check_shape(&self, shapes: &[(usize, usize)]) -> std::result::Result<(), String> {
        if self.layers.len() != shapes.len() {
            return Err(format!(
                "{} layers, expected {}",
                self.layers.len(),
                shapes.len()
            ));
        }
        for (i, ((w, b), &(n_in, n_out))) in self.layers.iter().zip(shapes).enumerate() {
            if w.len() != n_in * n_out || b.len() != n_out {
                return Err(format!(
                    "layer {i} has {} weights and {} biases, expected {n_in}×{n_out} and {n_out}",
                    w.len(),
                    b.len()
                ));
            }
            if w.iter().chain(b).any(|v| !v.is_finite()) {
                return Err(format!("layer {i} has a non-finite weight"));
            }
        }
        Ok(())
    }
}

/// A dense layer's (inputs, outputs).
type LayerShape = (usize, usize);

impl MlpMetaLearner {
    /// Checks every present head against the widths the network was compiled with.
    pub(crate) fn check_shapes(&self) -> std::result::Result<(), String> {
        let heads: [(&str, &Option<Mlp>, &[LayerShape]); 3] = [
            ("weighting", &self.weight, &WEIGHT_LAYERS),
            ("configuration", &self.config, &CONFIG_LAYERS),
            ("prior", &self.prior, &PRIOR_LAYERS),
        ];
        for (name, head, shapes) in heads {
            if let Some(m) = head {
                m.check_shape(shapes)
                    .map_err(|e| format!("{name} head: {e}"))?;
            }
        }
        Ok(())
    }
}

impl MetaLearner for MlpMetaLearner {
    fn score_rows(&self, rows: &[[f32; WEIGHT_IN]]) -> Vec<(f32, f32)> {
        match &self.weight {
            Some(m) => m
                .forward_rows(rows)
                .chunks(2)
                .map(|o| (o[0], o[1]))
                .collect(),
            // No weighting head (ablation "initialisation only"): the local forest alone decides.
            None => vec![(0.0, 0.0); rows.len()],
        }
    }
    fn config_logits(&self, input: &[f32; INIT_IN]) -> Vec<f32> {
        self.config
            .as_ref()
            .map(|m| m.forward(input))
            .unwrap_or_else(|| vec![0.0; N_CONFIGS])
    }
    fn prior_logits(&self, rows: &[[f32; FEATURE_WIDTH]]) -> Vec<f32> {
        match &self.prior {
            Some(m) => rows.iter().map(|r| m.forward(r)[0]).collect(),
            None => vec![0.0; rows.len()],
        }
    }
}

/// One cached weighting episode: normalised rows (flow-major, `n_forests` rows per flow), the forests' attack
/// probabilities laid out the same way, and the flows' 0/1 labels.
pub struct WeightEpisode {
    pub rows: Vec<[f32; WEIGHT_IN]>,
    pub probs: Vec<f32>,
    pub labels: Vec<f32>,
    /// Per-flow loss weights summing to 1, class-balanced: the weights learn to rank, prior-free (a balanced support
    /// says nothing of the domain's balance); the operating point is the threshold rule's job.
    pub loss_weights: Vec<f32>,
    pub n_forests: usize,
    /// Support flows per class (K) the episode was drawn with.
    pub k: usize,
    /// Rows and forest probabilities of the episode's unlabelled flows (same layout), for the threshold rule.
    pub unlabelled_rows: Vec<[f32; WEIGHT_IN]>,
    pub unlabelled_probs: Vec<f32>,
}

/// Logit added to the local forest's weight before the softmax, so an untrained (or uninformative) head gives the
/// local forest 95 % of the weight. Zero-shot known forests score far below a K-shot local forest on a new network
/// (B1, B3 in the reports), so the head has to *earn* every bit of weight it moves onto them.
pub fn local_anchor(n_forests: usize) -> f32 {
    // Local weight 0.95 at equal head outputs, whatever the number of known forests.
    (19.0 * n_forests.saturating_sub(1).max(1) as f32).ln()
}

/// Per-flow mixture weights (sum 1) from the head's weight logits; the local forest is the last row.
pub fn mixture_weights(outputs: &[(f32, f32)]) -> Vec<f64> {
    let n = outputs.len();
    let anchor = local_anchor(n);
    let logits: Vec<f32> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| o.0 + if i + 1 == n { anchor } else { 0.0 })
        .collect();
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let e: Vec<f64> = logits.iter().map(|&l| ((l - max) as f64).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|v| v / z).collect()
}

/// Combines per-row network outputs into each flow's attack probability: softmax weights over the flow's forests,
/// then a weighted average of their probabilities, clipped to [`PROB_EPS`] (through the logit, as the training loss
/// sees it).
pub fn combine(outputs: &[(f32, f32)], probs: &[f32], n_forests: usize) -> Vec<f64> {
    outputs
        .chunks(n_forests)
        .zip(probs.chunks(n_forests))
        .map(|(o, p)| {
            let e = mixture_weights(o);
            let mix: f64 = e.iter().zip(p).map(|(w, &p)| w * p as f64).sum();
            sigmoid(logit(mix))
        })
        .collect()
}

fn bce(p: &[f64], y: &[f32], w: &[f32]) -> f64 {
    let eps = PROB_EPS;
    p.iter()
        .zip(y)
        .zip(w)
        .map(|((&p, &y), &w)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(y as f64 * p.ln() + (1.0 - y as f64) * (1.0 - p).ln()) * w as f64
        })
        .sum::<f64>()
}

/// Loss weights for a query: each class gets half of the total (`balanced`), or every flow the same share.
pub fn loss_weights(labels: &[f32], balanced: bool) -> Vec<f32> {
    let n = labels.len().max(1) as f32;
    if !balanced {
        return vec![1.0 / n; labels.len()];
    }
    let pos = labels.iter().filter(|&&y| y > 0.5).count() as f32;
    let neg = labels.len() as f32 - pos;
    labels
        .iter()
        .map(|&y| {
            if y > 0.5 {
                0.5 / pos.max(1.0)
            } else {
                0.5 / neg.max(1.0)
            }
        })
        .collect()
}

/// Mean over episodes of `score(ensemble probabilities, episode)`, the ensemble weighted by the head `mlp` through
/// the plain forward pass.
fn mean_over_episodes(
    mlp: &Mlp,
    episodes: &[&WeightEpisode],
    score: impl Fn(&[f64], &WeightEpisode) -> f64,
) -> f64 {
    let learner = MlpMetaLearner {
        weight: Some(mlp.clone()),
        config: None,
        prior: None,
    };
    let total: f64 = episodes
        .iter()
        .map(|e| {
            score(
                &combine(&learner.score_rows(&e.rows), &e.probs, e.n_forests),
                e,
            )
        })
        .sum();
    total / episodes.len().max(1) as f64
}

/// Mean query cross-entropy of the weighted ensemble over episodes.
pub fn weight_loss(mlp: &Mlp, episodes: &[&WeightEpisode]) -> f64 {
    mean_over_episodes(mlp, episodes, |p, e| bce(p, &e.labels, &e.loss_weights))
}

/// Mean query macro-F1 at threshold ½ of the weighted ensemble over episodes.
pub fn weight_macro_f1(mlp: &Mlp, episodes: &[&WeightEpisode]) -> f64 {
    mean_over_episodes(mlp, episodes, |p, e| {
        let y: Vec<u32> = e.labels.iter().map(|&v| u32::from(v > 0.5)).collect();
        binary_macro_f1(&y, p.iter().map(|&q| q >= 0.5))
    })
}

/// Training schedule shared by the three heads.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainSchedule {
    pub max_epochs: usize,
    pub patience: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

fn adam_config(lr: f64) -> AdamConfig {
    AdamConfig {
        lr,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weight_decay: Some(WeightDecay::L2(1e-4)),
    }
}

/// Early stopping shared by the three heads: keeps the best candidate by validation loss (a candidate must beat it
/// by more than `1e-5`) and says when `patience` checks in a row brought no improvement.
struct EarlyStopping<T> {
    best: T,
    best_loss: f64,
    since_best: usize,
    patience: usize,
}

impl<T> EarlyStopping<T> {
    fn new(initial: T, loss: f64, patience: usize) -> Self {
        Self {
            best: initial,
            best_loss: loss,
            since_best: 0,
            patience,
        }
    }

    /// Records one validation check; `candidate` is built only when it improves. Returns whether to stop.
    fn check(&mut self, loss: f64, candidate: impl FnOnce() -> T) -> bool {
        if loss < self.best_loss - 1e-5 {
            self.best = candidate();
            self.best_loss = loss;
            self.since_best = 0;
            false
        } else {
            self.since_best += 1;
            self.since_best >= self.patience
        }
    }

    fn into_best(self) -> (T, f64) {
        (self.best, self.best_loss)
    }
}

fn net_err<E: std::fmt::Debug>(e: E) -> MetaError {
    MetaError::Network(format!("{e:?}"))
}

/// Trains the weighting head on `train` episodes, stopping early on the loss of `val` episodes, or for exactly
/// `fixed_epochs` epochs (then `val` may be empty); `stop`, once set, ends training before the next epoch (the
/// caller no longer needs the result). Returns the best network (by validation loss), its validation
/// loss, and the number of epochs that produced it (0: the untrained network was best).
pub fn train_weight_head(
    train: &[&WeightEpisode],
    val: &[&WeightEpisode],
    schedule: &TrainSchedule,
    fixed_epochs: Option<usize>,
    stop: Option<&AtomicBool>,
) -> Result<(Mlp, f64, usize)> {
    let dev = Cpu::seed_from_u64(schedule.seed);
    let mut model = dev.build_module::<WeightNet, f32>();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(&model, adam_config(schedule.learning_rate));
    let wsel = dev.tensor([[1.0f32], [0.0]]);
    let mut rng = ChaCha8Rng::seed_from_u64(schedule.seed ^ 0x5eed);
    // The reference is the anchored head with zero outputs, not dfdx's random initialisation.
    let zero = zero_weight_head();
    let zero_loss = weight_loss(&zero, val);
    let mut stopping = EarlyStopping::new((zero, 0), zero_loss, schedule.patience);
    let mut fixed = None;
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 0..fixed_epochs.unwrap_or(schedule.max_epochs) {
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        order.shuffle(&mut rng);
        let mut train_loss = 0.0;
        for &i in &order {
            let e = train[i];
            let (q, f) = (e.labels.len(), e.n_forests);
            if q == 0 {
                continue;
            }
            let flat: Vec<f32> = e.rows.iter().flat_map(|r| r.iter().copied()).collect();
            let x = dev.tensor_from_vec(flat, (q * f, Const::<WEIGHT_IN>));
            let probs = dev.tensor_from_vec(e.probs.clone(), (q, f));
            let y = dev.tensor_from_vec(e.labels.clone(), (q,));
            let lw = dev.tensor_from_vec(e.loss_weights.clone(), (q,));
            let out = model.forward_mut(x.traced(grads));
            let (wl, tape) = out.matmul(wsel.clone()).split_tape();
            let anchor: Vec<f32> = (0..q * f)
                .map(|i| if i % f == f - 1 { local_anchor(f) } else { 0.0 })
                .collect();
            let anchor = dev.tensor_from_vec(anchor, (q, f));
            let w = (wl.put_tape(tape).reshape_like(&(q, f)) + anchor).softmax::<Axis<1>>();
            let eps = PROB_EPS as f32;
            let (p, tape) = (w * probs)
                .sum::<(usize,), Axis<1>>()
                .clamp(eps, 1.0 - eps)
                .split_tape();
            let lg = p.clone().put_tape(tape).ln() - (p.negate() + 1.0).ln();
            let loss = (lg.bce_with_logits(y) * lw).sum::<(), _>();
            train_loss += loss.array() as f64;
            grads = loss.backward();
            opt.update(&mut model, &grads).map_err(net_err)?;
            model.zero_grads(&mut grads);
        }
        let mlp = weight_mlp(&model);
        if fixed_epochs.is_some() {
            fixed = Some((mlp, f64::NAN, epoch + 1));
            continue;
        }
        let v = weight_loss(&mlp, val);
        tracing::info!(
            epoch,
            train_loss = train_loss / train.len().max(1) as f64,
            val_loss = v,
            "meta-training: weighting head"
        );
        if stopping.check(v, || (mlp, epoch + 1)) {
            break;
        }
    }
    Ok(fixed.unwrap_or_else(|| {
        let ((mlp, epochs), loss) = stopping.into_best();
        (mlp, loss, epochs)
    }))
}

/// Trains the configuration head: cross-entropy toward soft targets (a softmax of each configuration's negative query
/// loss on the episode). Full batch; early stopping on `val`.
pub fn train_config_head(
    train: &[([f32; INIT_IN], [f32; N_CONFIGS])],
    val: &[([f32; INIT_IN], [f32; N_CONFIGS])],
    schedule: &TrainSchedule,
) -> Result<Mlp> {
    let dev = Cpu::seed_from_u64(schedule.seed ^ 0xc0f1);
    let mut model = dev.build_module::<ConfigNet, f32>();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(&model, adam_config(schedule.learning_rate));
    let to_tensors = |set: &[([f32; INIT_IN], [f32; N_CONFIGS])]| {
        let n = set.len();
        let x: Vec<f32> = set.iter().flat_map(|(x, _)| x.iter().copied()).collect();
        let t: Vec<f32> = set.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        (
            dev.tensor_from_vec(x, (n, Const::<INIT_IN>)),
            dev.tensor_from_vec(t, (n, Const::<N_CONFIGS>)),
        )
    };
    let (tx, tt) = to_tensors(train);
    let (vx, vt) = to_tensors(val);
    let mut stopping = EarlyStopping::new(config_mlp(&model), f64::INFINITY, schedule.patience);
    // Full-batch steps are cheap (a few hundred rows); check validation every 10 steps.
    for step in 0..schedule.max_epochs * 10 {
        let logits = model.forward_mut(tx.clone().traced(grads));
        let loss = cross_entropy_with_logits_loss(logits, tt.clone());
        grads = loss.backward();
        opt.update(&mut model, &grads).map_err(net_err)?;
        model.zero_grads(&mut grads);
        if step % 10 == 9 {
            let v = if val.is_empty() {
                0.0
            } else {
                cross_entropy_with_logits_loss(model.forward(vx.clone()), vt.clone()).array() as f64
            };
            if stopping.check(v, || config_mlp(&model)) {
                break;
            }
        }
    }
    let (best, val_loss) = stopping.into_best();
    tracing::info!(val_loss, "meta-training: configuration head");
    Ok(best)
}

/// Trains the prior head: per episode, cross-entropy between the softmax of the features' logits and the importance
/// distribution of a forest trained on all of the pseudo-target domain's data.
pub fn train_prior_head(
    train: &[(Vec<[f32; FEATURE_WIDTH]>, Vec<f32>)],
    val: &[(Vec<[f32; FEATURE_WIDTH]>, Vec<f32>)],
    schedule: &TrainSchedule,
) -> Result<Mlp> {
    let dev = Cpu::seed_from_u64(schedule.seed ^ 0x9e10);
    let mut model = dev.build_module::<PriorNet, f32>();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(&model, adam_config(schedule.learning_rate));
    let val_loss = |mlp: &Mlp| -> f64 {
        let mut total = 0.0;
        for (rows, target) in val {
            let logits: Vec<f64> = rows.iter().map(|r| mlp.forward(r)[0] as f64).collect();
            let max = logits.iter().copied().fold(f64::MIN, f64::max);
            let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
            total -= logits
                .iter()
                .zip(target)
                .map(|(l, &t)| t as f64 * (l - lse))
                .sum::<f64>();
        }
        total / val.len().max(1) as f64
    };
    let mut stopping = EarlyStopping::new(
        prior_mlp(&model),
        val_loss(&prior_mlp(&model)),
        schedule.patience,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(schedule.seed ^ 0x9e11);
    let mut order: Vec<usize> = (0..train.len()).collect();
    for _epoch in 0..schedule.max_epochs {
        order.shuffle(&mut rng);
        for &i in &order {
            let (rows, target) = &train[i];
            let nf = rows.len();
            let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
            let x = dev.tensor_from_vec(flat, (nf, Const::<FEATURE_WIDTH>));
            let t = dev.tensor_from_vec(target.clone(), (Const::<1>, nf));
            let logits = model
                .forward_mut(x.traced(grads))
                .reshape_like(&(Const::<1>, nf));
            let loss = cross_entropy_with_logits_loss(logits, t);
            grads = loss.backward();
            opt.update(&mut model, &grads).map_err(net_err)?;
            model.zero_grads(&mut grads);
        }
        let mlp = prior_mlp(&model);
        if stopping.check(val_loss(&mlp), || mlp) {
            break;
        }
    }
    let (best, val_loss) = stopping.into_best();
    tracing::info!(val_loss, "meta-training: prior head");
    Ok(best)
}

/// Writes the heads through dfdx's safetensors support and returns the bytes (one file per head, concatenated with
/// length prefixes), so a model file carries weights any safetensors reader can open.
pub fn to_safetensors(learner: &MlpMetaLearner) -> Result<Vec<Vec<u8>>> {
    let dev: Cpu = Default::default();
    let mut out = Vec::new();
    let dir = tempfile::tempdir().map_err(|e| MetaError::Network(e.to_string()))?;
    let path = dir.path().join("head.safetensors");
    let read =
        |path: &std::path::Path| std::fs::read(path).map_err(|e| MetaError::Network(e.to_string()));
    match &learner.weight {
        Some(m) => {
            let mut net = dev.build_module::<WeightNet, f32>();
            load_layers3(&mut net, m);
            net.save_safetensors(&path).map_err(net_err)?;
            out.push(read(&path)?);
        }
        None => out.push(Vec::new()),
    }
    match &learner.config {
        Some(m) => {
            let mut net = dev.build_module::<ConfigNet, f32>();
            load_layers2(&mut net.0, &mut net.2, m);
            net.save_safetensors(&path).map_err(net_err)?;
            out.push(read(&path)?);
        }
        None => out.push(Vec::new()),
    }
    match &learner.prior {
        Some(m) => {
            let mut net = dev.build_module::<PriorNet, f32>();
            load_layers2(&mut net.0, &mut net.2, m);
            net.save_safetensors(&path).map_err(net_err)?;
            out.push(read(&path)?);
        }
        None => out.push(Vec::new()),
    }
    Ok(out)
}

/// Reads heads back from the safetensors bytes written by [`to_safetensors`].
pub fn from_safetensors(blobs: &[Vec<u8>]) -> Result<MlpMetaLearner> {
    if blobs.len() != 3 {
        return Err(MetaError::Network(format!(
            "expected 3 network blobs, found {}",
            blobs.len()
        )));
    }
    let dev: Cpu = Default::default();
    let dir = tempfile::tempdir().map_err(|e| MetaError::Network(e.to_string()))?;
    let path = dir.path().join("head.safetensors");
    // One head: empty bytes mean "no such head"; otherwise load the bytes into a fresh dfdx module of type $net.
    macro_rules! load_head {
        ($blob:expr, $net:ty, $read:ident) => {
            if $blob.is_empty() {
                None
            } else {
                std::fs::write(&path, $blob).map_err(|e| MetaError::Network(e.to_string()))?;
                let mut net = dev.build_module::<$net, f32>();
                net.load_safetensors(&path).map_err(net_err)?;
                Some($read(&net))
            }
        };
    }
    for blob in blobs.iter().filter(|b| !b.is_empty()) {
        check_f32_tensors(blob)?;
    }
    let weight = load_head!(&blobs[0], WeightNet, weight_mlp);
    let config = load_head!(&blobs[1], ConfigNet, config_mlp);
    let prior = load_head!(&blobs[2], PriorNet, prior_mlp);
    Ok(MlpMetaLearner {
        weight,
        config,
        prior,
    })
}

/// dfdx checks each tensor's shape when it loads one, not its element type; a tensor of another type
/// would make it copy a slice of the wrong length (a panic), so every tensor must be f32.
fn check_f32_tensors(blob: &[u8]) -> Result<()> {
    let tensors = ::safetensors::SafeTensors::deserialize(blob)
        .map_err(|e| MetaError::Network(format!("bad safetensors head: {e}")))?;
    for (name, view) in tensors.tensors() {
        if view.dtype() != ::safetensors::Dtype::F32 {
            return Err(MetaError::Network(format!(
                "safetensors tensor `{name}` is {:?}, expected F32",
                view.dtype()
            )));
        }
    }
    Ok(())
}

fn copy_linear<const I: usize, const O: usize>(
    l: &mut dfdx::nn::modules::Linear<I, O, f32, Cpu>,
    w: &[f32],
    b: &[f32],
) {
    l.weight.copy_from(w);
    l.bias.copy_from(b);
}

fn load_layers3(net: &mut <WeightNet as BuildOnDevice<Cpu, f32>>::Built, m: &Mlp) {
    copy_linear(&mut net.0, &m.layers[0].0, &m.layers[0].1);
    copy_linear(&mut net.2, &m.layers[1].0, &m.layers[1].1);
    copy_linear(&mut net.4, &m.layers[2].0, &m.layers[2].1);
}

fn load_layers2<const I: usize, const H: usize, const O: usize>(
    a: &mut dfdx::nn::modules::Linear<I, H, f32, Cpu>,
    b: &mut dfdx::nn::modules::Linear<H, O, f32, Cpu>,
    m: &Mlp,
) {
    copy_linear(a, &m.layers[0].0, &m.layers[0].1);
    copy_linear(b, &m.layers[1].0, &m.layers[1].1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `n_forests` members (the local one last) with varied evidence, standardised as meta-training does.
    fn rows(n_forests: usize) -> (Normalizer, Vec<[f32; WEIGHT_IN]>) {
        let mut rows: Vec<[f32; WEIGHT_IN]> = (0..40 * n_forests)
            .map(|i| {
                let mut r = [0f32; WEIGHT_IN];
                for (j, v) in r.iter_mut().enumerate() {
                    *v = ((i * 7 + j * 13) % 17) as f32 / 3.0;
                }
                r[forest_slot::IS_LOCAL] = (i % n_forests + 1 == n_forests) as u8 as f32;
                r
            })
            .collect();
        let norm = Normalizer::fit(&rows);
        norm.apply(&mut rows);
        (norm, rows)
    }

    #[test]
    fn a_fixed_share_head_gives_the_local_forest_its_share_at_any_member_count() {
        for n_forests in [2, 4, 9] {
            let (norm, rows) = rows(n_forests);
            for share in FIXED_LOCAL_SHARES {
                let head = fixed_share_head(&norm, share);
                let outputs: Vec<(f32, f32)> = rows
                    .iter()
                    .map(|r| {
                        let o = head.forward(r);
                        (o[0], o[1])
                    })
                    .collect();
                for flow in outputs.chunks(n_forests) {
                    let w = mixture_weights(flow);
                    let rest = (1.0 - share) / (n_forests - 1) as f64;
                    assert!((w[n_forests - 1] - share).abs() < 1e-5, "{w:?} vs {share}");
                    assert!(w[..n_forests - 1].iter().all(|&v| (v - rest).abs() < 1e-5));
                }
                assert!((fixed_local_share(&head, &norm) - share).abs() < 1e-5);
            }
            assert_eq!(fixed_share_head(&norm, 0.95), zero_weight_head());
        }
    }
}
