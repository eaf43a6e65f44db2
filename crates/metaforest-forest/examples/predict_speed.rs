//! Prediction timing on a saved model: `predict_speed MODEL ROWS` (fits and saves a 100-tree model on
//! synthetic data first if MODEL does not exist). Developer tool; the real comparison is `metaforest bench forest`.

use linfa::ParamGuard;
use metaforest_forest::{Forest, ForestParams};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn synth(n: usize, seed: u64) -> (Array2<f64>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 40), |_| rng.gen::<f64>());
    let y = (0..n)
        .map(|i| u32::from(x[[i, 0]] + x[[i, 1]] * x[[i, 2]] + 0.5 * rng.gen::<f64>() > 1.0))
        .collect();
    (x, y)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/tmp/mf_predict_speed.mf".into());
    let rows: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let forest = match Forest::load(&path) {
        Ok(f) => f,
        Err(_) => {
            let (x, y) = synth(100_000, 1);
            let f = ForestParams::new()
                .n_trees(100)
                .seed(1)
                .check()
                .unwrap()
                .fit(x.view(), &y)
                .unwrap();
            f.save(&path).unwrap();
            f
        }
    };
    let (xt, _) = synth(rows, 2);
    for _ in 0..3 {
        let t = Instant::now();
        let _ = forest.predict_proba(xt.view()).unwrap();
        println!(
            "batch: {:.0} rows/s",
            rows as f64 / t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    for i in (0..rows).step_by(256) {
        let _ = forest
            .predict_proba(xt.slice(ndarray::s![i..(i + 256).min(rows), ..]))
            .unwrap();
    }
    println!(
        "sequential 256-row blocks: {:.0} rows/s",
        rows as f64 / t.elapsed().as_secs_f64()
    );
    let rs: Vec<Vec<f64>> = xt.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut out = [0.0; 2];
    let mut lat: Vec<f64> = rs
        .iter()
        .map(|r| {
            let t = Instant::now();
            forest.predict_proba_row_into(r, &mut out).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "row: p50 {:.1} µs  p90 {:.1}  p99 {:.1}",
        lat[lat.len() / 2],
        lat[lat.len() * 9 / 10],
        lat[lat.len() * 99 / 100]
    );
}
