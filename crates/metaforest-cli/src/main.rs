//! `metaforest`: detect network threats in barely-seen domains with meta-learned random forests.
//!
//! Global options come before the command: `metaforest [--data DIR] [--threads N] <COMMAND>`.
//! A command is a module in `commands/` with an `Args` struct and `run(&Context, Args)`; adding one
//! takes a `pub mod` line in `commands/mod.rs` and a variant + match arm here.

mod commands;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Meta-learned random forests that detect network threats in domains they have barely seen.
#[derive(Debug, Parser)]
#[command(name = "metaforest", version, about)]
struct Cli {
    /// Folder holding the public data sets (nf-v2/, nsl-kdd/, unsw-nb15/).
    #[arg(
        long,
        global = true,
        env = metaforest_flows::DATA_ENV,
        default_value = metaforest_flows::DEFAULT_DATA_DIR,
        value_name = "DIR"
    )]
    data: PathBuf,

    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,

    /// More log lines on standard error: -v info, -vv debug, -vvv trace (RUST_LOG, when set, wins).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,

    /// Only errors in the log (RUST_LOG, when set, wins); the commands' own results still print.
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

/// The log filter `-v`/`-q` ask for (warnings only by default).
fn log_level(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Summarise the data sets found: rows, columns, label and class counts, domains
    /// (the synthetic default when none is found).
    Data(commands::data::DataArgs),
    /// Benchmarks: protocols P1, P2, P3 (or all, or the synthetic SYN).
    Bench(commands::bench::BenchArgs),
    /// Meta-train on the known domains and adapt to a held-out one at a few K: META vs a plain forest.
    Demo(commands::demo::DemoArgs),
    /// Train the known-domain forests and the meta-network; write a meta-model (.mf).
    Train(commands::train::TrainArgs),
    /// Adapt a meta-model (or a detector, with more labels) to a new domain from labelled flows (.mfd).
    Adapt(commands::adapt::AdaptArgs),
    /// Score flows from a file or standard input as a stream.
    Detect(commands::detect::DetectArgs),
    /// Explain the decision on one flow.
    Explain(commands::explain::ExplainArgs),
    /// The detector's ranked if-then detection rules.
    Rules(commands::rules::RulesArgs),
    /// A plain random forest on labelled flows: fit, then predict (the support-only baseline).
    Forest(commands::forest::ForestArgs),
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`metaforest data | head`) like other Unix tools, instead of
    // panicking in println!.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    signals::remove_temporary_files_on_signals();
    let cli = Cli::parse();
    // Logs go to stderr, filtered by RUST_LOG when set, else by -v/-q (default: warnings only).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(log_level(cli.verbose, cli.quiet))
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitCode::FAILURE;
        }
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: cannot start {n} worker threads: {e}");
            return ExitCode::FAILURE;
        }
    }
    let ctx = commands::Context {
        data_dir: cli.data,
        threads: cli.threads,
    };
    let result = match cli.command {
        Command::Data(args) => commands::data::run(&ctx, args),
        Command::Bench(args) => commands::bench::run(&ctx, args),
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Train(args) => commands::train::run(&ctx, args),
        Command::Adapt(args) => commands::adapt::run(&ctx, args),
        Command::Detect(args) => commands::detect::run(&ctx, args),
        Command::Explain(args) => commands::explain::run(&ctx, args),
        Command::Rules(args) => commands::rules::run(&ctx, args),
        Command::Forest(args) => commands::forest::run(&ctx, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
