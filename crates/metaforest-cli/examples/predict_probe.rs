//! Dev probe (not part of the book): fit 100 trees on NF-v2 pooled (80 % of rows, as
//! `metaforest bench forest`), print tree shapes, batch rows/s and one-flow latency.
use linfa::ParamGuard;
use metaforest_forest::ForestParams;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn main() {
    let dir = std::env::var("METAFOREST_DATA").unwrap_or_else(|_| "../shared/data".into());
    let which = std::env::args().nth(1).unwrap_or_else(|| "nf".into());
    let cache = format!("/tmp/probe_{which}.mf");
    let xcache = format!("/tmp/probe_{which}_xte.bin");
    if let (Ok(f), Ok(b)) = (metaforest_forest::Forest::load(&cache), std::fs::read(&xcache)) {
        let v: Vec<f64> = b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        let nf = f.n_features();
        let xte = ndarray::Array2::from_shape_vec((v.len() / nf, nf), v).unwrap();
        return measure(&f, xte);
    }
    let (x, y) = if which == "nf" {
        let table = metaforest_flows::datasets::load_nf_v2_all(std::path::Path::new(&dir)).unwrap();
        (table.features().to_owned(), table.labels_u32())
    } else {
        metaforest_cli_probe_synth(120_000)
    };
    let n = x.nrows();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(42));
    let n_train = if which == "nf" { n * 4 / 5 } else { 100_000 };
    let xtr = x.select(ndarray::Axis(0), &order[..n_train]);
    let ytr: Vec<u32> = order[..n_train].iter().map(|i| y[*i]).collect();
    let xte = x.select(ndarray::Axis(0), &order[n_train..]);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let f = if let Ok(f) = metaforest_forest::Forest::load(&cache) {
        f
    } else {
        let t = Instant::now();
        let f = pool.install(|| ForestParams::new().n_trees(100).seed(42).check().unwrap().fit(xtr.view(), &ytr).unwrap());
        eprintln!("fit {:.2}s", t.elapsed().as_secs_f64());
        f.save(&cache).unwrap();
        let bytes: Vec<u8> = xte.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&xcache, bytes).unwrap();
        f
    };
    measure(&f, xte);
}

fn measure(f: &metaforest_forest::Forest, xte: ndarray::Array2<f64>) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let st = f.tree_stats();
    let nodes: usize = st.iter().map(|s| s.n_nodes).sum();
    let depth: f64 = st.iter().map(|s| s.depth as f64).sum::<f64>() / st.len() as f64;
    eprintln!("nodes/tree {:.0}, mean depth {depth:.1}", nodes as f64 / st.len() as f64);
    let reps: usize = std::env::var("REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(pool.install(|| f.predict_proba(xte.view()).unwrap()));
        best = best.min(t.elapsed().as_secs_f64());
    }
    eprintln!("batch {:.0} rows/s ({} rows)", xte.nrows() as f64 / best, xte.nrows());
    let rows: Vec<Vec<f64>> = xte.rows().into_iter().take(5000).map(|r| r.to_vec()).collect();
    let mut out = vec![0.0; 2];
    let mut lat = Vec::new();
    for r in &rows {
        let t = Instant::now();
        f.predict_proba_row_into(r, &mut out).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut idx: Vec<usize> = (0..lat.len()).collect();
    idx.sort_by(|a, b| lat[*b].total_cmp(&lat[*a]));
    eprintln!("slowest rows {:?}", &idx[..12]);
    // second pass, same rows
    let mut lat2 = Vec::new();
    for r in &rows {
        let t = Instant::now();
        f.predict_proba_row_into(r, &mut out).unwrap();
        lat2.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let steps = |i: usize| -> usize { f.decision_path(&rows[i]).unwrap().iter().map(|p| p.steps.len()).sum() };
    eprintln!("steps of slowest {:?}", idx[..12].iter().map(|i| steps(*i)).collect::<Vec<_>>());
    let mut all: Vec<usize> = (0..rows.len()).map(steps).collect();
    all.sort();
    eprintln!("steps p50 {} p90 {} p99 {} max {}", all[all.len()/2], all[all.len()*9/10], all[all.len()*99/100], all[all.len()-1]);
    eprintln!("those rows 2nd pass {:?}", idx[..12].iter().map(|i| lat2[*i] as u32).collect::<Vec<_>>());
    lat2.sort_by(f64::total_cmp);
    eprintln!("2nd pass p50 {:.1} p90 {:.1} p99 {:.1}", lat2[lat2.len() / 2], lat2[lat2.len() * 9 / 10], lat2[lat2.len() * 99 / 100]);
    lat.sort_by(f64::total_cmp);
    eprintln!("one flow p50 {:.1} µs p99 {:.1} µs", lat[lat.len() / 2], lat[lat.len() * 99 / 100]);
}

fn metaforest_cli_probe_synth(n: usize) -> (ndarray::Array2<f64>, Vec<u32>) {
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut x = ndarray::Array2::<f64>::zeros((n, 40));
    let mut y = Vec::new();
    for i in 0..n {
        for j in 0..40 {
            x[[i, j]] = match j % 4 {
                0 => rng.gen::<f64>() * 10.0,
                1 => (rng.gen::<f64>() * 8.0).floor(),
                2 => (-rng.gen::<f64>().ln()) * 1000.0,
                _ => rng.gen::<f64>() * 2.0 - 1.0,
            };
        }
        let s = (x[[i, 0]] - 5.0) * 0.6 + x[[i, 3]] * x[[i, 7]] * 3.0 - 0.2;
        let l = u32::from(rng.gen::<f64>() < 1.0 / (1.0 + (-s).exp()));
        y.push(if rng.gen::<f64>() < 0.05 { 1 - l } else { l });
    }
    (x, y)
}
