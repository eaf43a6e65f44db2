//! Runs a bench without the CLI: `cargo run --release -p metaforest-eval --example eval_bench -- p1 [full] [threads]`.
use metaforest_eval::bench::{run_bench, BenchRequest, Protocol};
use metaforest_eval::BenchConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let p = match args.first().map(String::as_str) {
        Some("p2") => vec![Protocol::P2],
        Some("p3") => vec![Protocol::P3],
        Some("syn") => vec![Protocol::Synthetic],
        Some("all") => Protocol::ALL_REAL.to_vec(),
        _ => vec![Protocol::P1],
    };
    let cfg = if args.get(1).map(String::as_str) == Some("full") {
        BenchConfig::default()
    } else {
        BenchConfig::quick()
    };
    let mut req = BenchRequest::new(p, metaforest_flows::data_dir(), cfg);
    req.threads = args.get(2).and_then(|t| t.parse().ok());
    let t = std::time::Instant::now();
    let out = run_bench(&req)?;
    let secs = t.elapsed().as_secs_f64();
    let out_dir = std::path::PathBuf::from(
        std::env::var("EVAL_OUT").unwrap_or_else(|_| "/tmp/eval/out".into()),
    );
    metaforest_eval::report::write_reports(
        &out_dir,
        &out.into_report_input(format!("{args:?}"), Some(secs)),
        None,
    )?;
    println!("done in {secs:.1} s -> {}", out_dir.display());
    Ok(())
}
