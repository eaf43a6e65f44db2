//! Protocols P1–P3 (and SYN on the synthetic generator) as data: which table, which domains can be known,
//! and per held-out domain its adaptation pool and test rows. Fully seeded; [`crate::runner::run_protocol`]
//! runs them.
//!
//! A protocol is a [`ProtocolSpec`]: one flow table, the domains that can be known, and one [`FoldSpec`] per
//! held-out domain (its adaptation pool and test rows, and which domains are known). Every random choice
//! derives from [`BenchConfig::seed`] through indices, never through thread scheduling.

use std::path::Path;
use std::sync::Arc;

use rand::seq::SliceRandom;

use metaforest_flows::{datasets, domains::domains_by_dataset, Domain, FlowTable};

use crate::config::BenchConfig;
use crate::error::Result;
use crate::sampling::{derive, rng, stratified_cap, stratified_split};

/// The two NF-v2 port columns that P1 runs with and without.
pub const PORT_COLUMNS: [&str; 2] = ["L4_SRC_PORT", "L4_DST_PORT"];

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
    pub domains: Vec<Domain>,
    pub folds: Vec<FoldSpec>,
    /// Seed of the protocol (folds and domain forests derive from it).
    pub seed: u64,
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
    domains: Vec<Domain>,
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
    let domains = domains_by_dataset(&table);
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
    let domains = families_with_normal_shares(fams, &normal, derive(seed, 1));
    leave_one_out(protocol, "", Arc::new(table), domains, cfg)
}

/// Known domains from attack families: each family's rows plus an even, seeded share of the normal rows.
fn families_with_normal_shares(
    families: impl IntoIterator<Item = (String, Vec<usize>)>,
    normal: &[usize],
    seed: u64,
) -> Vec<Domain> {
    let families: Vec<(String, Vec<usize>)> = families.into_iter().collect();
    let parts = partition(normal, families.len().max(1), seed);
    families
        .into_iter()
        .zip(parts)
        .map(|((name, mut rows), normal_part)| {
            rows.extend(normal_part);
            rows.sort_unstable();
            Domain { name, rows }
        })
        .collect()
}

/// P2 on NSL-KDD (loaded with `datasets::load_nsl_kdd_all`): K-shot tasks, one per attack type absent from
/// KDDTrain+ with at least `p2_min_rows` rows in KDDTest+ ("KDDTest+ normal vs that type", split 50/50 into
/// pool and test). Known domains: the training families, each with an even share of KDDTrain+'s normal rows.
/// The standard KDDTrain+ → KDDTest+ figure is [`crate::standard_figure::p2_standard_figure`].
pub fn p2_spec(nsl: &datasets::NslKdd, cfg: &BenchConfig) -> Result<ProtocolSpec> {
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
    let mut domains = families_with_normal_shares(fam_rows, &train_normal, derive(seed, 1));
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
    Ok(spec)
}
