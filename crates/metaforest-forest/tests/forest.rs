//! Behaviour the rest of metaforest relies on (issue 3, "Must show").

use linfa::ParamGuard;
use metaforest_forest::{
    ClassWeight, Forest, ForestError, ForestParams, MaxFeatures, SplitCriterion, FORMAT_VERSION,
};
use ndarray::{Array2, ShapeBuilder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n × f` uniform features; the label is a noisy function of the first three.
fn noisy(n: usize, f: usize, seed: u64) -> (Array2<f64>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, f), |_| rng.gen::<f64>());
    let y = (0..n)
        .map(|i| {
            let s = x[[i, 0]] + 0.5 * x[[i, 1]] - 0.7 * x[[i, 2]] + 0.3 * rng.gen::<f64>();
            u32::from(s > 0.55)
        })
        .collect();
    (x, y)
}

/// A checkerboard: separable, but only by many axis-aligned splits.
fn checkerboard(n: usize, seed: u64) -> (Array2<f64>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 4), |_| rng.gen::<f64>());
    let y = (0..n)
        .map(|i| (((x[[i, 0]] * 4.0) as u32) + ((x[[i, 1]] * 4.0) as u32)) % 2)
        .collect();
    (x, y)
}

fn accuracy(pred: &[u32], y: &[u32]) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

#[test]
fn perfect_fit_on_separable_data_at_unlimited_depth() {
    let (x, y) = checkerboard(2000, 1);
    // Without bootstrap every tree sees every row, so each fully grown tree fits them exactly.
    let forest = ForestParams::new()
        .n_trees(10)
        .bootstrap(false)
        .seed(3)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    assert_eq!(accuracy(&forest.predict(x.view()).unwrap(), &y), 1.0);
    for s in forest.tree_stats() {
        assert!(
            s.n_leaves >= 16,
            "a checkerboard needs at least 16 leaves, got {}",
            s.n_leaves
        );
    }
    // With bootstrap the forest still generalises to fresh points of the same board.
    let forest = ForestParams::new()
        .n_trees(50)
        .seed(3)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let (xt, yt) = checkerboard(1000, 2);
    let acc = accuracy(&forest.predict(xt.view()).unwrap(), &yt);
    assert!(acc > 0.95, "test accuracy {acc}");
}

#[test]
fn probabilities_sum_to_one_with_missing_values_and_many_classes() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 1500;
    let mut x = Array2::from_shape_fn((n, 6), |_| rng.gen::<f64>());
    let y: Vec<u32> = (0..n)
        .map(|i| ((x[[i, 0]] * 3.0) as u32 + (x[[i, 1]] > 0.5) as u32) % 4)
        .collect();
    for i in (0..n).step_by(7) {
        x[[i, i % 6]] = f64::NAN;
    }
    for crit in [SplitCriterion::Gini, SplitCriterion::Entropy] {
        let forest = ForestParams::new()
            .n_trees(20)
            .criterion(crit)
            .seed(1)
            .check()
            .unwrap()
            .fit(x.view(), &y)
            .unwrap();
        assert_eq!(forest.n_classes(), 4);
        let p = forest.predict_proba(x.view()).unwrap();
        assert_eq!(p.dim(), (n, 4));
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-9, "row sums to {}", row.sum());
            assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        // The single-row path gives bit-identical numbers.
        for i in [0, 7, 100] {
            let r = forest
                .predict_proba_row(x.row(i).to_vec().as_slice())
                .unwrap();
            assert_eq!(r.as_slice(), p.row(i).as_slice().unwrap());
        }
        assert!(accuracy(&forest.predict(x.view()).unwrap(), &y) > 0.9);
    }
}

#[test]
fn every_prediction_path_gives_the_same_numbers() {
    // 3000 rows take the parallel block path (1500-row blocks at 1 thread, walked in sorted order;
    // 750 or 512 rows at 2 or 8 threads, walked in input order), 300 the sequential one; 23 trees
    // leave a remainder after the one-row path's groups of four; NaNs exercise the missing-value
    // routing.
    let (mut x, y) = noisy(3000, 8, 71);
    for i in (0..3000).step_by(11) {
        x[[i, i % 8]] = f64::NAN;
    }
    let forest = ForestParams::new()
        .n_trees(23)
        .seed(3)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let at = |threads: usize, v: ndarray::ArrayView2<'_, f64>| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| forest.predict_proba(v).unwrap())
    };
    let reference = at(1, x.view());
    let mut column_major = Array2::zeros((3000, 8).f());
    column_major.assign(&x);
    assert_eq!(reference, at(2, x.view()));
    assert_eq!(reference, at(8, column_major.view()));
    // A strided view (every other row) and a small batch.
    let every_other = x.slice(ndarray::s![..;2, ..]);
    let expected_every_other = reference.slice(ndarray::s![..;2, ..]);
    assert_eq!(at(2, every_other), expected_every_other);
    let head = x.slice(ndarray::s![..300, ..]);
    assert_eq!(at(2, head), reference.slice(ndarray::s![..300, ..]));
    let mut out = vec![0.0; 2];
    for (i, row) in x.rows().into_iter().enumerate() {
        forest
            .predict_proba_row_into(row.to_vec().as_slice(), &mut out)
            .unwrap();
        assert_eq!(
            out.as_slice(),
            reference.row(i).as_slice().unwrap(),
            "row {i}"
        );
    }
}

#[test]
fn missing_values_are_routed_by_what_they_mean() {
    // The label is 1 exactly when feature 0 is missing: only the NaN routing can learn that.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let n = 1000;
    let mut x = Array2::from_shape_fn((n, 3), |_| rng.gen::<f64>());
    let mut y = vec![0u32; n];
    for i in 0..n {
        if rng.gen::<f64>() < 0.3 {
            x[[i, 0]] = f64::NAN;
            y[i] = 1;
        }
    }
    let forest = ForestParams::new()
        .n_trees(10)
        .seed(2)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let p = forest.predict_proba_row(&[f64::NAN, 0.5, 0.5]).unwrap();
    assert!(p[1] > 0.95, "{p:?}");
    let p = forest.predict_proba_row(&[0.5, 0.5, 0.5]).unwrap();
    assert!(p[0] > 0.95, "{p:?}");
}

#[test]
fn class_weights_change_the_decision() {
    // Overlapping classes, 1 : 9 imbalance: unweighted, the minority class is rarely predicted.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 4000;
    let x = Array2::from_shape_fn((n, 2), |_| rng.gen::<f64>());
    let y: Vec<u32> = (0..n)
        .map(|i| u32::from(rng.gen::<f64>() < 0.05 + 0.2 * x[[i, 0]]))
        .collect();
    let base = ForestParams::new().n_trees(30).min_samples_leaf(20).seed(4);
    let count1 = |f: &Forest| {
        f.predict(x.view())
            .unwrap()
            .iter()
            .filter(|v| **v == 1)
            .count()
    };
    let plain = base.clone().check().unwrap().fit(x.view(), &y).unwrap();
    let heavy = base
        .clone()
        .class_weight(ClassWeight::Explicit(vec![1.0, 10.0]))
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let balanced = base
        .class_weight(ClassWeight::Balanced)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let (c_plain, c_heavy, c_bal) = (count1(&plain), count1(&heavy), count1(&balanced));
    assert!(
        c_plain < n / 20,
        "unweighted predicts class 1 for {c_plain} rows"
    );
    assert!(
        c_heavy > n / 3,
        "weight 10 predicts class 1 for only {c_heavy} rows"
    );
    assert!(
        c_bal > n / 4,
        "balanced predicts class 1 for only {c_bal} rows"
    );
    // The minority class gets more probability where it is more frequent (large x0).
    let p_hi = heavy.predict_proba_row(&[0.95, 0.5]).unwrap()[1];
    let p_lo = heavy.predict_proba_row(&[0.05, 0.5]).unwrap()[1];
    assert!(p_hi > p_lo + 0.2, "p(1 | x0 high) {p_hi} vs low {p_lo}");
    // Sample weights act like class weights when they weight the classes.
    let w: Vec<f64> = y.iter().map(|c| if *c == 1 { 10.0 } else { 1.0 }).collect();
    let sw = ForestParams::new()
        .n_trees(30)
        .min_samples_leaf(20)
        .seed(4)
        .check()
        .unwrap()
        .fit_weighted(x.view(), &y, &w)
        .unwrap();
    assert!(count1(&sw) > n / 3);
}

#[test]
fn a_zero_prior_feature_is_never_split_on_and_the_prior_steers() {
    let (x, y) = noisy(3000, 8, 21);
    let plain = ForestParams::new()
        .n_trees(20)
        .seed(1)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let imp = plain.feature_importances();
    assert!(imp[0] > 0.2, "feature 0 carries the signal: {imp:?}");
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);

    let mut prior = vec![1.0; 8];
    prior[0] = 0.0;
    let forest = ForestParams::new()
        .n_trees(20)
        .seed(1)
        .feature_prior(Some(prior))
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    assert_eq!(forest.feature_importances()[0], 0.0);
    for i in 0..200 {
        for path in forest.decision_path(x.row(i).to_vec().as_slice()).unwrap() {
            assert!(path.steps.iter().all(|s| s.feature != 0));
        }
    }

    // A strong prior on a noise feature makes the forest use it far more than the uniform one does.
    let mut prior = vec![1.0; 8];
    prior[7] = 50.0;
    let steered = ForestParams::new()
        .n_trees(20)
        .seed(1)
        .feature_prior(Some(prior))
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let uses = |f: &Forest, feat: usize| -> usize {
        (0..300)
            .map(|i| {
                f.decision_path(x.row(i).to_vec().as_slice())
                    .unwrap()
                    .iter()
                    .map(|p| p.steps.iter().filter(|s| s.feature == feat).count())
                    .sum::<usize>()
            })
            .sum()
    };
    assert!(
        uses(&steered, 7) > 2 * uses(&plain, 7),
        "{} vs {}",
        uses(&steered, 7),
        uses(&plain, 7)
    );
}

#[test]
fn transplanted_trees_give_the_donors_predictions_before_refit() {
    let (x, y) = noisy(2000, 6, 31);
    let a = ForestParams::new()
        .n_trees(8)
        .seed(1)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let b = ForestParams::new()
        .n_trees(8)
        .seed(2)
        .max_depth(Some(4))
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();

    let same = Forest::from_trees(a.trees().to_vec()).unwrap();
    assert_eq!(
        same.predict_proba(x.view()).unwrap(),
        a.predict_proba(x.view()).unwrap()
    );
    assert!(same.bin_edges().is_none());

    let mixed_trees: Vec<_> = a.trees()[..3]
        .iter()
        .chain(&b.trees()[5..])
        .cloned()
        .collect();
    let mixed = Forest::from_trees(mixed_trees).unwrap();
    let pa = a.apply(x.view()).unwrap();
    for i in 0..50 {
        let row = x.row(i).to_vec();
        let mut expect = vec![0.0; 2];
        for t in a.trees()[..3].iter().chain(&b.trees()[5..]) {
            let leaf = t.leaf_index(&row);
            expect
                .iter_mut()
                .zip(t.leaf_distribution(leaf))
                .for_each(|(e, v)| *e += v / 6.0);
        }
        let got = mixed.predict_proba_row(&row).unwrap();
        for (g, e) in got.iter().zip(&expect) {
            assert!((g - e).abs() < 1e-12);
        }
        assert_eq!(pa[[i, 0]] as usize, a.trees()[0].leaf_index(&row));
    }

    // Refit with an overwhelming prior changes nothing; with none, flipped labels flip the output.
    let mut kept = mixed.clone();
    kept.refit_leaves(x.view(), &y, 1e12).unwrap();
    let d = (&kept.predict_proba(x.view()).unwrap() - &mixed.predict_proba(x.view()).unwrap())
        .mapv(f64::abs);
    assert!(d.iter().all(|v| *v < 1e-6));
    let flipped: Vec<u32> = y.iter().map(|v| 1 - v).collect();
    let mut refit = mixed.clone();
    refit.refit_leaves(x.view(), &flipped, 0.0).unwrap();
    let acc_flipped = accuracy(&refit.predict(x.view()).unwrap(), &flipped);
    assert!(
        acc_flipped > 0.8,
        "refit on flipped labels reaches only {acc_flipped}"
    );
    assert!(
        (refit.train_class_prior()[1]
            - flipped.iter().filter(|v| **v == 1).count() as f64 / 2000.0)
            .abs()
            < 1e-12
    );

    // Mismatched feature spaces are refused.
    let (x3, y3) = noisy(200, 3, 1);
    let c = ForestParams::new()
        .n_trees(2)
        .check()
        .unwrap()
        .fit(x3.view(), &y3)
        .unwrap();
    let err = Forest::from_trees(vec![a.trees()[0].clone(), c.trees()[0].clone()]).unwrap_err();
    assert!(
        matches!(
            err,
            ForestError::FeatureMismatch {
                expected: 6,
                got: 3
            }
        ),
        "{err}"
    );
    assert!(matches!(
        Forest::from_trees(vec![]),
        Err(ForestError::NoTrees)
    ));
}

#[test]
fn grow_is_a_warm_start_equal_to_fitting_more_trees() {
    let (x, y) = noisy(1500, 5, 41);
    let p6 = ForestParams::new().n_trees(6).seed(9).check().unwrap();
    let p10 = ForestParams::new().n_trees(10).seed(9).check().unwrap();
    let mut grown = p6.fit(x.view(), &y).unwrap();
    grown.grow(&p6, x.view(), &y, 4).unwrap();
    let full = p10.fit(x.view(), &y).unwrap();
    assert_eq!(grown.n_trees(), 10);
    assert_eq!(grown.to_bytes().unwrap(), full.to_bytes().unwrap());
}

fn fit_bytes(threads: usize, x: &Array2<f64>, y: &[u32]) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        ForestParams::new()
            .n_trees(24)
            .seed(77)
            .class_weight(ClassWeight::Balanced)
            .check()
            .unwrap()
            .fit(x.view(), y)
            .unwrap()
            .to_bytes()
            .unwrap()
    })
}

#[test]
fn same_seed_gives_byte_identical_models_at_any_thread_count() {
    let (x, y) = noisy(3000, 10, 51);
    // Column-major input, as the flow table stores it, must give the same model as row-major.
    let mut xf = Array2::zeros((3000, 10).f());
    xf.assign(&x);
    let one = fit_bytes(1, &x, &y);
    assert_eq!(one, fit_bytes(2, &x, &y));
    assert_eq!(one, fit_bytes(8, &xf, &y));
    let other_seed = ForestParams::new()
        .n_trees(24)
        .seed(78)
        .class_weight(ClassWeight::Balanced)
        .check()
        .unwrap();
    assert_ne!(
        one,
        other_seed.fit(x.view(), &y).unwrap().to_bytes().unwrap()
    );
}

#[test]
fn save_load_round_trip_and_corrupted_files_are_refused() {
    let (x, y) = noisy(1000, 5, 61);
    let forest = ForestParams::new()
        .n_trees(5)
        .seed(1)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.mf");
    forest.save(&path).unwrap();
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let back = Forest::load(&path).unwrap();
    assert_eq!(back, forest);
    assert_eq!(
        back.predict_proba(x.view()).unwrap(),
        forest.predict_proba(x.view()).unwrap()
    );

    let bytes = std::fs::read(&path).unwrap();
    let write = |name: &str, b: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    // Truncated anywhere: header, payload, or to nothing.
    for cut in [0, 5, 10, 23, 24, bytes.len() / 2, bytes.len() - 1] {
        let err = Forest::load(write("cut.mf", &bytes[..cut])).unwrap_err();
        assert!(
            matches!(err, ForestError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"));
    }
    // One flipped payload bit: checksum.
    let mut bad = bytes.clone();
    let mid = 24 + (bytes.len() - 24) / 2;
    bad[mid] ^= 0x10;
    let err = Forest::load(write("flip.mf", &bad)).unwrap_err();
    assert!(matches!(err, ForestError::Corrupted { .. }), "{err}");
    // Newer format version.
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = Forest::load(write("newer.mf", &newer)).unwrap_err();
    assert!(
        matches!(err, ForestError::NewerVersion { found, .. } if found == FORMAT_VERSION + 1),
        "{err}"
    );
    // Not a forest at all.
    let err = Forest::load(write("junk.mf", b"hello world, this is not a model file")).unwrap_err();
    assert!(matches!(err, ForestError::BadMagic { .. }), "{err}");
    // A forged length field must not make the loader allocate or panic.
    let mut forged = bytes.clone();
    forged[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        Forest::load(write("forged.mf", &forged)).unwrap_err(),
        ForestError::Truncated { .. }
    ));
    // A payload with a valid checksum but an inconsistent forest is refused, not trusted.
    let mut evil = bytes.clone();
    let payload_len = evil.len() - 24;
    // Overwrite the first node's child index with garbage, then fix the checksum.
    let node_off = 24 + 8 + 8; // Vec<Tree> length, then Vec<Node> length
    evil[node_off + 12..node_off + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32fast::hash(&evil[24..]);
    evil[20..24].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(payload_len, evil.len() - 24);
    let err = Forest::load(write("evil.mf", &evil)).unwrap_err();
    assert!(matches!(err, ForestError::Decode { .. }), "{err}");
    // A leaf carrying feature bits (the lockstep walk would read that feature) is refused too.
    let mut evil_leaf = bytes.clone();
    let n_nodes = u64::from_le_bytes(evil_leaf[32..40].try_into().unwrap()) as usize;
    let leaf = (0..n_nodes)
        .map(|k| node_off + 16 * k)
        .find(|&at| u32::from_le_bytes(evil_leaf[at + 8..at + 12].try_into().unwrap()) >> 31 == 1)
        .expect("a tree has leaves");
    evil_leaf[leaf + 8..leaf + 12].copy_from_slice(&((1u32 << 31) | 5000).to_le_bytes());
    let crc = crc32fast::hash(&evil_leaf[24..]);
    evil_leaf[20..24].copy_from_slice(&crc.to_le_bytes());
    let err = Forest::load(write("evil_leaf.mf", &evil_leaf)).unwrap_err();
    assert!(
        matches!(&err, ForestError::Decode { message, .. } if message.contains("leaf node")),
        "{err}"
    );
    // Missing file: an I/O error naming the path.
    let err = Forest::load(dir.path().join("absent.mf")).unwrap_err();
    assert!(err.to_string().contains("absent.mf"));
}

#[test]
fn introspection_is_consistent() {
    let (x, y) = noisy(2000, 6, 71);
    let forest = ForestParams::new()
        .n_trees(7)
        .max_depth(Some(6))
        .min_samples_leaf(5)
        .seed(2)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let stats = forest.tree_stats();
    assert_eq!(stats.len(), 7);
    for (s, t) in stats.iter().zip(forest.trees()) {
        assert!(s.depth <= 6);
        assert_eq!(s.n_nodes, 2 * s.n_leaves - 1);
        assert!(
            t.leaf_samples().iter().all(|n| *n >= 5),
            "a leaf has fewer than min_samples_leaf rows"
        );
    }
    let leaves = forest.apply(x.view()).unwrap();
    assert_eq!(leaves.dim(), (2000, 7));
    let row = x.row(3).to_vec();
    let paths = forest.decision_path(&row).unwrap();
    let mut mean = [0.0; 2];
    for (t, path) in paths.iter().enumerate() {
        assert_eq!(path.leaf, leaves[[3, t]] as usize);
        assert!(path.steps.len() <= 6);
        for s in &path.steps {
            assert_eq!(s.went_left, s.value <= s.threshold);
        }
        mean[0] += path.distribution[0] / 7.0;
        mean[1] += path.distribution[1] / 7.0;
    }
    let p = forest.predict_proba_row(&row).unwrap();
    assert!((p[0] - mean[0]).abs() < 1e-12 && (p[1] - mean[1]).abs() < 1e-12);
    let edges = forest.bin_edges().unwrap();
    assert_eq!(edges.n_features(), 6);
    assert!(edges.edges(0).len() > 100 && edges.edges(0).len() <= 254);
    let prior = forest.train_class_prior();
    assert!((prior[1] - y.iter().filter(|v| **v == 1).count() as f64 / 2000.0).abs() < 1e-12);
    assert_eq!(forest.n_features(), 6);
    assert!(matches!(
        forest.predict_proba_row(&[0.0; 5]),
        Err(ForestError::FeatureMismatch {
            expected: 6,
            got: 5
        })
    ));
}

#[test]
fn every_invalid_parameter_is_refused_with_its_name() {
    let cases: Vec<(ForestParams, &str)> = vec![
        (ForestParams::new().n_trees(0), "n_trees"),
        (ForestParams::new().min_samples_leaf(0), "min_samples_leaf"),
        (
            ForestParams::new().min_samples_split(1),
            "min_samples_split",
        ),
        (
            ForestParams::new().max_features(MaxFeatures::Fraction(0.0)),
            "max_features",
        ),
        (
            ForestParams::new().max_features(MaxFeatures::Fraction(1.5)),
            "max_features",
        ),
        (
            ForestParams::new().max_features(MaxFeatures::Count(0)),
            "max_features",
        ),
        (ForestParams::new().sample_fraction(0.0), "sample_fraction"),
        (
            ForestParams::new().sample_fraction(f64::NAN),
            "sample_fraction",
        ),
        (
            ForestParams::new().class_weight(ClassWeight::Explicit(vec![1.0, -1.0])),
            "class_weight",
        ),
        (
            ForestParams::new().class_weight(ClassWeight::Explicit(vec![0.0, 0.0])),
            "class_weight",
        ),
        (
            ForestParams::new()
                .class_weight(ClassWeight::Explicit(vec![1.0; 3]))
                .n_classes(Some(2)),
            "class_weight",
        ),
        (
            ForestParams::new().feature_prior(Some(vec![0.0, 0.0])),
            "feature_prior",
        ),
        (
            ForestParams::new().feature_prior(Some(vec![1.0, f64::INFINITY])),
            "feature_prior",
        ),
        (ForestParams::new().n_bins(1), "n_bins"),
        (ForestParams::new().n_bins(256), "n_bins"),
        (ForestParams::new().n_classes(Some(1)), "n_classes"),
    ];
    for (p, name) in cases {
        match p.check() {
            Err(ForestError::InvalidParameter { param, message }) => {
                assert_eq!(param, name);
                assert!(!message.is_empty());
            }
            other => panic!("{name}: expected an error, got {other:?}"),
        }
    }
    // Data-dependent checks happen at fit time.
    let (x, y) = noisy(50, 3, 1);
    let p = ForestParams::new().n_trees(2).check().unwrap();
    assert!(matches!(
        p.fit(x.view(), &y[..10]),
        Err(ForestError::LengthMismatch { .. })
    ));
    let mut bad_y = y.clone();
    bad_y[7] = 5;
    let p3 = ForestParams::new().n_classes(Some(3)).check().unwrap();
    assert!(matches!(
        p3.fit(x.view(), &bad_y),
        Err(ForestError::ClassOutOfRange {
            row: 7,
            class: 5,
            ..
        })
    ));
    let mut w = vec![1.0; 50];
    w[3] = f64::NAN;
    assert!(matches!(
        p.fit_weighted(x.view(), &y, &w),
        Err(ForestError::InvalidSampleWeight { row: 3, .. })
    ));
    let pr = ForestParams::new()
        .feature_prior(Some(vec![1.0; 4]))
        .check()
        .unwrap();
    assert!(matches!(
        pr.fit(x.view(), &y),
        Err(ForestError::InvalidParameter {
            param: "feature_prior",
            ..
        })
    ));
    assert!(matches!(
        p.fit(x.slice(ndarray::s![..0, ..]), &[]),
        Err(ForestError::EmptyData(_))
    ));
}

#[test]
fn linfa_users_can_fit_and_predict_through_linfa_traits() {
    use linfa::prelude::*;
    let (x, y) = noisy(1500, 5, 81);
    let targets = ndarray::Array1::from_iter(y.iter().map(|v| *v as usize));
    let ds = linfa::dataset::Dataset::new(x.clone(), targets);
    let (train, valid) = ds.split_with_ratio(0.8);
    // Fit on the unchecked params goes through linfa's ParamGuard.
    let forest: Forest = ForestParams::new().n_trees(30).seed(5).fit(&train).unwrap();
    // The inherent `Forest::predict(ArrayView2)` shadows the trait method, so name the trait.
    let pred: ndarray::Array1<usize> = Predict::predict(&forest, &valid);
    let cm = pred.confusion_matrix(&valid).unwrap();
    assert!(
        cm.accuracy() > 0.85,
        "accuracy through linfa {}",
        cm.accuracy()
    );
    // An invalid parameter surfaces as our error through linfa's Fit.
    let err = ForestParams::new().n_trees(0).fit(&train).unwrap_err();
    assert!(matches!(
        err,
        ForestError::InvalidParameter {
            param: "n_trees",
            ..
        }
    ));
}
