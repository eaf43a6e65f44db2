//! Protocol runs on the synthetic generator: deterministic for a seed, independent of the thread count,
//! and the reports they produce round-trip.

use std::path::PathBuf;

use linfa::ParamGuard;
use metaforest_eval::bench::{run_bench, BenchRequest, Protocol};
use metaforest_eval::report::{read_records_json, write_reports, Grid, MEAN_DOMAIN};
use metaforest_eval::{BenchParams, Record};

fn tiny_params(seed: u64) -> BenchParams {
    BenchParams::new()
        .draws(3)
        .ks(vec![2, 5])
        .seed(seed)
        .trees_local(8)
        .trees_known(8)
        .trees_b2(5)
        .tune_trees(5)
        .known_cap(1_000)
        .pooled_cap(500)
        .b2_cap(200)
        .test_cap(400)
        .oracle_cap(1_000)
        .unlabelled_cap(200)
        .tune_episodes(2)
        .tune_query(100)
        .progress(false)
}

fn synthetic_request(seed: u64, threads: usize) -> BenchRequest {
    let mut req = BenchRequest::new(
        vec![Protocol::Synthetic],
        PathBuf::from("/nonexistent"),
        tiny_params(seed).check().unwrap(),
    );
    req.threads = Some(threads);
    req.synthetic_domains = 3;
    req.synthetic_rows = 1_200;
    req
}

fn bits(r: &[Record]) -> Vec<(String, String, usize, usize, u64, Vec<u64>)> {
    r.iter()
        .map(|r| {
            (
                r.domain.clone(),
                r.method.clone(),
                r.k,
                r.draw,
                r.seed,
                r.metrics.values().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

#[test]
fn synthetic_protocol_is_deterministic_and_thread_independent() {
    let a = run_bench(&synthetic_request(11, 1)).unwrap();
    let b = run_bench(&synthetic_request(11, 2)).unwrap();
    let c = run_bench(&synthetic_request(11, 2)).unwrap();
    // 3 held-out networks × 2 Ks × 3 draws × 8 methods.
    assert_eq!(a.records.len(), 3 * 2 * 3 * 8);
    assert!(
        bits(&a.records) == bits(&b.records),
        "1 vs 2 threads differ"
    );
    assert!(
        bits(&b.records) == bits(&c.records),
        "two runs with the same seed differ"
    );
    let d = run_bench(&synthetic_request(12, 2)).unwrap();
    assert!(
        bits(&a.records) != bits(&d.records),
        "a different seed changed nothing"
    );

    // Every method sees the same draws: same seed per (domain, k, draw) across methods.
    for r in &a.records {
        let b0 = a
            .records
            .iter()
            .find(|x| x.method == "B0" && x.domain == r.domain && x.k == r.k && x.draw == r.draw)
            .unwrap();
        assert_eq!(r.seed, b0.seed);
        assert_eq!(r.n_test, b0.n_test);
    }
    // Only B6 is flagged as reading unlabelled flows.
    assert!(a
        .records
        .iter()
        .all(|r| r.uses_unlabelled == (r.method == "B6")));
    // Zero-shot and oracle do not depend on the draw.
    let oracle: Vec<f64> = a
        .records
        .iter()
        .filter(|r| r.method == "ORACLE" && r.domain == a.records[0].domain)
        .map(|r| r.metrics.macro_f1)
        .collect();
    assert!(oracle.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn synthetic_oracle_beats_one_shot_and_reports_round_trip() {
    let out = run_bench(&synthetic_request(5, 2)).unwrap();
    let grids = Grid::group(&out.records);
    assert_eq!(grids.len(), 1);
    let g = &grids[0];
    let oracle = g.summary(MEAN_DOMAIN, "ORACLE", 2, "macro_f1").unwrap();
    let b0 = g.summary(MEAN_DOMAIN, "B0", 2, "macro_f1").unwrap();
    assert!(
        oracle.mean > 0.8,
        "ORACLE on synthetic data: {}",
        oracle.mean
    );
    assert!(
        oracle.mean > b0.mean,
        "ORACLE {} <= B0 {}",
        oracle.mean,
        b0.mean
    );

    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("records.json");
    let input = out.into_report_input("test".into(), Some(1.0));
    write_reports(dir.path(), &input, Some(&json)).unwrap();
    let back = read_records_json(&json).unwrap();
    // Bit-exact: serde_json's float_roundtrip feature is on for this crate.
    assert!(
        bits(&back) == bits(&input.records),
        "JSON round-trip changed a record"
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("## SYN") && md.contains("| ORACLE |"));
}

#[test]
fn missing_data_falls_back_to_synthetic_with_a_note() {
    let mut req = synthetic_request(3, 2);
    req.protocols = vec![Protocol::P1, Protocol::P3];
    let out = run_bench(&req).unwrap();
    assert!(out.notes.iter().any(|n| n.starts_with("no data for P1")));
    assert!(out.records.iter().all(|r| r.protocol == "SYN"));
    // Run once even though two protocols fell back.
    assert_eq!(out.records.len(), 3 * 2 * 3 * 8);
}

#[test]
fn bad_configuration_is_an_error() {
    assert!(tiny_params(3).ks(vec![0]).check().is_err());
    assert!(tiny_params(3).ks(vec![]).check().is_err());
    assert!(tiny_params(3).draws(0).check().is_err());
    assert!(tiny_params(3).trees_b2(0).check().is_err());
    assert!(tiny_params(3).tune_query(0).check().is_err());
}

/// A method that says "attack" with probability 0.5 everywhere: the trait's extension point (META plugs in
/// the same way through `run_bench_with`).
struct Coin;

impl metaforest_eval::Method for Coin {
    fn name(&self) -> &str {
        "COIN"
    }
    fn prepare(&mut self, fold: &metaforest_eval::Fold) -> metaforest_eval::Result<()> {
        assert!(!fold.known.iter().any(|d| d.name == fold.held_out));
        Ok(())
    }
    fn score(
        &self,
        fold: &metaforest_eval::Fold,
        _draw: &metaforest_eval::Draw,
    ) -> metaforest_eval::Result<metaforest_eval::Scored> {
        Ok(metaforest_eval::Scored {
            proba: vec![0.5; fold.y_test.len()],
            pred: vec![0; fold.y_test.len()],
        })
    }
}

#[test]
fn extra_methods_plug_in_and_domains_filter() {
    let mut req = synthetic_request(9, 2);
    req.config = tiny_params(9)
        .domains(Some(vec!["NET-1".into()]))
        .check()
        .unwrap();
    let out = metaforest_eval::bench::run_bench_with(&req, vec![Box::new(Coin)]).unwrap();
    assert!(out.records.iter().all(|r| r.domain == "synthetic-net-1"));
    let coin: Vec<_> = out.records.iter().filter(|r| r.method == "COIN").collect();
    assert_eq!(coin.len(), 2 * 3);
    for r in coin {
        assert!((r.metrics.roc_auc - 0.5).abs() < 1e-12);
        assert_eq!(r.metrics.detection_rate, 0.0);
        assert_eq!(r.metrics.false_alarm_rate, 0.0);
    }
}

/// META through the harness: `MetaMethod::detector` is the detector `score` applies (same probabilities, same
/// predictions at the detector's threshold); asking a method that was never prepared is an error, not a panic.
struct MetaChecked {
    prepared: metaforest_eval::meta_method::MetaMethod,
    unprepared: metaforest_eval::meta_method::MetaMethod,
}

impl metaforest_eval::Method for MetaChecked {
    fn name(&self) -> &str {
        "META-CHECKED"
    }
    fn prepare(&mut self, fold: &metaforest_eval::Fold) -> metaforest_eval::Result<()> {
        self.prepared.prepare(fold)
    }
    fn score(
        &self,
        fold: &metaforest_eval::Fold,
        draw: &metaforest_eval::Draw,
    ) -> metaforest_eval::Result<metaforest_eval::Scored> {
        let scored = self.prepared.score(fold, draw)?;
        let detector = self.prepared.detector(fold, draw)?;
        assert_eq!(scored.proba, detector.predict_proba(fold.x_test.view()));
        assert_eq!(scored.pred, detector.predict(fold.x_test.view()));
        let err = self
            .unprepared
            .detector(fold, draw)
            .expect_err("unprepared");
        assert!(err.to_string().contains("before prepare"), "{err}");
        Ok(scored)
    }
}

#[test]
fn meta_method_scores_with_the_detector_it_adapts() {
    use metaforest_eval::meta_method::MetaMethod;
    use metaforest_meta::MetaParams;
    let params = MetaParams::default()
        .n_episodes(24)
        .ks(vec![2, 5])
        .query_size(48)
        .task_learner_trees(8)
        .local_trees(8)
        .max_epochs(2);
    let mut req = synthetic_request(11, 2);
    req.config = tiny_params(11)
        .domains(Some(vec!["NET-1".into()]))
        .ks(vec![5])
        .check()
        .unwrap();
    let method = MetaChecked {
        prepared: MetaMethod::new("META", params.clone()),
        unprepared: MetaMethod::new("META", params),
    };
    let out = metaforest_eval::bench::run_bench_with(&req, vec![Box::new(method)]).unwrap();
    let scored: Vec<_> = out
        .records
        .iter()
        .filter(|r| r.method == "META-CHECKED")
        .collect();
    assert_eq!(scored.len(), 3, "one record per draw");
    assert!(scored.iter().all(|r| r.metrics.roc_auc.is_finite()));
}
