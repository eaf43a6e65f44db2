//! The runner: scores every method on identical folds and draws of a [`ProtocolSpec`].
//!
//! [`run_protocol`] trains one forest per known domain once (in parallel), then for each fold prepares every
//! method and scores all (K, draw) pairs in parallel. Every random choice derives from the protocol's seed
//! through indices, never through thread scheduling, so a run is identical at any thread count.

use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use metaforest_forest::Forest;

use crate::config::BenchConfig;
use crate::error::{EvalError, Result};
use crate::learner::{attack_proba, rows_labels, rows_matrix, rows_targets, ForestSpec};
use crate::method::{Draw, Fold, Method};
use crate::metrics::evaluate;
use crate::protocol::{FoldSpec, ProtocolSpec};
use crate::report::Record;
use crate::sampling::{by_label, derive, k_per_class, rng, stratified_cap};

/// What a run produced: per-draw records, notes, and extra Markdown sections.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    pub records: Vec<Record>,
    pub notes: Vec<String>,
    pub sections: Vec<String>,
}

impl RunOutput {
    /// Appends another run's output.
    pub fn extend(&mut self, other: RunOutput) {
        self.records.extend(other.records);
        self.notes.extend(other.notes);
        self.sections.extend(other.sections);
    }
}

/// Trains one forest per domain that is known in some fold (in parallel), on a stratified cap of its rows.
fn train_domain_forests(
    spec: &ProtocolSpec,
    cfg: &BenchConfig,
) -> Result<Vec<Option<Arc<Forest>>>> {
    let mut needed = vec![false; spec.domains.len()];
    for f in &spec.folds {
        if cfg.wants(&f.held_out) {
            f.known.iter().for_each(|&k| needed[k] = true);
        }
    }
    let labels = spec.table.labels();
    (0..spec.domains.len())
        .into_par_iter()
        .map(|i| {
            if !needed[i] {
                return Ok(None);
            }
            let rows = stratified_cap(
                &spec.domains[i].rows,
                labels,
                cfg.known_cap,
                &mut rng(spec.seed, 200 + i as u64),
            );
            let forest = ForestSpec::default_with_trees(cfg.trees_known).fit(
                rows_matrix(&spec.table, &rows).view(),
                &rows_targets(&spec.table, &rows),
                None,
                derive(spec.seed, 300 + i as u64),
            )?;
            Ok(Some(Arc::new(forest)))
        })
        .collect()
}

fn label_counts(rows: &[usize], labels: &[u8]) -> (usize, usize) {
    let [b, a] = by_label(rows, labels);
    (b.len(), a.len())
}

/// A method's preparation is named in the report's notes when it takes at least this long.
const PREPARE_NOTE_SECONDS: f64 = 0.05;

/// Runs every method on every fold and draw of `spec`.
pub fn run_protocol(
    spec: &ProtocolSpec,
    cfg: &Arc<BenchConfig>,
    methods: &mut [Box<dyn Method>],
) -> Result<RunOutput> {
    let started = Instant::now();
    let mut out = RunOutput::default();
    let title = if spec.variant.is_empty() {
        spec.protocol.clone()
    } else {
        format!("{} ({})", spec.protocol, spec.variant)
    };
    let labels = spec.table.labels();
    let folds: Vec<(usize, &FoldSpec)> = spec
        .folds
        .iter()
        .enumerate()
        .filter(|(_, f)| cfg.wants(&f.held_out))
        .collect();
    if folds.is_empty() {
        out.notes.push(format!(
            "{title}: no held-out domain matches --domains; nothing run"
        ));
        return Ok(out);
    }
    let forests_started = Instant::now();
    let domain_forests = train_domain_forests(spec, cfg)?;
    let forests_seconds = forests_started.elapsed().as_secs_f64();
    let mut prepare_totals: Vec<(String, f64)> = Vec::new();

    // Ks a fold can run: the pool must hold k rows of each class.
    let fold_ks: Vec<Vec<usize>> = folds
        .iter()
        .map(|(_, f)| {
            let (b, a) = label_counts(&f.pool, labels);
            cfg.ks
                .iter()
                .copied()
                .filter(|&k| k <= b && k <= a)
                .collect()
        })
        .collect();
    let total: usize = fold_ks.iter().map(|ks| ks.len() * cfg.draws).sum();
    let bar = if cfg.progress {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} draws (eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_prefix(title.clone());
        b
    } else {
        ProgressBar::hidden()
    };

    for ((fold_index, fs), ks) in folds.iter().zip(&fold_ks) {
        bar.set_message(format!("{} (preparing)", fs.held_out));
        let fold_seed = derive(spec.seed, 100 + *fold_index as u64);
        let (pb, pa) = label_counts(&fs.pool, labels);
        let (tb, ta) = label_counts(&fs.test, labels);
        let skipped: Vec<usize> = cfg.ks.iter().copied().filter(|k| !ks.contains(k)).collect();
        let known_names: Vec<&str> = fs
            .known
            .iter()
            .map(|&k| spec.domains[k].name.as_str())
            .collect();
        out.notes.push(format!(
            "{title}, held-out {}: pool {} benign / {} attack, test {} benign / {} attack; known: {}{}",
            fs.held_out,
            pb,
            pa,
            tb,
            ta,
            known_names.join(", "),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; K {skipped:?} skipped (the pool has fewer flows of a class)")
            }
        ));
        let known_forests: Vec<Arc<Forest>> = fs
            .known
            .iter()
            .map(|&k| {
                domain_forests[k].clone().ok_or_else(|| {
                    EvalError::Config(format!(
                        "no forest for known domain {}",
                        spec.domains[k].name
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let x_test = rows_matrix(&spec.table, &fs.test);
        let known_test_proba: Vec<Vec<f64>> = known_forests
            .par_iter()
            .map(|f| attack_proba(f, x_test.view()))
            .collect::<Result<_>>()?;
        // B6's unlabelled flows: a uniform sample of the pool (chosen without looking at labels).
        let mut unlabelled: Vec<usize> = if fs.pool.len() > cfg.unlabelled_cap {
            fs.pool
                .choose_multiple(&mut rng(fold_seed, 7), cfg.unlabelled_cap)
                .copied()
                .collect()
        } else {
            fs.pool.clone()
        };
        unlabelled.sort_unstable();
        let fold = Fold {
            protocol: spec.protocol.clone(),
            variant: spec.variant.clone(),
            held_out: fs.held_out.clone(),
            table: spec.table.clone(),
            known: fs.known.iter().map(|&k| spec.domains[k].clone()).collect(),
            known_forests,
            known_test_proba,
            pool: fs.pool.clone(),
            test: fs.test.clone(),
            y_test: rows_labels(&spec.table, &fs.test),
            x_test,
            x_unlabelled: rows_matrix(&spec.table, &unlabelled),
            unlabelled,
            seed: fold_seed,
            config: cfg.clone(),
        };
        // Preparation is timed apart from the draws (nothing else runs meanwhile): for META it is the
        // fold's meta-training, the figure the "P1 meta-training under 10 minutes" is about.
        let mut prepared = Vec::new();
        for m in methods.iter_mut() {
            let t = Instant::now();
            m.prepare(&fold)?;
            let secs = t.elapsed().as_secs_f64();
            if secs >= PREPARE_NOTE_SECONDS {
                prepared.push(format!("{} {secs:.1} s", m.name()));
            }
            match prepare_totals.iter_mut().find(|(n, _)| n == m.name()) {
                Some((_, total)) => *total += secs,
                None => prepare_totals.push((m.name().to_string(), secs)),
            }
        }
        if !prepared.is_empty() {
            out.notes.push(format!(
                "{title}, held-out {}: per-fold preparation on the known domains: {}",
                fs.held_out,
                prepared.join(", ")
            ));
        }
        for m in methods.iter() {
            if let Some(choice) = m.fold_choice().filter(|c| !c.is_empty()) {
                out.notes.push(format!(
                    "{title}, held-out {}: {} {choice}",
                    fs.held_out,
                    m.name()
                ));
            }
        }
        bar.set_message(fs.held_out.clone());
        let jobs: Vec<(usize, usize)> = ks
            .iter()
            .flat_map(|&k| (0..cfg.draws).map(move |d| (k, d)))
            .collect();
        let methods_ref: &[Box<dyn Method>] = methods;
        let per_job: Vec<Result<Vec<Record>>> = jobs
            .par_iter()
            .map(|&(k, d)| {
                let r = run_draw(spec, &fold, methods_ref, k, d);
                bar.inc(1);
                r
            })
            .collect();
        for r in per_job {
            out.records.extend(r?);
        }
    }
    bar.finish_and_clear();
    let slow: Vec<String> = prepare_totals
        .iter()
        .filter(|(_, s)| *s >= PREPARE_NOTE_SECONDS)
        .map(|(n, s)| format!("{n} {s:.1} s"))
        .collect();
    if !slow.is_empty() {
        out.notes.push(format!(
            "{title}: preparation summed over the {} folds run, {} threads: {}",
            folds.len(),
            rayon::current_num_threads(),
            slow.join(", ")
        ));
    }
    out.notes.push(format!(
        "{title}: {} records in {:.1} s (forests of the {} domains trained in {:.1} s)",
        out.records.len(),
        started.elapsed().as_secs_f64(),
        spec.domains.len(),
        forests_seconds
    ));
    Ok(out)
}

fn run_draw(
    spec: &ProtocolSpec,
    fold: &Fold,
    methods: &[Box<dyn Method>],
    k: usize,
    d: usize,
) -> Result<Vec<Record>> {
    let seed = derive(derive(fold.seed, 1_000 + k as u64), d as u64);
    let support =
        k_per_class(&fold.pool, fold.labels(), k, &mut rng(seed, 0)).ok_or_else(|| {
            EvalError::Domain {
                domain: fold.held_out.clone(),
                message: format!("the adaptation pool has fewer than {k} flows of a class"),
            }
        })?;
    let x_support = rows_matrix(&spec.table, &support);
    let y_support = rows_targets(&spec.table, &support);
    let local = ForestSpec::default_with_trees(fold.config.trees_local).fit(
        x_support.view(),
        &y_support,
        None,
        derive(seed, 1),
    )?;
    let local_test_proba = attack_proba(&local, fold.x_test.view())?;
    let draw = Draw {
        k,
        index: d,
        seed,
        support,
        x_support,
        y_support,
        local: Arc::new(local),
        local_test_proba,
    };
    methods
        .iter()
        .map(|m| {
            let s = m.score(fold, &draw)?;
            let metrics = evaluate(&fold.y_test, &s.proba, &s.pred)?;
            Ok(Record {
                protocol: spec.protocol.clone(),
                variant: spec.variant.clone(),
                domain: fold.held_out.clone(),
                method: m.name().to_string(),
                k,
                draw: d,
                seed,
                n_test: fold.y_test.len(),
                uses_unlabelled: m.uses_unlabelled(),
                metrics,
            })
        })
        .collect()
}

/// Runs `f` on a rayon pool of `threads` threads (or the global pool when `None`).
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        None => Ok(f()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| EvalError::Config(format!("thread pool: {e}")))?;
            Ok(pool.install(f))
        }
    }
}
