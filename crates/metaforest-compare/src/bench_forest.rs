//! `metaforest-compare`: our forest against linfa-ensemble, smartcore and scikit-learn on the
//! same rows (synthetic 100,000 × 40 and the four NF-v2 data sets pooled).
//!
//! Every implementation runs in a child process of this binary (hidden `--worker IMPL`), so each
//! gets a clean heap and its peak RSS (`VmHWM`) is its own; scikit-learn runs through
//! `sklearn_forest.py` beside this crate. The parent writes the rows once (binary for the Rust workers, CSV
//! for Python), collects one JSON record per implementation and prints a Markdown table.

use std::error::Error;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Args;
use linfa::ParamGuard;
use metaforest_flows::synthetic::benchmark_rows;
use metaforest_forest::ForestParams;
use ndarray::{s, Array1, Array2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// `metaforest-compare [--rows N] [--trees T] [--sklearn] [--json FILE]`
#[derive(Debug, Args, Clone)]
pub struct BenchForestArgs {
    /// Training rows of the synthetic data set (test rows: a fifth of it, generated apart).
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Trees per forest, for every implementation.
    #[arg(long, default_value_t = 100)]
    pub trees: usize,
    /// Also run scikit-learn (sklearn_forest.py; creates its own venv on first use).
    #[arg(long)]
    pub sklearn: bool,
    /// Write the records as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Which data: `synthetic`, `nf-v2` or `all` (NF-v2 is skipped with a note when absent).
    #[arg(long, default_value = "all")]
    pub dataset: String,
    /// Threads for every implementation that can use them (set from `--threads`).
    #[arg(skip = 2usize)]
    pub threads: usize,
    /// Training rows given to the slow implementations (linfa-ensemble, smartcore); 0 = all.
    #[arg(long, default_value_t = 10_000)]
    pub slow_rows: usize,
    /// Skip linfa-ensemble and smartcore.
    #[arg(long)]
    pub no_slow: bool,
    /// Seed for data generation, splits and every forest.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Path of sklearn_forest.py (default: the one beside this crate in the source tree).
    #[arg(long)]
    pub sklearn_script: Option<PathBuf>,
    /// Internal: run one implementation on prepared files and print its JSON record.
    #[arg(long, hide = true)]
    pub worker: Option<String>,
    /// Internal: the worker's training file.
    #[arg(long, hide = true)]
    pub worker_train: Option<PathBuf>,
    /// Internal: the worker's test file.
    #[arg(long, hide = true)]
    pub worker_test: Option<PathBuf>,
}

struct Split {
    name: String,
    x_train: Array2<f64>,
    y_train: Vec<u32>,
    x_test: Array2<f64>,
    y_test: Vec<u32>,
}

const BIN_MAGIC: &[u8; 8] = b"MFBENCH1";

fn write_bin(path: &Path, x: ndarray::ArrayView2<'_, f64>, y: &[u32]) -> BoxResult<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    w.write_all(BIN_MAGIC)?;
    w.write_all(&(x.nrows() as u64).to_le_bytes())?;
    w.write_all(&(x.ncols() as u64).to_le_bytes())?;
    for v in x.iter() {
        w.write_all(&v.to_le_bytes())?;
    }
    for v in y {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()?;
    Ok(())
}

fn read_bin(path: &Path) -> BoxResult<(Array2<f64>, Vec<u32>)> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    if bytes.len() < 24 || &bytes[..8] != BIN_MAGIC {
        return Err(format!("{}: not a benchmark data file", path.display()).into());
    }
    let rows = u64::from_le_bytes(bytes[8..16].try_into()?) as usize;
    let cols = u64::from_le_bytes(bytes[16..24].try_into()?) as usize;
    let need = 24 + rows * cols * 8 + rows * 4;
    if bytes.len() != need {
        return Err(format!("{}: {} bytes, expected {need}", path.display(), bytes.len()).into());
    }
    let vals: Vec<f64> = bytes[24..24 + rows * cols * 8]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let y = bytes[24 + rows * cols * 8..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((Array2::from_shape_vec((rows, cols), vals)?, y))
}

fn write_csv(path: &Path, x: ndarray::ArrayView2<'_, f64>, y: &[u32]) -> BoxResult<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let head: Vec<String> = (0..x.ncols()).map(|j| format!("f{j}")).collect();
    writeln!(w, "{},label", head.join(","))?;
    for (row, label) in x.rows().into_iter().zip(y) {
        for v in row {
            // `{}` prints the shortest representation that parses back to the same f64.
            write!(w, "{v},")?;
        }
        writeln!(w, "{label}")?;
    }
    w.flush()?;
    Ok(())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn accuracy_f1(pred: &[u32], truth: &[u32]) -> (f64, f64) {
    let n_classes = pred.iter().chain(truth).copied().max().unwrap_or(0) as usize + 1;
    let mut tp = vec![0usize; n_classes];
    let mut fp = vec![0usize; n_classes];
    let mut fnn = vec![0usize; n_classes];
    let mut correct = 0usize;
    for (p, t) in pred.iter().zip(truth) {
        if p == t {
            correct += 1;
            tp[*p as usize] += 1;
        } else {
            fp[*p as usize] += 1;
            fnn[*t as usize] += 1;
        }
    }
    let mut f1_sum = 0.0;
    let mut k = 0usize;
    for c in 0..n_classes {
        if tp[c] + fp[c] + fnn[c] == 0 {
            continue;
        }
        k += 1;
        f1_sum += 2.0 * tp[c] as f64 / (2 * tp[c] + fp[c] + fnn[c]) as f64;
    }
    (
        correct as f64 / truth.len().max(1) as f64,
        f1_sum / k.max(1) as f64,
    )
}

/// Repeats a batch prediction until about a second has passed (at most 5 times) and keeps the best
/// repetition, the one least disturbed by other processes; rows per second.
fn time_batch(rows: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut reps = 0usize;
    while reps < 5 && (reps == 0 || start.elapsed().as_secs_f64() < 1.0) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    rows as f64 / best
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn latencies(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    (percentile(&lat, 50.0), percentile(&lat, 99.0))
}

fn run_worker(args: &BenchForestArgs, which: &str) -> BoxResult<()> {
    let train = args
        .worker_train
        .as_deref()
        .ok_or("--worker needs --worker-train")?;
    let test = args
        .worker_test
        .as_deref()
        .ok_or("--worker needs --worker-test")?;
    let (x_train, y_train) = read_bin(train)?;
    let (x_test, y_test) = read_bin(test)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let n_test = x_test.nrows();
    let rec = match which {
        "metaforest" => {
            let params = ForestParams::new()
                .n_trees(args.trees)
                .seed(args.seed)
                .check()?;
            let t = Instant::now();
            let forest = pool.install(|| params.fit(x_train.view(), &y_train))?;
            let fit_s = t.elapsed().as_secs_f64();
            let proba = pool.install(|| forest.predict_proba(x_test.view()))?;
            let pred: Vec<u32> = proba
                .rows()
                .into_iter()
                .map(|r| if r[1] > r[0] { 1 } else { 0 })
                .collect();
            let rps = time_batch(n_test, || {
                pool.install(|| forest.predict_proba(x_test.view()))
                    .expect("predict");
            });
            let mut out = vec![0.0; forest.n_classes()];
            let rows: Vec<Vec<f64>> = x_test
                .rows()
                .into_iter()
                .take(5000)
                .map(|r| r.to_vec())
                .collect();
            let (p50, p99) = latencies(rows.len(), |i| {
                forest
                    .predict_proba_row_into(&rows[i], &mut out)
                    .expect("row");
            });
            let (acc, f1) = accuracy_f1(&pred, &y_test);
            json!({"impl": "metaforest", "fit_s": fit_s, "predict_rows_per_s": rps, "latency_p50_us": p50,
                   "latency_p99_us": p99, "accuracy": acc, "macro_f1": f1, "threads": args.threads})
        }
        "linfa-ensemble" => {
            use linfa::prelude::{Fit, Predict};
            use linfa_ensemble::EnsembleLearnerParams;
            use linfa_trees::DecisionTree;
            let targets = Array1::from_iter(y_train.iter().map(|v| *v as usize));
            let ds = linfa::Dataset::new(x_train.clone(), targets);
            let nf = x_train.ncols() as f64;
            let params = EnsembleLearnerParams::new_fixed_rng(
                DecisionTree::params(),
                ChaCha8Rng::seed_from_u64(args.seed),
            )
            .ensemble_size(args.trees)
            .bootstrap_proportion(1.0)
            .feature_proportion(nf.sqrt().ceil() / nf);
            let t = Instant::now();
            let model = params.fit(&ds)?;
            let fit_s = t.elapsed().as_secs_f64();
            let pred_us: Array1<usize> = model.predict(&x_test);
            let pred: Vec<u32> = pred_us.iter().map(|v| *v as u32).collect();
            let rps = time_batch(n_test, || {
                let _: Array1<usize> = model.predict(&x_test);
            });
            let (p50, p99) = latencies(n_test.min(300), |i| {
                let row = x_test.slice(s![i..i + 1, ..]).to_owned();
                let _: Array1<usize> = model.predict(&row);
            });
            let (acc, f1) = accuracy_f1(&pred, &y_test);
            json!({"impl": "linfa-ensemble", "fit_s": fit_s, "predict_rows_per_s": rps, "latency_p50_us": p50,
                   "latency_p99_us": p99, "accuracy": acc, "macro_f1": f1, "threads": 1})
        }
        "smartcore" => {
            use smartcore::ensemble::random_forest_classifier::{
                RandomForestClassifier, RandomForestClassifierParameters,
            };
            use smartcore::linalg::basic::matrix::DenseMatrix;
            let to_dense = |x: &Array2<f64>| -> BoxResult<DenseMatrix<f64>> {
                Ok(
                    DenseMatrix::new(x.nrows(), x.ncols(), x.iter().copied().collect(), false)
                        .map_err(|e| format!("smartcore matrix: {e}"))?,
                )
            };
            let xtr = to_dense(&x_train)?;
            let xte = to_dense(&x_test)?;
            let trees =
                u16::try_from(args.trees).map_err(|_| "smartcore supports at most 65535 trees")?;
            let params = RandomForestClassifierParameters::default()
                .with_n_trees(trees)
                .with_seed(args.seed);
            let t = Instant::now();
            let model = RandomForestClassifier::fit(&xtr, &y_train, params)
                .map_err(|e| format!("smartcore fit: {e}"))?;
            let fit_s = t.elapsed().as_secs_f64();
            let pred: Vec<u32> = model
                .predict(&xte)
                .map_err(|e| format!("smartcore predict: {e}"))?;
            let rps = time_batch(n_test, || {
                let _ = model.predict(&xte);
            });
            let rows: Vec<DenseMatrix<f64>> = (0..n_test.min(300))
                .map(|i| to_dense(&x_test.slice(s![i..i + 1, ..]).to_owned()))
                .collect::<BoxResult<_>>()?;
            let (p50, p99) = latencies(rows.len(), |i| {
                let _ = model.predict(&rows[i]);
            });
            let (acc, f1) = accuracy_f1(&pred, &y_test);
            json!({"impl": "smartcore", "fit_s": fit_s, "predict_rows_per_s": rps, "latency_p50_us": p50,
                   "latency_p99_us": p99, "accuracy": acc, "macro_f1": f1, "threads": 1})
        }
        other => return Err(format!("unknown worker implementation `{other}`").into()),
    };
    let mut rec = rec;
    rec["rows"] = json!(x_train.nrows());
    rec["trees"] = json!(args.trees);
    rec["peak_rss_mb"] = json!(peak_rss_mb());
    println!("{rec}");
    Ok(())
}

fn load_splits(args: &BenchForestArgs, data_dir: &Path) -> BoxResult<Vec<Split>> {
    let mut splits = Vec::new();
    let want = args.dataset.as_str();
    if !matches!(want, "all" | "synthetic" | "nf-v2") {
        return Err(format!("--dataset must be synthetic, nf-v2 or all, got `{want}`").into());
    }
    if want != "nf-v2" {
        let n_test = (args.rows / 5).max(1);
        let (x, y) = benchmark_rows(args.rows + n_test, args.seed);
        splits.push(Split {
            name: format!("synthetic {} × 40", args.rows),
            x_train: x.slice(s![..args.rows, ..]).to_owned(),
            y_train: y[..args.rows].to_vec(),
            x_test: x.slice(s![args.rows.., ..]).to_owned(),
            y_test: y[args.rows..].to_vec(),
        });
    }
    if want != "synthetic" {
        let dir = data_dir.to_path_buf();
        if !dir.join("nf-v2").is_dir() {
            let msg = format!("skipped: no data at {}", dir.join("nf-v2").display());
            if want == "nf-v2" || std::env::var("METAFOREST_REQUIRE_DATA").is_ok_and(|v| v == "1") {
                return Err(msg.into());
            }
            eprintln!("{msg}");
        } else {
            eprintln!("loading the four NF-v2 data sets from {} …", dir.display());
            let table = metaforest_flows::datasets::load_nf_v2_all(&dir)?;
            let x = table.features().to_owned();
            let y = table.labels_u32();
            let n = x.nrows();
            // One seeded shuffle, then 80 / 20: BoT-IoT's rows are grouped by class in the file.
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(args.seed));
            let n_train = n * 4 / 5;
            let take = |idx: &[usize]| -> (Array2<f64>, Vec<u32>) {
                (
                    x.select(ndarray::Axis(0), idx),
                    idx.iter().map(|i| y[*i]).collect(),
                )
            };
            let (x_train, y_train) = take(&order[..n_train]);
            let (x_test, y_test) = take(&order[n_train..]);
            splits.push(Split {
                name: format!("NF-v2 pooled {} × {}", n, x.ncols()),
                x_train,
                y_train,
                x_test,
                y_test,
            });
        }
    }
    Ok(splits)
}

fn sklearn_script(args: &BenchForestArgs) -> PathBuf {
    args.sklearn_script
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("sklearn_forest.py"))
}

fn run_child(mut cmd: Command, label: &str) -> BoxResult<Value> {
    let out = cmd.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("{label} exited with {}", out.status).into());
    }
    let line = out
        .stdout
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.trim_start().starts_with('{'))
        .last()
        .ok_or_else(|| format!("{label} printed no JSON record"))?;
    Ok(serde_json::from_str(&line)?)
}

fn fmt_num(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) if x.is_finite() => {
            if x >= 1e6 {
                format!("{:.0}", x)
            } else {
                format!("{x:.digits$}")
            }
        }
        _ => "–".into(),
    }
}

/// Runs the comparison (or, with the hidden `--worker`, one implementation) on the data under `data_dir`;
/// `args.threads` is given to every implementation.
pub fn run(data_dir: &Path, args: BenchForestArgs) -> BoxResult<()> {
    if let Some(which) = args.worker.clone() {
        return run_worker(&args, &which);
    }
    if args.trees == 0 || args.rows == 0 || args.threads == 0 {
        return Err("--rows, --trees and --threads must be at least 1".into());
    }
    let exe = std::env::current_exe()?;
    let tmp = tempfile::Builder::new()
        .prefix("mf-bench-forest")
        .tempdir()?;
    let mut records: Vec<Value> = Vec::new();
    let load_start = load_average();
    for split in load_splits(&args, data_dir)? {
        eprintln!(
            "{}: {} train rows, {} test rows",
            split.name,
            split.x_train.nrows(),
            split.x_test.nrows()
        );
        let dir = tmp.path();
        let (train_bin, test_bin) = (dir.join("train.bin"), dir.join("test.bin"));
        write_bin(&train_bin, split.x_train.view(), &split.y_train)?;
        write_bin(&test_bin, split.x_test.view(), &split.y_test)?;
        let slow_n = if args.slow_rows == 0 {
            split.x_train.nrows()
        } else {
            args.slow_rows.min(split.x_train.nrows())
        };
        let slow_bin = dir.join("train_slow.bin");
        // Training rows are in random order, so the first `slow_n` are a uniform subsample.
        write_bin(
            &slow_bin,
            split.x_train.slice(s![..slow_n, ..]),
            &split.y_train[..slow_n],
        )?;

        let mut impls: Vec<(&str, &Path)> = vec![("metaforest", &train_bin)];
        if !args.no_slow {
            impls.push(("linfa-ensemble", &slow_bin));
            impls.push(("smartcore", &slow_bin));
        }
        for (which, train) in impls {
            eprintln!("  running {which} …");
            let mut cmd = Command::new(&exe);
            cmd.arg("--threads")
                .arg(args.threads.to_string())
                .args(["--worker", which, "--trees"])
                .arg(args.trees.to_string())
                .arg("--seed")
                .arg(args.seed.to_string())
                .arg("--worker-train")
                .arg(train)
                .arg("--worker-test")
                .arg(&test_bin);
            push_record(&mut records, run_child(cmd, which), which, &split.name);
        }
        if args.sklearn {
            let (train_csv, test_csv) = (dir.join("train.csv"), dir.join("test.csv"));
            write_csv(&train_csv, split.x_train.view(), &split.y_train)?;
            write_csv(&test_csv, split.x_test.view(), &split.y_test)?;
            eprintln!("  running scikit-learn …");
            let mut cmd = Command::new("python3");
            cmd.arg(sklearn_script(&args))
                .arg("--train")
                .arg(&train_csv)
                .arg("--test")
                .arg(&test_csv)
                .arg("--trees")
                .arg(args.trees.to_string())
                .arg("--jobs")
                .arg(args.threads.to_string())
                .arg("--seed")
                .arg(args.seed.to_string());
            push_record(
                &mut records,
                run_child(cmd, "scikit-learn"),
                "scikit-learn",
                &split.name,
            );
        }
    }
    print_table(&records, &args);
    println!(
        "\nLoad average (1, 5, 15 min) at start: {load_start}; at end: {} on {} CPUs — timings are wall-clock and \
         shrink with other processes' load.",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if let Some(path) = &args.json {
        let tmp_path = path.with_extension("json.tmp");
        std::fs::write(&tmp_path, serde_json::to_string_pretty(&records)?)?;
        std::fs::rename(&tmp_path, path)?;
        eprintln!("records written to {}", path.display());
    }
    Ok(())
}

fn push_record(records: &mut Vec<Value>, r: BoxResult<Value>, which: &str, dataset: &str) {
    match r {
        Ok(mut v) => {
            v["dataset"] = json!(dataset);
            records.push(v);
        }
        Err(e) => {
            eprintln!("  {which} failed: {e}");
            records.push(json!({"impl": which, "dataset": dataset, "error": e.to_string()}));
        }
    }
}

fn print_table(records: &[Value], args: &BenchForestArgs) {
    println!(
        "\n`metaforest-compare --trees {} --threads {}` — {} trees; linfa-ensemble and smartcore are single-threaded and \
         train on a subsample (rows column); scikit-learn uses n_jobs={} and float32 (values beyond its range clipped). \
         Test rows are the same for all; predict rows/s is the best of up to 5 batch runs; latency is one row at a time.\n",
        args.trees, args.threads, args.trees, args.threads
    );
    println!("| data | impl | train rows | fit s | predict rows/s | latency p50 µs | latency p99 µs | accuracy | macro-F1 | peak RSS MB |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in records {
        if let Some(e) = r.get("error") {
            println!(
                "| {} | {} | failed: {} | | | | | | | |",
                r["dataset"].as_str().unwrap_or(""),
                r["impl"].as_str().unwrap_or(""),
                e
            );
            continue;
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["dataset"].as_str().unwrap_or(""),
            r["impl"].as_str().unwrap_or(""),
            r["rows"],
            fmt_num(&r["fit_s"], 2),
            fmt_num(&r["predict_rows_per_s"], 0),
            fmt_num(&r["latency_p50_us"], 1),
            fmt_num(&r["latency_p99_us"], 1),
            fmt_num(&r["accuracy"], 4),
            fmt_num(&r["macro_f1"], 4),
            fmt_num(&r["peak_rss_mb"], 0),
        );
    }
    // Targets against scikit-learn, per data set.
    let mut datasets: Vec<&str> = records
        .iter()
        .filter_map(|r| r["dataset"].as_str())
        .collect();
    datasets.dedup();
    for d in datasets {
        let find = |name: &str| {
            records.iter().find(|r| {
                r["dataset"].as_str() == Some(d)
                    && r["impl"].as_str() == Some(name)
                    && r.get("error").is_none()
            })
        };
        let (Some(m), Some(sk)) = (find("metaforest"), find("scikit-learn")) else {
            continue;
        };
        let g = |r: &Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let fit_x = g(sk, "fit_s") / g(m, "fit_s");
        let pred_x = g(m, "predict_rows_per_s") / g(sk, "predict_rows_per_s");
        let acc_d = (g(m, "accuracy") - g(sk, "accuracy")) * 100.0;
        let p99 = g(m, "latency_p99_us");
        let mark = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "\n{d}: fit {fit_x:.1}× faster than scikit-learn (target ≥ 5×: {}), accuracy {acc_d:+.2} points (target within 0.5: {}), \
             batch predict {pred_x:.1}× its throughput (target ≥ 2×: {}), single-flow p99 {p99:.1} µs (target < 20: {}).",
            mark(fit_x >= 5.0),
            mark(acc_d >= -0.5),
            mark(pred_x >= 2.0),
            mark(p99 < 20.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_files_round_trip_and_metrics_are_right() {
        let (x, y) = benchmark_rows(50, 1);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.bin");
        write_bin(&p, x.view(), &y).unwrap();
        let (x2, y2) = read_bin(&p).unwrap();
        assert_eq!(x, x2);
        assert_eq!(y, y2);
        std::fs::write(&p, b"MFBENCH1short").unwrap();
        assert!(read_bin(&p).is_err());
        let (acc, f1) = accuracy_f1(&[0, 1, 1, 0], &[0, 1, 0, 0]);
        assert_eq!(acc, 0.75);
        // class 0: tp 2, fn 1 → F1 0.8; class 1: tp 1, fp 1 → F1 2/3.
        assert!((f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), 2.0);
    }

    #[test]
    fn synthetic_target_is_learnable_but_noisy() {
        let (_, y) = benchmark_rows(5000, 3);
        let ones = y.iter().filter(|v| **v == 1).count();
        assert!(ones > 1000 && ones < 4000, "{ones} positives");
    }
}
