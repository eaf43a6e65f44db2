//! Quick timing of fit / predict on synthetic data: `cargo run --release --example fit_speed -- ROWS TREES`.
//! (The full comparison against other libraries is `cargo run --release -p metaforest-compare`.)

use linfa::ParamGuard;
use metaforest_flows::synthetic::benchmark_rows;
use metaforest_forest::ForestParams;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let trees: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let (x, y) = benchmark_rows(n + 20_000, 42);
    let xtr = x.slice(ndarray::s![..n, ..]);
    let xte = x.slice(ndarray::s![n.., ..]);
    if let Ok(dir) = std::env::var("MF_DUMP_CSV") {
        use std::io::Write;
        for (name, lo, hi) in [("train.csv", 0, n), ("test.csv", n, n + 20_000)] {
            let mut f =
                std::io::BufWriter::new(std::fs::File::create(format!("{dir}/{name}")).unwrap());
            let head: Vec<String> = (0..x.ncols()).map(|j| format!("f{j}")).collect();
            writeln!(f, "{},label", head.join(",")).unwrap();
            for (i, label) in y.iter().enumerate().take(hi).skip(lo) {
                let r: Vec<String> = x.row(i).iter().map(|v| v.to_string()).collect();
                writeln!(f, "{},{label}", r.join(",")).unwrap();
            }
        }
    }
    let params = ForestParams::new().n_trees(trees).seed(1).check().unwrap();
    let t = Instant::now();
    let forest = params.fit(xtr, &y[..n]).unwrap();
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pred = forest.predict(xte).unwrap();
    let pred_s = t.elapsed().as_secs_f64();
    let acc = pred.iter().zip(&y[n..]).filter(|(a, b)| a == b).count() as f64 / pred.len() as f64;
    let st = forest.tree_stats();
    let nodes: usize = st.iter().map(|s| s.n_nodes).sum();
    let depth = st.iter().map(|s| s.depth).max().unwrap();
    println!(
        "fit {fit_s:.3}s  predict {:.0} rows/s  acc {acc:.4}  nodes/tree {}  max depth {depth}",
        xte.nrows() as f64 / pred_s,
        nodes / trees
    );
}
