//! Meta-learner tests on the synthetic generator (fast, no real data needed).

use linfa::ParamGuard;
use metaforest_flows::domains::domains_by_dataset;
use metaforest_flows::synthetic::{generate, SyntheticConfig};
use metaforest_flows::FlowTable;
use metaforest_meta::descriptor::*;
use metaforest_meta::{DomainData, MetaError, MetaModel, MetaParams, ValidMetaParams};
use ndarray::{Array2, Axis};

fn table() -> FlowTable {
    generate(&SyntheticConfig {
        n_networks: 4,
        rows_per_network: 1_500,
        attack_fraction: 0.3,
        seed: 3,
    })
    .unwrap()
}

fn small_params() -> ValidMetaParams {
    MetaParams::default()
        .n_episodes(40)
        .ks(vec![1, 5])
        .query_size(64)
        .task_learner_trees(10)
        .local_trees(12)
        .max_epochs(3)
        .seed(5)
        .check()
        .unwrap()
}

/// Known domains 0..3, held-out domain 3 (returned as rows).
fn split(t: &FlowTable) -> (Vec<DomainData>, Vec<usize>) {
    let d = domains_by_dataset(t);
    let known = d[..3]
        .iter()
        .map(|d| DomainData::from_table(t, &d.name, &d.rows))
        .collect();
    (known, d[3].rows.clone())
}

fn support(t: &FlowTable, rows: &[usize], k: usize) -> (Array2<f64>, Vec<u32>) {
    let l = t.labels();
    let mut pick: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| l[r] == 0)
        .take(k)
        .collect();
    pick.extend(rows.iter().copied().filter(|&r| l[r] == 1).take(k));
    (
        t.features().select(Axis(0), &pick),
        pick.iter().map(|&r| l[r] as u32).collect(),
    )
}

#[test]
fn adapt_predicts_probabilities_and_rejects_bad_supports() {
    let t = table();
    let (known, held) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    let (sx, sy) = support(&t, &held, 5);
    let det = model.adapt(sx.view(), &sy).unwrap();
    let test = t.features().select(Axis(0), &held[100..400]);
    let p = det.predict_proba(test.view());
    assert_eq!(p.len(), 300);
    // Through linfa's trait: the same verdicts as Detector::predict.
    let through_linfa: ndarray::Array1<usize> = linfa::traits::Predict::predict(&det, &test);
    let direct = det.predict(test.view());
    assert!(through_linfa
        .iter()
        .zip(&direct)
        .all(|(&a, &b)| a == usize::from(b)));
    assert!(p.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
    let w = det.task_weights();
    assert!(
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-6,
        "weights sum to 1: {w:?}"
    );

    // One class only: a clear error, not a panic.
    let benign_only = vec![0u32; sy.len()];
    assert!(matches!(
        model.adapt(sx.view(), &benign_only),
        Err(MetaError::OneClassSupport { missing: "attack" })
    ));
    // Wrong feature width.
    let narrow = sx.select(Axis(1), &[0, 1, 2]);
    assert!(matches!(
        model.adapt(narrow.view(), &sy),
        Err(MetaError::FeatureMismatch { .. })
    ));
    // Empty support.
    let empty = Array2::<f64>::zeros((0, sx.ncols()));
    assert!(matches!(
        model.adapt(empty.view(), &[]),
        Err(MetaError::EmptySupport)
    ));
}

#[test]
fn descriptors_are_finite_for_degenerate_supports() {
    let t = table();
    let (known, held) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    // K = 1, and a support whose features are all constant (every row identical but the label).
    let (sx, sy) = support(&t, &held, 1);
    let det = model.adapt(sx.view(), &sy).unwrap();
    let test = t.features().select(Axis(0), &held[..50]);
    assert!(det.predict_proba(test.view()).iter().all(|p| p.is_finite()));
    let constant = Array2::from_elem((4, sx.ncols()), 1.0);
    let det = model.adapt(constant.view(), &[0, 0, 1, 1]).unwrap();
    assert!(det.predict_proba(test.view()).iter().all(|p| p.is_finite()));
    let stats = SupportStats::of(Support {
        x: constant.view(),
        y: &[0, 0, 1, 1],
    });
    assert!(stats.smd.iter().all(|v| v.is_finite()));
    let e = det.explain(test.row(0).as_slice().unwrap()).unwrap();
    assert!(e.score.is_finite() && e.forests.len() == 4);
}

#[test]
fn batch_explanations_are_the_single_row_ones() {
    let t = table();
    let (known, held) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    let (sx, sy) = support(&t, &held, 5);
    let det = model.adapt(sx.view(), &sy).unwrap();
    // 70 rows: tiled weighting-head passes and a remainder scored row by row.
    let test = t.features().select(Axis(0), &held[..70]);
    let batch = det.explain_rows(test.view()).unwrap();
    let scores = det.predict_proba(test.view());
    assert_eq!(batch.len(), 70);
    for (r, e) in batch.iter().enumerate() {
        assert_eq!(e.score.to_bits(), scores[r].to_bits(), "row {r}");
        let one = det.explain(test.row(r).as_slice().unwrap()).unwrap();
        assert_eq!(format!("{e:?}"), format!("{one:?}"), "row {r}");
        assert!(!e.top_features.is_empty());
    }
    assert!(matches!(
        det.explain_rows(test.slice(ndarray::s![.., ..3])),
        Err(MetaError::FeatureMismatch { .. })
    ));
}

#[test]
fn save_load_round_trip_gives_identical_predictions_and_damage_is_detected() {
    let t = table();
    let (known, held) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.mf");
    model.save(&path).unwrap();
    let loaded = MetaModel::load(&path).unwrap();
    // A head left untrained keeps fixed weights; the loaded model reads the local forest's share off its head.
    let share = |m: &MetaModel| m.report().fixed_local_share;
    assert_eq!(share(&model) > 0.0, model.report().weight_head_anchored);
    assert_eq!(share(&loaded), share(&model));
    let (sx, sy) = support(&t, &held, 5);
    let test = t.features().select(Axis(0), &held[..200]);
    let a = model
        .adapt(sx.view(), &sy)
        .unwrap()
        .predict_proba(test.view());
    let b = loaded
        .adapt(sx.view(), &sy)
        .unwrap()
        .predict_proba(test.view());
    assert_eq!(a, b);

    let det = model.adapt(sx.view(), &sy).unwrap();
    let dpath = dir.path().join("d.mfd");
    det.save(&dpath).unwrap();
    assert_eq!(
        metaforest_meta::Detector::load(&dpath)
            .unwrap()
            .predict_proba(test.view()),
        a
    );

    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        MetaModel::load(&path),
        Err(MetaError::Checksum { .. })
    ));
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    assert!(matches!(
        MetaModel::load(&path),
        Err(MetaError::Truncated { .. })
    ));
    bytes[8] = 99; // format version
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        MetaModel::load(&path),
        Err(MetaError::NewerVersion { found: 99, .. })
    ));
    bytes[8] = 1; // the format before the threshold rule
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        MetaModel::load(&path),
        Err(MetaError::OlderFormat { ref found, .. }) if found.contains("version 1")
    ));
    assert!(matches!(
        MetaModel::load(dpath.with_extension("missing")),
        Err(MetaError::Io { .. })
    ));
}

#[test]
fn same_seed_same_model_at_any_thread_count() {
    let t = table();
    let (known, _) = split(&t);
    let fit = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| MetaModel::fit(&known, &small_params()).unwrap())
    };
    let (a, b) = (fit(1), fit(2));
    assert_eq!(a.heads(), b.heads());
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

/// Guard: meta-training never reads the held-out domain. Fitting on a table whose held-out rows are scrambled gives
/// the very same meta-model, because only the known domains' rows reach `MetaModel::fit`.
#[test]
fn held_out_rows_never_reach_meta_training() {
    let t = table();
    let d = domains_by_dataset(&t);
    let held: std::collections::HashSet<usize> = d[3].rows.iter().copied().collect();
    let mut x = t.features().to_owned();
    for r in &held {
        x.row_mut(*r).fill(-12345.0);
    }
    let from = |x: &Array2<f64>| {
        let known: Vec<DomainData> = d[..3]
            .iter()
            .map(|dom| {
                let mut dd = DomainData::from_table(&t, &dom.name, &dom.rows);
                dd.x = x.select(Axis(0), &dom.rows);
                dd
            })
            .collect();
        assert!(known.iter().all(|k| k.x.iter().all(|&v| v != -12345.0)));
        MetaModel::fit(&known, &small_params()).unwrap()
    };
    let (a, b) = (from(&t.features().to_owned()), from(&x));
    assert_eq!(a.heads(), b.heads());
}

/// Guard for the augmented sampler (attack shares in log-odds, narrow supports from benign clusters): it too draws
/// only from the known domains it is given, so scrambling the held-out rows changes nothing, and it does change
/// the episodes (the augmented model differs from the plain one).
#[test]
fn augmented_episodes_never_reach_the_held_out_domain() {
    let t = table();
    let d = domains_by_dataset(&t);
    let augmented = || {
        MetaParams::from(small_params())
            .share_augmentation(true)
            .narrow_support_share(0.5)
            .benign_clusters(4)
            .check()
            .unwrap()
    };
    let held: std::collections::HashSet<usize> = d[3].rows.iter().copied().collect();
    let mut scrambled = t.features().to_owned();
    for r in &held {
        scrambled.row_mut(*r).fill(-12345.0);
    }
    let fit = |x: &Array2<f64>, params: &ValidMetaParams| {
        let known: Vec<DomainData> = d[..3]
            .iter()
            .map(|dom| {
                let mut dd = DomainData::from_table(&t, &dom.name, &dom.rows);
                dd.x = x.select(Axis(0), &dom.rows);
                dd
            })
            .collect();
        MetaModel::fit(&known, params).unwrap()
    };
    let clean = fit(&t.features().to_owned(), &augmented());
    assert_eq!(clean.heads(), fit(&scrambled, &augmented()).heads());
    let plain = fit(&t.features().to_owned(), &small_params());
    assert_ne!(
        serde_json::to_string(clean.report()).unwrap(),
        serde_json::to_string(plain.report()).unwrap(),
        "augmentation left the episodes unchanged"
    );
}

/// The pooled member (known domains' sample plus the support, as baseline B2) is one more weighted forest, named
/// `pooled`, and survives the model and detector files.
#[test]
fn pooled_member_is_weighted_and_saved() {
    let t = table();
    let (known, held) = split(&t);
    let params = MetaParams::from(small_params())
        .pooled_member(true)
        .check()
        .unwrap();
    let model = MetaModel::fit(&known, &params).unwrap();
    // The report says in plain words whether the weighting head learned or kept its anchored weights.
    let r = model.report();
    assert_eq!(r.weight_head_anchored, r.weight_epochs == 0);
    let summary = r.summary(params.heads());
    assert_eq!(
        summary.contains("NOT learned"),
        r.weight_head_anchored,
        "{summary}"
    );
    let (sx, sy) = support(&t, &held, 5);
    let det = model.adapt(sx.view(), &sy).unwrap();
    let names = det.forest_names();
    assert_eq!(names.len(), known.len() + 2);
    assert_eq!(names[known.len()], "pooled");
    assert_eq!(det.task_weights().len(), names.len());
    let test = t.features().select(Axis(0), &held[..200]);
    let p = det.predict_proba(test.view());
    let dir = tempfile::tempdir().unwrap();
    let (mpath, dpath) = (dir.path().join("m.mf"), dir.path().join("d.mfd"));
    model.save(&mpath).unwrap();
    det.save(&dpath).unwrap();
    let again = MetaModel::load(&mpath)
        .unwrap()
        .adapt(sx.view(), &sy)
        .unwrap();
    assert_eq!(again.predict_proba(test.view()), p);
    let loaded = metaforest_meta::Detector::load(&dpath).unwrap();
    assert_eq!(loaded.predict_proba(test.view()), p);
    assert_eq!(loaded.forest_names(), names);
}

#[test]
fn coverage_setting_is_saved_at_version_5_and_default_files_stay_at_version_4() {
    let t = table();
    let (known, held) = split(&t);
    let version = |bytes: &[u8]| u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    let default = MetaModel::fit(&known, &small_params()).unwrap();
    assert!(default.coverage().is_none());
    assert_eq!(version(&default.to_bytes().unwrap()), 4);
    let params = MetaParams::from(small_params())
        .coverage_shift(true)
        .check()
        .unwrap();
    assert!(params.coverage_shift());
    let model = MetaModel::fit(&known, &params).unwrap();
    let state = model.coverage().expect("the setting records its outcome");
    // One held-out check per known domain with whole-domain episodes; the summary says whether it was kept.
    assert!(!state.checks.is_empty());
    assert_eq!(state.summary().contains("NOT kept"), state.shift.is_none());
    let (sx, sy) = support(&t, &held, 5);
    let det = model.adapt(sx.view(), &sy).unwrap();
    let test = t.features().select(Axis(0), &held[..200]);
    let p = det.predict_proba(test.view());
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    let (mb, db) = (model.to_bytes().unwrap(), det.to_bytes().unwrap());
    assert_eq!((version(&mb), version(&db)), (5, 5));
    let origin = std::path::Path::new("mem");
    let again = MetaModel::from_bytes(&mb, origin).unwrap();
    assert!(again.params().coverage_shift());
    assert_eq!(again.coverage(), Some(state));
    assert_eq!(
        again
            .adapt(sx.view(), &sy)
            .unwrap()
            .predict_proba(test.view()),
        p
    );
    let loaded = metaforest_meta::Detector::from_bytes(&db, origin).unwrap();
    assert_eq!(loaded.predict_proba(test.view()), p);
    assert_eq!(loaded.to_bytes().unwrap(), db);
}

#[test]
fn explanations_carry_the_coverage_shifted_scores() {
    let t = table();
    let (known, held) = split(&t);
    let params = MetaParams::from(small_params())
        .coverage_shift(true)
        .coverage_gate(metaforest_meta::CoverageGate::Unchecked)
        .check()
        .unwrap();
    let model = MetaModel::fit(&known, &params).unwrap();
    assert!(model.coverage().unwrap().shift.is_some(), "unchecked: kept");
    let (sx, sy) = support(&t, &held, 5);
    let det = model.adapt(sx.view(), &sy).unwrap();
    let test = t.features().select(Axis(0), &held[..40]);
    let p = det.predict_proba(test.view());
    let explained = det.explain_rows(test.view()).unwrap();
    for (e, p) in explained.iter().zip(&p) {
        assert_eq!(e.score.to_bits(), p.to_bits());
    }
}

#[test]
fn threshold_is_one_half_without_unlabelled_flows_and_the_learned_rule_with_them() {
    let t = table();
    let (known, held) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    let (sx, sy) = support(&t, &held, 5);
    assert_eq!(model.adapt(sx.view(), &sy).unwrap().threshold(), 0.5);
    let unlabelled = t.features().select(Axis(0), &held[200..900]);
    let det = model
        .adapt_with_unlabelled(sx.view(), &sy, unlabelled.view())
        .unwrap();
    assert!(det.uses_unlabelled());
    // The detector keeps an evenly strided sample of at most UNLABELLED_SAMPLE flows and applies the rule to the
    // share of them it flags at one half.
    let rows: Vec<usize> = (0..metaforest_meta::UNLABELLED_SAMPLE)
        .map(|i| 200 + i * 700 / metaforest_meta::UNLABELLED_SAMPLE)
        .collect();
    let sample = t
        .features()
        .select(Axis(0), &rows.iter().map(|&i| held[i]).collect::<Vec<_>>());
    let share = metaforest_meta::ThresholdRule::flagged_share(&det.predict_proba(sample.view()));
    let expected = model.threshold_rule().threshold(share);
    assert!(
        (det.threshold() - expected).abs() < 1e-12,
        "{} vs {expected}",
        det.threshold()
    );
    assert!(det.threshold() > 0.0 && det.threshold() < 1.0);
}

#[test]
fn self_training_adds_the_confident_unlabelled_flows_at_their_own_balance() {
    use metaforest_meta::init::{self_train, LocalForestSettings};
    let t = table();
    let (_, held) = split(&t);
    let (sx, sy) = support(&t, &held, 5);
    let s = Support {
        x: sx.view(),
        y: &sy,
    };
    let settings = LocalForestSettings {
        n_trees: 20,
        seed: 3,
    };
    let local = {
        use linfa::ParamGuard;
        metaforest_forest::ForestParams::new()
            .n_trees(20)
            .n_classes(Some(2))
            .seed(3)
            .check()
            .unwrap()
            .fit(sx.view(), &sy)
            .unwrap()
    };
    // Fifty copies of the benign support flows: the support-grown forest is sure of most of them (they were in its
    // training set). Those it is sure of join with its labels, and the support's ten rows weigh as much as they do.
    let benign_rows: Vec<usize> = (0..5).cycle().take(50).collect();
    let unlabelled = sx.select(Axis(0), &benign_rows);
    let p = attack_probs(&local, unlabelled.view());
    let margin = metaforest_meta::init::PSEUDO_LABEL_MARGIN;
    let as_benign = p.iter().filter(|&&p| p <= margin).count() as f64;
    let as_attack = p.iter().filter(|&&p| p > 1.0 - margin).count() as f64;
    assert!(as_benign >= 30.0 && as_attack == 0.0, "{p:?}");
    let grown = self_train(&local, &settings, s, unlabelled.view()).unwrap();
    let support_weight = 5.0 * (as_benign / 10.0).max(1.0);
    let expected = (support_weight + as_benign) / (2.0 * support_weight + as_benign);
    let prior = grown.train_class_prior();
    assert!(prior[0] > 0.6, "{prior:?}");
    assert!(
        (prior[0] - expected).abs() < 1e-9,
        "{prior:?} vs {expected}"
    );
    // With nothing confident to add, the local forest stays as it was.
    let none = self_train(&local, &settings, s, sx.slice(ndarray::s![0..0, ..])).unwrap();
    assert_eq!(none.train_class_prior(), local.train_class_prior());

    // A detector given unlabelled flows uses such a self-trained local forest; without them, the support-grown one.
    let (known, _) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    let flows = t.features().select(Axis(0), &held[200..900]);
    let with = model
        .adapt_with_unlabelled(sx.view(), &sy, flows.view())
        .unwrap();
    let without = model.adapt(sx.view(), &sy).unwrap();
    assert_eq!(without.local_forest().train_class_prior(), &[0.5, 0.5]);
    assert_ne!(
        with.local_forest().train_class_prior(),
        without.local_forest().train_class_prior()
    );
}

/// With `self_trained_member`, META+U's local forest is self-trained as before and the support-grown forest is
/// weighed beside it; without unlabelled flows there is no such member. The file format does not carry the member
/// yet, so the model and its detectors refuse to be saved rather than be written without it.
#[test]
fn self_trained_member_is_weighed_beside_the_local_forest_and_never_saved_without_it() {
    let t = table();
    let (known, held) = split(&t);
    let params = MetaParams::from(small_params())
        .self_trained_member(true)
        .check()
        .unwrap();
    let model = MetaModel::fit(&known, &params).unwrap();
    let (sx, sy) = support(&t, &held, 5);
    let flows = t.features().select(Axis(0), &held[200..900]);
    let mut with = model
        .adapt_with_unlabelled(sx.view(), &sy, flows.view())
        .unwrap();
    let names = with.forest_names();
    assert_eq!(names.len(), known.len() + 2);
    assert_eq!(names[known.len()], "support-grown");
    assert_eq!(with.task_weights().len(), names.len());
    let grown = with.support_grown_forest().expect("a support-grown member");
    assert_eq!(grown.train_class_prior(), &[0.5, 0.5]);
    assert_ne!(with.local_forest().train_class_prior(), &[0.5, 0.5]);
    let test = t.features().select(Axis(0), &held[..200]);
    let p = with.predict_proba(test.view());
    assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
    let without = model.adapt(sx.view(), &sy).unwrap();
    assert_eq!(without.forest_names().len(), known.len() + 1);
    assert!(without.support_grown_forest().is_none());
    // More labels re-grow both.
    let (more_x, more_y) = support(&t, &held[900..], 2);
    with.adapt_more(more_x.view(), &more_y).unwrap();
    assert_eq!(with.forest_names(), names);
    assert_eq!(
        with.support_grown_forest().unwrap().train_class_prior(),
        &[0.5, 0.5]
    );

    let dir = tempfile::tempdir().unwrap();
    let refused = |e: MetaError| matches!(e, MetaError::NotSaved { .. });
    assert!(refused(model.to_bytes().unwrap_err()));
    assert!(refused(model.save(dir.path().join("m.mf")).unwrap_err()));
    assert!(refused(with.save(dir.path().join("d.mfd")).unwrap_err()));
    assert!(refused(without.to_bytes().unwrap_err()));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// A detector saved twice, and one adapted twice from the same inputs and seed (at different thread counts), give
/// identical bytes: nothing in a detector file depends on hashing order or scheduling.
#[test]
fn detector_files_are_byte_identical_for_the_same_inputs() {
    let t = table();
    let (known, held) = split(&t);
    let model = MetaModel::fit(&known, &small_params()).unwrap();
    let (sx, sy) = support(&t, &held, 5);
    let unlabelled = t.features().select(Axis(0), &held[200..900]);
    let (more_x, more_y) = support(&t, &held[20..], 2);
    let adapt = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut det = model
                .adapt_with_unlabelled(sx.view(), &sy, unlabelled.view())
                .unwrap();
            det.adapt_more(more_x.view(), &more_y).unwrap();
            det
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = |det: &metaforest_meta::Detector, name: &str| {
        let path = dir.path().join(name);
        det.save(&path).unwrap();
        std::fs::read(&path).unwrap()
    };
    let first = adapt(1);
    let once = bytes(&first, "a.mfd");
    assert_eq!(once, bytes(&first, "b.mfd"), "saved twice");
    for threads in [1, 2, 8] {
        assert_eq!(
            once,
            bytes(&adapt(threads), "c.mfd"),
            "adapted at {threads} threads"
        );
    }
    // And a loaded detector saves back to the same bytes.
    let loaded = metaforest_meta::Detector::load(dir.path().join("a.mfd")).unwrap();
    assert_eq!(once, bytes(&loaded, "d.mfd"), "loaded and saved again");
}

/// Another data set, in a feature space of its own (here: other synthetic networks with three columns fewer),
/// whose domains the weighting head also learns from.
fn other_source(episodes: usize) -> metaforest_meta::ExtraSource {
    let other = generate(&SyntheticConfig {
        n_networks: 3,
        rows_per_network: 1_000,
        attack_fraction: 0.4,
        seed: 17,
    })
    .unwrap();
    let names: Vec<String> = other.feature_names()[..3]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let other = other.drop_columns(&names).unwrap();
    let domains: Vec<DomainData> = domains_by_dataset(&other)
        .iter()
        .map(|d| DomainData::from_table(&other, &d.name, &d.rows))
        .collect();
    metaforest_meta::ExtraSource::train("other", domains, 8, 21, episodes).unwrap()
}

/// A source in another feature space adds episodes to the weighting head's training (the report names it and
/// counts them, the model changes), the model still reads the known domains' features, and the result is the same
/// at any thread count.
#[test]
fn other_sources_teach_the_weighting_head_in_their_own_feature_space() {
    let t = table();
    let (known, held) = split(&t);
    let params = small_params();
    let learners = metaforest_meta::train_task_learners(&known, 10, 5).unwrap();
    let source = other_source(30);
    assert_ne!(source.domains[0].x.ncols(), known[0].x.ncols());
    let fit = |threads: usize, sources: &[metaforest_meta::ExtraSource]| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            MetaModel::fit_with_sources(&known, learners.clone(), sources, &params).unwrap()
        })
    };
    let with = fit(1, std::slice::from_ref(&source));
    let (name, n) = &with.report().extra_sources[0];
    assert_eq!(name, "other");
    assert!(*n >= 20 && *n <= 30, "{n} episodes of the other source");
    assert!(with
        .report()
        .summary(with.params().heads())
        .contains("other"));
    let again = fit(2, std::slice::from_ref(&source));
    assert_eq!(
        serde_json::to_string(&with).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
    let without = fit(2, &[]);
    assert!(without.report().extra_sources.is_empty());
    assert_ne!(
        serde_json::to_string(&with).unwrap(),
        serde_json::to_string(&without).unwrap(),
        "the other source's episodes changed nothing"
    );
    assert_eq!(with.n_features(), known[0].x.ncols());
    let (sx, sy) = support(&t, &held, 5);
    let p = with
        .adapt(sx.view(), &sy)
        .unwrap()
        .predict_proba(t.features().select(Axis(0), &held[..50]).view());
    assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
}

/// A source with one domain (no other forest to adapt with) or forests of another width is refused up front.
#[test]
fn malformed_sources_are_errors() {
    let t = table();
    let (known, _) = split(&t);
    let learners = metaforest_meta::train_task_learners(&known, 6, 5).unwrap();
    let mut lonely = other_source(10);
    lonely.domains.truncate(1);
    lonely.known.truncate(1);
    let err = MetaModel::fit_with_sources(&known, learners.clone(), &[lonely], &small_params())
        .expect_err("one domain");
    assert!(matches!(err, MetaError::TooFewDomains { .. }), "{err}");
    let mut mixed = other_source(10);
    mixed.known[1] = learners[0].clone();
    let err = MetaModel::fit_with_sources(&known, learners, &[mixed], &small_params())
        .expect_err("forest of another width");
    assert!(matches!(err, MetaError::FeatureMismatch { .. }), "{err}");
}
