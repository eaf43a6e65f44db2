//! `metaforest-compare`: the forest engine against linfa-ensemble, smartcore and scikit-learn on the same
//! rows. A separate binary so the competitor libraries never reach the shipped `metaforest`.
//!
//! `cargo run --release -p metaforest-compare -- [--data DIR] [--threads N] [--rows N] [--trees T] [--sklearn] [--json FILE]`

mod bench_forest;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The forest engine against linfa-ensemble, smartcore and scikit-learn.
#[derive(Debug, Parser)]
#[command(name = "metaforest-compare", version, about)]
struct Cli {
    /// Folder holding the public data sets (nf-v2/ is used).
    #[arg(
        long,
        env = metaforest_flows::DATA_ENV,
        default_value = metaforest_flows::DEFAULT_DATA_DIR,
        value_name = "DIR"
    )]
    data: PathBuf,

    /// Threads for every implementation that can use them (default 2).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    #[command(flatten)]
    args: bench_forest::BenchForestArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut args = cli.args;
    args.threads = cli.threads.unwrap_or(2);
    match bench_forest::run(&cli.data, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
