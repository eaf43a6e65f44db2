//! # 07 — Compare against plain forests, the way the benchmarks do
//!
//! One draw proves nothing. The evaluation harness (`metaforest::eval`) runs every method on the
//! *same* folds and the *same* seeded K-shot draws, so differences can be paired draw by draw. Its
//! baselines are plain forests (B0 support only, B1 pooled known domains, B2 pooled + support, B3/B4
//! ensembles, B5 tuned, B6 EM prior, ORACLE on the whole pool). Any detector construction joins them
//! by implementing the `Method` trait; here META is plugged in with tiny settings.
//!
//! On the real data it runs protocol P1 (leave one NF-v2 data set out) for one held-out data set;
//! without data, the synthetic protocol SYN. `metaforest bench` runs the full protocols.
//!
//! `cargo run --release --example 07_compare_against_plain_forests [-- OUT_DIR]`
//! (with `OUT_DIR`, also writes the full report there: Markdown, CSV, JSON and SVG plots.)

use linfa::ParamGuard;
use metaforest::eval::bench::{run_bench_with, BenchRequest, Protocol};
use metaforest::eval::report::{
    markdown_metric_table, markdown_paired_table, svg_plot, write_atomic, write_reports, Grid,
    MEAN_DOMAIN,
};
use metaforest::eval::{BenchParams, Draw, EvalError, Fold, Method, PortsMode, Scored};
use metaforest::flows::{episode::stratified_split, Stratify};
use metaforest::meta::{DomainData, MetaModel, MetaParams, ValidMetaParams};

// ANCHOR: method
/// META as a harness method: meta-train once per fold on the known domains, adapt on every draw.
struct Meta {
    params: ValidMetaParams,
    model: Option<MetaModel>,
}

impl Method for Meta {
    fn name(&self) -> &str {
        "META"
    }

    fn describe(&self) -> String {
        "meta-learned forest weights and local-forest initialisation (example settings)".into()
    }

    /// Sees only the known domains of the fold; the held-out domain is not reachable from here
    /// except through `fold.unlabelled`, which META does not read.
    fn prepare(&mut self, fold: &Fold) -> metaforest::eval::Result<()> {
        let mut known = Vec::new();
        for (i, d) in fold.known.iter().enumerate() {
            let rows = stratified_split(
                &fold.table,
                &d.rows,
                1.0,
                Some(8_000),
                Stratify::Class,
                i as u64,
            )?;
            known.push(DomainData::from_table(&fold.table, &d.name, &rows.test));
        }
        let model = MetaModel::fit(&known, &self.params).map_err(|e| EvalError::Domain {
            domain: fold.held_out.clone(),
            message: e.to_string(),
        })?;
        self.model = Some(model);
        Ok(())
    }

    /// Called concurrently for the draws of a fold: adapt to the draw's support, score the test set.
    fn score(&self, fold: &Fold, draw: &Draw) -> metaforest::eval::Result<Scored> {
        let model = (self.model.as_ref())
            .ok_or_else(|| EvalError::Config("META: score() called before prepare()".into()))?;
        let detector = model
            .adapt(draw.x_support.view(), &draw.y_support)
            .map_err(|e| EvalError::Domain {
                domain: fold.held_out.clone(),
                message: e.to_string(),
            })?;
        Ok(Scored {
            proba: detector.predict_proba(fold.x_test.view()),
            pred: detector.predict(fold.x_test.view()),
        })
    }
}
// ANCHOR_END: method

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ANCHOR: run
    // The CI smoke preset, shrunk further: 4 draws at K = 5 and 10, one held-out domain.
    let config = BenchParams::quick()
        .draws(4)
        .ks(vec![5, 10])
        .domains(Some(vec!["CSE-CIC".into(), "synthetic-net-2".into()]))
        .progress(false)
        .check()?;
    let mut request = BenchRequest::new(vec![Protocol::P1], metaforest::flows::data_dir(), config);
    request.ports = PortsMode::With; // P1 also runs without the port columns by default
    let meta = Meta {
        params: MetaParams::default()
            .n_episodes(80)
            .ks(vec![1, 5, 10, 20])
            .query_size(128)
            .task_learner_trees(30)
            .local_trees(20)
            .max_epochs(15)
            .seed(7)
            .check()
            .expect("valid meta-learner parameters"),
        model: None,
    };
    let started = std::time::Instant::now();
    // Falls back to SYN (and says so in the notes) when the NF-v2 data is absent.
    let out = run_bench_with(&request, vec![Box::new(meta)])?;
    println!("ran in {:.1?}", started.elapsed());
    for note in &out.notes {
        println!("note: {note}");
    }
    // ANCHOR_END: run

    // ANCHOR: report
    // The records (one per method × K × draw) are what the report writer turns into tables and
    // plots (`metaforest::eval::report::write_reports`). Print two of its tables here.
    for grid in Grid::group(&out.records) {
        let domain = grid
            .report_domains()
            .into_iter()
            .find(|d| d != MEAN_DOMAIN)
            .expect("one held-out domain");
        println!(
            "\n{}, held-out domain {domain}: macro-F1, mean ± 95 % interval",
            grid.title()
        );
        println!("{}", markdown_metric_table(&grid, &domain, "macro_f1"));
        println!("paired difference to B0 (same draws; `*` = interval excludes 0):");
        println!(
            "{}",
            markdown_paired_table(&grid, &domain, Some("B0"), "macro_f1")
        );
    }
    // ANCHOR_END: report

    // ANCHOR: write
    // Everything `metaforest bench` writes: report.md, summary.csv, records.json, plots/*.svg. The
    // book's build also keeps one plot under a fixed name (`macro_f1.svg`) to show it.
    if let Some(dir) = std::env::args_os().nth(1).map(std::path::PathBuf::from) {
        if let Some(grid) = Grid::group(&out.records).first() {
            let domain = grid.report_domains().into_iter().find(|d| d != MEAN_DOMAIN);
            let path = dir.join("macro_f1.svg");
            let svg = svg_plot(
                grid,
                domain.as_deref().unwrap_or(MEAN_DOMAIN),
                "macro_f1",
                &path,
            )?;
            write_atomic(&path, svg.as_bytes())?;
        }
        let command = "cargo run --release --example 07_compare_against_plain_forests".to_string();
        let seconds = started.elapsed().as_secs_f64();
        let written = write_reports(&dir, &out.into_report_input(command, Some(seconds)), None)?;
        println!(
            "wrote {} report files under {}",
            written.len() + 1,
            dir.display()
        );
    }
    // ANCHOR_END: write
    Ok(())
}
