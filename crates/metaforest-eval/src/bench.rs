//! `metaforest bench p1|p2|p3|syn|all`: runs protocols with the baselines (plus any extra methods, e.g. META)
//! and falls back to the synthetic generator when the real data is absent.

use std::path::PathBuf;
use std::sync::Arc;

use metaforest_flows::{datasets, domains::domains_by_dataset};

use crate::baselines::all_baselines;
use crate::config::BenchConfig;
use crate::error::Result;
use crate::method::Method;
use crate::protocol::{
    leave_one_out, p1_specs, p2_spec, p3_spec, protocol_seed, PortsMode, ProtocolSpec,
};
use crate::report::{standard_figure_markdown, ReportInput};
use crate::runner::{run_protocol, with_threads, RunOutput};
use crate::standard_figure::p2_standard_figure;

/// A protocol of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Leave one NF-v2 data set out.
    P1,
    /// NSL-KDD novel attack types.
    P2,
    /// UNSW-NB15 attack families.
    P3,
    /// Leave one simulated network out, on the synthetic generator (no data needed).
    Synthetic,
}

impl Protocol {
    /// P1, P2 and P3.
    pub const ALL_REAL: [Protocol; 3] = [Protocol::P1, Protocol::P2, Protocol::P3];

    /// Name used in records.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::P1 => "P1",
            Protocol::P2 => "P2",
            Protocol::P3 => "P3",
            Protocol::Synthetic => "SYN",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchRequest {
    pub protocols: Vec<Protocol>,
    pub data_dir: PathBuf,
    pub ports: PortsMode,
    pub config: BenchConfig,
    /// Rayon threads (`None` = rayon's default).
    pub threads: Option<usize>,
    /// Simulated networks of the synthetic protocol.
    pub synthetic_domains: usize,
    /// Rows per simulated network.
    pub synthetic_rows: usize,
}

impl BenchRequest {
    /// A request with both port variants, default threads and a small synthetic setup.
    pub fn new(protocols: Vec<Protocol>, data_dir: PathBuf, config: BenchConfig) -> Self {
        BenchRequest {
            protocols,
            data_dir,
            ports: PortsMode::Both,
            config,
            threads: None,
            synthetic_domains: 4,
            synthetic_rows: 3_000,
        }
    }
}

impl RunOutput {
    /// Turns the output into the report writer's input.
    pub fn into_report_input(self, command: String, wall_seconds: Option<f64>) -> ReportInput {
        ReportInput {
            command,
            sections: self.sections,
            notes: self.notes,
            records: self.records,
            wall_seconds,
        }
    }
}

/// Whether the real data of `p` is present under `dir`.
pub fn has_data(p: Protocol, dir: &std::path::Path) -> bool {
    match p {
        Protocol::P1 => datasets::has_nf_v2(dir),
        Protocol::P2 => datasets::has_nsl_kdd(dir),
        Protocol::P3 => datasets::has_unsw_nb15(dir),
        Protocol::Synthetic => true,
    }
}

/// The synthetic protocol's spec: leave one simulated network out.
pub fn synthetic_spec(
    cfg: &BenchConfig,
    n_domains: usize,
    rows_per_domain: usize,
) -> Result<ProtocolSpec> {
    let scfg = metaforest_flows::SyntheticConfig {
        n_networks: n_domains,
        rows_per_network: rows_per_domain,
        seed: protocol_seed(cfg.seed, "SYN"),
        ..Default::default()
    };
    let table = metaforest_flows::synthetic::generate(&scfg)?;
    let domains = domains_by_dataset(&table);
    Ok(leave_one_out("SYN", "", Arc::new(table), domains, cfg))
}

/// Runs the requested protocols with the baselines and `extra` methods (appended after ORACLE).
/// A real protocol whose data is missing is replaced by the synthetic protocol (once), with a note.
pub fn run_bench_with(req: &BenchRequest, extra: Vec<Box<dyn Method>>) -> Result<RunOutput> {
    let cfg = Arc::new(req.config.clone());
    let mut methods = all_baselines();
    methods.extend(extra);
    with_threads(req.threads, move || {
        let mut out = RunOutput::default();
        let mut todo: Vec<Protocol> = Vec::new();
        for &p in &req.protocols {
            let p = if has_data(p, &req.data_dir) {
                p
            } else {
                out.notes.push(format!(
                    "no data for {} at {}: ran the synthetic protocol SYN instead",
                    p.name(),
                    req.data_dir.display()
                ));
                Protocol::Synthetic
            };
            if !todo.contains(&p) {
                todo.push(p);
            }
        }
        for p in todo {
            match p {
                Protocol::P1 => {
                    for spec in p1_specs(&req.data_dir, req.ports, &cfg)? {
                        out.extend(run_protocol(&spec, &cfg, &mut methods)?);
                    }
                }
                Protocol::P2 => {
                    let nsl = datasets::load_nsl_kdd_all(&req.data_dir)?;
                    let figure = p2_standard_figure(&nsl, &cfg)?;
                    out.sections.push(standard_figure_markdown(&figure));
                    let spec = p2_spec(&nsl, &cfg)?;
                    out.extend(run_protocol(&spec, &cfg, &mut methods)?);
                }
                Protocol::P3 => {
                    let spec = p3_spec(&req.data_dir, &cfg)?;
                    out.extend(run_protocol(&spec, &cfg, &mut methods)?);
                }
                Protocol::Synthetic => {
                    let spec = synthetic_spec(&cfg, req.synthetic_domains, req.synthetic_rows)?;
                    out.extend(run_protocol(&spec, &cfg, &mut methods)?);
                }
            }
        }
        for m in &methods {
            // A method described per fold (B5's tuned choices) is in the fold notes already.
            if m.fold_choice().is_none() {
                out.notes.push(format!(
                    "{}: {}{}",
                    m.name(),
                    m.describe(),
                    if m.uses_unlabelled() {
                        " [uses the held-out domain's unlabelled flows]"
                    } else {
                        ""
                    }
                ));
            }
        }
        Ok(out)
    })?
}

/// [`run_bench_with`] with the baselines only.
pub fn run_bench(req: &BenchRequest) -> Result<RunOutput> {
    run_bench_with(req, Vec::new())
}
