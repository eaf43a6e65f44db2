//! `metaforest bench p1|p2|p3|syn|all`: the evaluation protocols (metaforest-eval). The forest engine
//! against other forest libraries is a separate binary: `cargo run --release -p metaforest-compare`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Subcommand};
use linfa::ParamGuard;

use metaforest_eval::bench::{run_bench_with, BenchRequest, Protocol};
use metaforest_eval::meta_method::MetaMethod;
use metaforest_eval::meta_sources::{MetaSources, SourceKind};
use metaforest_eval::report::{markdown_metric_table, write_reports, Grid};
use metaforest_eval::{BenchConfig, BenchParams, PortsMode};
use metaforest_meta::{CoverageGate, EpochChoice, Heads, MetaParams};

/// `metaforest bench …`
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// Which benchmark to run.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// P1: leave one NF-v2 data set out (benign vs attack), with and without the port columns.
    P1(ProtocolArgs),
    /// P2: NSL-KDD, the KDDTrain+ → KDDTest+ figure and K-shot tasks for the novel attack types.
    P2(ProtocolArgs),
    /// P3: UNSW-NB15, one attack family held out at a time.
    P3(ProtocolArgs),
    /// SYN: leave one simulated network out, on the synthetic generator (needs no data).
    Syn(ProtocolArgs),
    /// P1, P2 and P3 in one report.
    All(ProtocolArgs),
    /// Moved: prints the command that compares the forest engine with other forest libraries.
    #[command(disable_help_flag = true)]
    Forest {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
}

/// Flags shared by the protocol benchmarks.
#[derive(Debug, Args, Clone)]
pub struct ProtocolArgs {
    /// Output folder for report.md, summary.csv, records.json and plots/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Also write the per-draw JSON records to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draws per K (default 30; 5 with --quick).
    #[arg(long)]
    pub draws: Option<usize>,
    /// Labelled flows per class, comma-separated (default 1,5,10,20,50,100; 1,5,20 with --quick).
    #[arg(long, value_delimiter = ',')]
    pub ks: Option<Vec<usize>>,
    /// Held-out domains to run, comma-separated case-insensitive name fragments (default: all).
    #[arg(long, value_delimiter = ',')]
    pub domains: Option<Vec<String>>,
    /// Seed of splits, draws and forests.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// P1 with the port columns only.
    #[arg(long, conflicts_with = "no_ports")]
    pub ports: bool,
    /// P1 without the port columns only (default: both variants).
    #[arg(long)]
    pub no_ports: bool,
    /// Smoke preset: fewer draws, Ks, trees and rows (under two minutes on two cores).
    #[arg(long)]
    pub quick: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Leave out the META rows (baselines only).
    #[arg(long)]
    pub no_meta: bool,
    /// Also run the ablation rows META-B (weights and initialisation) and META-I (initialisation only);
    /// META itself is weights only.
    #[arg(long)]
    pub ablation: bool,
    /// Meta-training episodes per fold (default 480; 120 with --quick).
    #[arg(long)]
    pub meta_episodes: Option<usize>,
    /// Meta-train the META rows with the per-flow coverage shift (`MetaParams::coverage_shift`, off by default),
    /// kept per fold only if it passes this check on held-out known domains: `every` (none may lose), `mean` (their
    /// mean must gain) or `unchecked` (a diagnostic: always kept).
    #[arg(long, value_parser = ["every", "mean", "unchecked"])]
    pub meta_coverage: Option<String>,
    /// Other data sets the META rows' weighting head also meta-trains on, each in its own feature space:
    /// `unsw` (UNSW-NB15's families), `nsl` (NSL-KDD's training families), `nf` (the NF-v2 networks, no ports),
    /// `syn` (synthetic networks). A fold never uses its own protocol's data set, its held-out domain or another
    /// export of the same capture. Default: none.
    #[arg(long, value_delimiter = ',', value_parser = ["unsw", "nsl", "nf", "syn"])]
    pub meta_sources: Vec<String>,
    /// Episodes drawn from each of `--meta-sources` (default: as many as --meta-episodes).
    #[arg(long)]
    pub meta_source_episodes: Option<usize>,
    /// Augment the META rows' meta-training episodes: query attack shares drawn uniform in log-odds and half of the
    /// supports narrow (`MetaParams::share_augmentation`, `narrow_support_share(0.5)`). Off by default.
    #[arg(long)]
    pub meta_augment: bool,
    /// How the weighting head's training length is chosen from the known domains held out in turn: `least` (the
    /// default: every held-out domain must still gain) or `median`.
    #[arg(long, value_parser = ["least", "median"])]
    pub meta_epochs: Option<String>,
    /// More members the META rows' weighting head weighs beside the known forests and the local forest: `pooled` (a
    /// forest on a sample of the known domains plus the support, as B2; `MetaParams::pooled_member`), `self-trained`
    /// (with unlabelled flows, META+U's self-trained forest beside the support-only one rather than in its place;
    /// `MetaParams::self_trained_member`). Default: none.
    #[arg(long, value_delimiter = ',', value_parser = ["pooled", "self-trained"])]
    pub meta_members: Vec<String>,
}

impl ProtocolArgs {
    fn config(&self) -> metaforest_eval::Result<BenchConfig> {
        let mut params = if self.quick {
            BenchParams::quick()
        } else {
            BenchParams::new()
        };
        if let Some(d) = self.draws {
            params = params.draws(d);
        }
        if let Some(ks) = &self.ks {
            params = params.ks(ks.clone());
        }
        params
            .domains(self.domains.clone())
            .seed(self.seed)
            .progress(!self.no_progress)
            .check()
    }

    /// The META rows: META and META+U share one meta-model per fold; the ablation rows train their own.
    fn meta_methods(
        &self,
        cfg: &BenchConfig,
        data_dir: &std::path::Path,
    ) -> metaforest_eval::Result<Vec<Box<dyn metaforest_eval::Method>>> {
        if self.no_meta {
            return Ok(vec![]);
        }
        let episodes = self
            .meta_episodes
            .unwrap_or(if self.quick { 120 } else { 480 });
        // The local forest has as many trees as B0's, so META and B0 differ only in what is meta-learned.
        let params = MetaParams::default()
            .n_episodes(episodes)
            .local_trees(cfg.trees_local())
            .coverage_shift(self.meta_coverage.is_some())
            .coverage_gate(match self.meta_coverage.as_deref() {
                Some("mean") => CoverageGate::MeanOfKnownDomains,
                Some("unchecked") => CoverageGate::Unchecked,
                _ => CoverageGate::EveryKnownDomain,
            });
        let params = if self.meta_augment {
            params.share_augmentation(true).narrow_support_share(0.5)
        } else {
            params
        };
        let params = match self.meta_epochs.as_deref() {
            Some("median") => params.epoch_choice(EpochChoice::Median),
            _ => params,
        };
        let member = |name: &str| self.meta_members.iter().any(|m| m == name);
        let params = params
            .pooled_member(member("pooled"))
            .self_trained_member(member("self-trained"));
        let params = if self.quick {
            params.max_epochs(15)
        } else {
            params
        };
        let sources = if self.meta_sources.is_empty() {
            None
        } else {
            let kinds = self
                .meta_sources
                .iter()
                .map(|n| SourceKind::parse(n))
                .collect::<metaforest_eval::Result<Vec<_>>>()?;
            Some(Arc::new(MetaSources::new(
                kinds,
                data_dir,
                self.meta_source_episodes.unwrap_or(episodes),
            )))
        };
        let mut methods = MetaMethod::pair_with_sources(params.clone(), sources);
        if self.ablation {
            methods.push(MetaMethod::single(
                "META-B",
                params.clone().heads(Heads::Both),
            ));
            methods.push(MetaMethod::single("META-I", params.heads(Heads::InitOnly)));
        }
        Ok(methods)
    }

    fn ports_mode(&self) -> PortsMode {
        match (self.ports, self.no_ports) {
            (true, _) => PortsMode::With,
            (_, true) => PortsMode::Without,
            _ => PortsMode::Both,
        }
    }
}

/// Runs `metaforest bench …`; prints the macro-F1 tables, where the reports went and the wall time.
/// The data folder and thread count are the global `--data` / `--threads`.
pub fn run(ctx: &super::Context, args: BenchArgs) -> super::CmdResult {
    let (protocols, pa) = match args.command {
        BenchCommand::Forest { rest } => {
            return Err(format!(
                "`metaforest bench forest` moved out of the shipped binary; run, from a source checkout:\n  \
                 cargo run --release -p metaforest-compare -- --data {}{} {}",
                ctx.data_dir.display(),
                ctx.threads.map_or(String::new(), |n| format!(" --threads {n}")),
                rest.join(" ")
            )
            .into())
        }
        BenchCommand::P1(a) => (vec![Protocol::P1], a),
        BenchCommand::P2(a) => (vec![Protocol::P2], a),
        BenchCommand::P3(a) => (vec![Protocol::P3], a),
        BenchCommand::Syn(a) => (vec![Protocol::Synthetic], a),
        BenchCommand::All(a) => (Protocol::ALL_REAL.to_vec(), a),
    };
    let cfg = pa.config()?;
    let meta = pa.meta_methods(&cfg, &ctx.data_dir)?;
    let mut req = BenchRequest::new(protocols, ctx.data_dir.clone(), cfg);
    req.ports = pa.ports_mode();
    // The global rayon pool is already sized by `--threads`.
    req.threads = None;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let started = Instant::now();
    let out = run_bench_with(&req, meta)?;
    let secs = started.elapsed().as_secs_f64();
    for n in out.notes.iter().filter(|n| n.starts_with("no data")) {
        eprintln!("note: {n}");
    }
    let input = out.into_report_input(command, Some(secs));
    let written = write_reports(&pa.out, &input, pa.json.as_deref())?;
    for g in Grid::group(&input.records) {
        let domain = g.report_domains().remove(0);
        println!(
            "\n{} — {} — macro-F1 (mean ± 95 % half-interval over draws)\n",
            g.title(),
            domain
        );
        print!("{}", markdown_metric_table(&g, &domain, "macro_f1"));
    }
    println!(
        "{} records, {} files written to {} in {:.1} s wall time",
        input.records.len(),
        written.len(),
        pa.out.display(),
        secs
    );
    println!("report: {}", pa.out.join("report.md").display());
    Ok(())
}
