//! Protocols P1–P3 (and SYN on the synthetic generator), fully seeded, and the runner that scores every
//! method on identical folds and draws.
//!
//! A protocol is a [`ProtocolSpec`]: one flow table, the domains that can be known, and one [`FoldSpec`] per
//! held-out domain (its adaptation pool and test rows, and which domains are known). [`run_protocol`]
//! trains one forest per known domain once (in parallel), then for each fold prepares every method and
//! scores all (K, draw) pairs in parallel. Every random choice derives from [`BenchConfig::seed`] through
//! indices, never through thread scheduling, so a run is identical at any thread count.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use metaforest_flows::{datasets, domains::domains_by_dataset, FlowTable};
use metaforest_forest::Forest;

use crate::error::{EvalError, Result};
use crate::learner::{attack_proba, rows_labels, rows_matrix, rows_targets, threshold, ForestSpec};
use crate::method::{DomainRows, Draw, Fold, Method};
use crate::metrics::{evaluate, Confusion};
use crate::report::Record;
use crate::sampling::{by_label, derive, k_per_class, rng, stratified_cap, stratified_split};

/// The two NF-v2 port columns that P1 runs with and without.
pub const PORT_COLUMNS: [&str; 2] = ["L4_SRC_PORT", "L4_DST_PORT"];

/// Knobs of a bench run. [`BenchConfig::default`] is the full protocol; [`BenchConfig::quick`] a CI smoke run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// Draws per K.
    pub draws: usize,
    /// Labelled flows per class in the support.
    pub ks: Vec<usize>,
    /// Held-out domains to run (case-insensitive substrings of their names); `None` = all.
    pub domains: Option<Vec<String>>,
    pub seed: u64,
    /// Trees of local forests (B0, B4's cross-fit, B5, B6).
    pub trees_local: usize,
    /// Trees of per-domain forests, B1's pooled forest, ORACLE and P2's standard forest.
    pub trees_known: usize,
    /// Trees of B2 (refit on every draw on pool + support, the most expensive baseline).
    pub trees_b2: usize,
    /// Trees per candidate while tuning B5.
    pub tune_trees: usize,
    /// Rows (stratified) of each known domain its forest is trained on.
    pub known_cap: usize,
    /// Rows (stratified) of each known domain in B1's pool.
    pub pooled_cap: usize,
    /// Rows (stratified) of each known domain in B2's pool.
    pub b2_cap: usize,
    /// Test rows per held-out domain (stratified cap).
    pub test_cap: usize,
    /// Rows of the adaptation pool ORACLE trains on (stratified cap).
    pub oracle_cap: usize,
    /// Unlabelled pool flows B6 sees (uniform sample).
    pub unlabelled_cap: usize,
    /// K-shot episodes per K used to tune B5.
    pub tune_episodes: usize,
    /// Query rows per tuning episode.
    pub tune_query: usize,
    /// Minimum KDDTest+ rows of a novel attack type for it to become a P2 task.
    pub p2_min_rows: usize,
    /// Show a progress bar.
    pub progress: bool,
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

    /// Checks the configuration can run.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(EvalError::Config(m.to_string()));
        if self.draws == 0 {
            return bad("--draws must be at least 1");
        }
        if self.ks.is_empty() || self.ks.contains(&0) {
            return bad("--ks must list at least one K, each at least 1");
        }
        if [
            self.trees_local,
            self.trees_known,
            self.trees_b2,
            self.tune_trees,
        ]
        .contains(&0)
        {
            return bad("tree counts must be at least 1");
        }
        if [
            self.known_cap,
            self.pooled_cap,
            self.b2_cap,
            self.test_cap,
            self.oracle_cap,
            self.unlabelled_cap,
        ]
        .contains(&0)
        {
            return bad("row caps must be at least 1");
        }
        if self.tune_episodes == 0 || self.tune_query == 0 {
            return bad("B5 needs at least one tuning episode with at least one query row");
        }
        Ok(())
    }

    fn wants(&self, domain: &str) -> bool {
        match &self.domains {
            None => true,
            Some(list) => {
                let d = domain.to_lowercase();
                list.iter().any(|w| d.contains(&w.to_lowercase()))
            }
        }
    }
}

/// One held-out domain of a protocol.
#[derive(Debug, Clone)]
pub struct FoldSpec {
    pub held_out: String,
    /// Indices into [`ProtocolSpec::domains`] of the known domains.
    pub known: Vec<usize>,
    pub pool: Vec<usize>,
    pub test: Vec<usize>,
}

/// A protocol ready to run.
#[derive(Debug, Clone)]
pub struct ProtocolSpec {
    pub protocol: String,
    pub variant: String,
    pub table: Arc<FlowTable>,
    /// Every domain that is known in some fold.
    pub domains: Vec<DomainRows>,
    pub folds: Vec<FoldSpec>,
    /// Seed of the protocol (folds and domain forests derive from it).
    pub seed: u64,
}

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

fn protocol_id(protocol: &str) -> u64 {
    match protocol {
        "P1" => 1,
        "P2" => 2,
        "P3" => 3,
        "SYN" => 4,
        _ => 99,
    }
}

/// The seed of a protocol: shared by its variants so P1 with and without ports sees the same splits and draws.
pub fn protocol_seed(seed: u64, protocol: &str) -> u64 {
    derive(seed, protocol_id(protocol))
}

/// Splits a held-out domain 50/50 (stratified) into adaptation pool and test, then caps the test set
/// (stratified). Rows that the cap drops are used by neither.
pub fn held_out_split(
    rows: &[usize],
    labels: &[u8],
    test_cap: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut r = rng(seed, 0);
    let (pool, test) = stratified_split(rows, labels, 0.5, &mut r);
    let test = stratified_cap(&test, labels, test_cap, &mut r);
    (pool, test)
}

/// Leave-one-domain-out over `domains` of `table` (P1, SYN).
pub fn leave_one_out(
    protocol: &str,
    variant: &str,
    table: Arc<FlowTable>,
    domains: Vec<DomainRows>,
    cfg: &BenchConfig,
) -> ProtocolSpec {
    let seed = protocol_seed(cfg.seed, protocol);
    let folds = (0..domains.len())
        .map(|i| {
            let (pool, test) = held_out_split(
                &domains[i].rows,
                table.labels(),
                cfg.test_cap,
                derive(seed, 10_000 + i as u64),
            );
            FoldSpec {
                held_out: domains[i].name.clone(),
                known: (0..domains.len()).filter(|&j| j != i).collect(),
                pool,
                test,
            }
        })
        .collect();
    ProtocolSpec {
        protocol: protocol.into(),
        variant: variant.into(),
        table,
        domains,
        folds,
        seed,
    }
}

fn to_rows(d: Vec<metaforest_flows::Domain>) -> Vec<DomainRows> {
    d.into_iter()
        .map(|d| DomainRows {
            name: d.name,
            rows: d.rows,
        })
        .collect()
}

/// Which port columns P1 runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortsMode {
    /// With the two port columns.
    With,
    /// Without them.
    Without,
    /// Both variants (the default).
    Both,
}

/// P1: leave one NF-v2 data set out, benign vs attack, with and/or without the port columns.
pub fn p1_specs(data_dir: &Path, ports: PortsMode, cfg: &BenchConfig) -> Result<Vec<ProtocolSpec>> {
    let table = datasets::load_nf_v2_all(data_dir)?;
    let domains = to_rows(domains_by_dataset(&table));
    let mut out = Vec::new();
    if matches!(ports, PortsMode::With | PortsMode::Both) {
        out.push(leave_one_out(
            "P1",
            "ports",
            Arc::new(table.clone()),
            domains.clone(),
            cfg,
        ));
    }
    if matches!(ports, PortsMode::Without | PortsMode::Both) {
        let no_ports = table.drop_columns(&PORT_COLUMNS)?;
        out.push(leave_one_out(
            "P1",
            "no-ports",
            Arc::new(no_ports),
            domains,
            cfg,
        ));
    }
    Ok(out)
}

/// Splits `rows` into `parts` near-equal random parts (seeded); part `i` is sorted.
fn partition(rows: &[usize], parts: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut shuffled = rows.to_vec();
    shuffled.shuffle(&mut rng(seed, 0));
    let mut out = vec![Vec::new(); parts];
    for (i, r) in shuffled.into_iter().enumerate() {
        out[i % parts].push(r);
    }
    out.iter_mut().for_each(|p| p.sort_unstable());
    out
}

/// P3: UNSW-NB15 attack families. Normal rows are split evenly (seeded) among the families, so each
/// family is a "normal vs family" domain; one family is held out at a time, the others are known.
pub fn p3_spec(data_dir: &Path, cfg: &BenchConfig) -> Result<ProtocolSpec> {
    let table = datasets::load_unsw_nb15(data_dir)?;
    Ok(family_spec("P3", table, cfg))
}

/// "Normal vs family" leave-one-family-out on any table whose attack classes are families.
pub fn family_spec(protocol: &str, table: FlowTable, cfg: &BenchConfig) -> ProtocolSpec {
    let seed = protocol_seed(cfg.seed, protocol);
    let labels = table.labels();
    let codes = table.class_codes();
    let names = table.class_names();
    let mut fam_rows: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut normal = Vec::new();
    for r in 0..table.n_rows() {
        if labels[r] == 0 {
            normal.push(r);
        } else {
            fam_rows
                .entry(names[codes[r] as usize].clone())
                .or_default()
                .push(r);
        }
    }
    // Largest families first, so the report reads from the common to the rare.
    let mut fams: Vec<(String, Vec<usize>)> = fam_rows.into_iter().collect();
    fams.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let parts = partition(&normal, fams.len().max(1), derive(seed, 1));
    let domains: Vec<DomainRows> = fams
        .into_iter()
        .zip(parts)
        .map(|((name, mut rows), normal_part)| {
            rows.extend(normal_part);
            rows.sort_unstable();
            DomainRows { name, rows }
        })
        .collect();
    leave_one_out(protocol, "", Arc::new(table), domains, cfg)
}

/// P2 on NSL-KDD: the standard KDDTrain+ → KDDTest+ figure (a Markdown section) and K-shot tasks, one per
/// attack type absent from KDDTrain+ with at least `p2_min_rows` rows in KDDTest+ ("KDDTest+ normal vs
/// that type", split 50/50 into pool and test). Known domains: the training families, each with an even
/// share of KDDTrain+'s normal rows.
pub fn p2(data_dir: &Path, cfg: &BenchConfig) -> Result<(ProtocolSpec, String)> {
    let nsl = datasets::load_nsl_kdd_all(data_dir)?;
    let section = p2_standard_figure(&nsl, cfg)?;
    let n_train = nsl.train.n_rows();
    let table = FlowTable::concat(&[nsl.train.clone(), nsl.test.clone()])?;
    let seed = protocol_seed(cfg.seed, "P2");
    let labels = table.labels();
    let codes = table.class_codes();
    let names = table.class_names();
    let class_of = |r: usize| names[codes[r] as usize].as_str();

    // Known domains: training families.
    let mut fam_rows: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut train_normal = Vec::new();
    for (r, &label) in labels.iter().enumerate().take(n_train) {
        if label == 0 {
            train_normal.push(r);
        } else if let Some(f) = nsl.families.family_of(class_of(r)) {
            fam_rows.entry(f.to_string()).or_default().push(r);
        }
    }
    let parts = partition(&train_normal, fam_rows.len().max(1), derive(seed, 1));
    let mut domains: Vec<DomainRows> = fam_rows
        .into_iter()
        .zip(parts)
        .map(|((name, mut rows), normal_part)| {
            rows.extend(normal_part);
            rows.sort_unstable();
            DomainRows { name, rows }
        })
        .collect();
    let known: Vec<usize> = (0..domains.len()).collect();

    // Held-out tasks: novel types of KDDTest+.
    let test_rows = n_train..table.n_rows();
    let test_normal: Vec<usize> = test_rows.clone().filter(|&r| labels[r] == 0).collect();
    let mut folds = Vec::new();
    for (i, novel) in nsl.families.unseen_in_train().into_iter().enumerate() {
        let attack: Vec<usize> = test_rows
            .clone()
            .filter(|&r| labels[r] != 0 && class_of(r) == novel)
            .collect();
        if attack.len() < cfg.p2_min_rows {
            continue;
        }
        let mut rows = test_normal.clone();
        rows.extend(attack);
        rows.sort_unstable();
        let (pool, test) =
            held_out_split(&rows, labels, cfg.test_cap, derive(seed, 10_000 + i as u64));
        folds.push(FoldSpec {
            held_out: novel.to_string(),
            known: known.clone(),
            pool,
            test,
        });
    }
    // Keep the domain list tidy (no empty family).
    domains.retain(|d| !d.rows.is_empty());
    let spec = ProtocolSpec {
        protocol: "P2".into(),
        variant: String::new(),
        table: Arc::new(table),
        domains,
        folds,
        seed,
    };
    Ok((spec, section))
}

/// The standard NSL-KDD figure: a forest on all of KDDTrain+ (benign vs attack) scored on KDDTest+, with the
/// detection rate on attack types seen in training and on the novel ones.
pub fn p2_standard_figure(nsl: &datasets::NslKdd, cfg: &BenchConfig) -> Result<String> {
    use std::fmt::Write as _;
    let seed = protocol_seed(cfg.seed, "P2");
    let train_rows: Vec<usize> = (0..nsl.train.n_rows()).collect();
    let test_rows: Vec<usize> = (0..nsl.test.n_rows()).collect();
    let forest = ForestSpec::default_with_trees(cfg.trees_known).fit(
        nsl.train.features(),
        &rows_targets(&nsl.train, &train_rows),
        None,
        derive(seed, 2),
    )?;
    let proba = attack_proba(&forest, nsl.test.features())?;
    let pred = threshold(&proba, 0.5);
    let y = rows_labels(&nsl.test, &test_rows);
    let m = evaluate(&y, &proba, &pred)?;
    let names = nsl.test.class_names();
    let codes = nsl.test.class_codes();
    // Per attack type detection.
    let mut per_type: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let (mut seen, mut novel) = ((0usize, 0usize), (0usize, 0usize));
    for r in 0..y.len() {
        if y[r] == 0 {
            continue;
        }
        let t = names[codes[r] as usize].as_str();
        let hit = usize::from(pred[r] == 1);
        let e = per_type.entry(t).or_default();
        e.0 += hit;
        e.1 += 1;
        if nsl.families.seen_in_train(t).unwrap_or(true) {
            seen.0 += hit;
            seen.1 += 1;
        } else {
            novel.0 += hit;
            novel.1 += 1;
        }
    }
    let c = Confusion::new(&y, &pred)?;
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let mut s = String::new();
    let _ = writeln!(s, "## P2 standard figure: NSL-KDD KDDTrain+ → KDDTest+\n");
    let _ = writeln!(
        s,
        "One forest ({} trees, default hyperparameters, seed-derived) on all {} KDDTrain+ rows, benign vs attack, \
         scored on all {} KDDTest+ rows (threshold 0.5).\n",
        cfg.trees_known,
        nsl.train.n_rows(),
        nsl.test.n_rows()
    );
    let _ = writeln!(s, "| metric | value |\n|---|---:|");
    let _ = writeln!(s, "| accuracy | {:.4} |", m.accuracy);
    let _ = writeln!(s, "| macro-F1 | {:.4} |", m.macro_f1);
    let _ = writeln!(
        s,
        "| detection rate (all attacks) | {:.4} |",
        m.detection_rate
    );
    let _ = writeln!(s, "| false-alarm rate | {:.4} |", m.false_alarm_rate);
    let _ = writeln!(s, "| ROC-AUC | {:.4} |", m.roc_auc);
    let _ = writeln!(
        s,
        "| detection rate, attack types seen in KDDTrain+ ({} rows) | {:.4} |",
        seen.1,
        ratio(seen.0, seen.1)
    );
    let _ = writeln!(
        s,
        "| detection rate, the novel attack types ({} rows) | {:.4} |",
        novel.1,
        ratio(novel.0, novel.1)
    );
    let _ = writeln!(
        s,
        "| confusion (tp, fp, tn, fn) | {}, {}, {}, {} |\n",
        c.tp, c.fp, c.tn, c.fn_
    );
    let _ = writeln!(s, "Detection rate per novel attack type:\n\n| type | rows | detected | rate |\n|---|---:|---:|---:|");
    for (t, (hit, n)) in &per_type {
        if !nsl.families.seen_in_train(t).unwrap_or(true) {
            let _ = writeln!(s, "| {t} | {n} | {hit} | {:.3} |", ratio(*hit, *n));
        }
    }
    s.push('\n');
    Ok(s)
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
    cfg.validate()?;
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
            let d = m.describe();
            if !d.is_empty() && m.name() == "B5" {
                out.notes
                    .push(format!("{title}, held-out {}: B5 {d}", fs.held_out));
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
