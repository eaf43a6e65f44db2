//! A quick P1 run on the real NF-v2 data (skipped without the data, unless METAFOREST_REQUIRE_DATA=1).
//! The full protocol (ORACLE ≥ 0.95 per domain) is checked by `metaforest bench p1`, not here: too slow.

use std::path::PathBuf;

use linfa::ParamGuard;
use metaforest_eval::bench::{run_bench, BenchRequest, Protocol};
use metaforest_eval::report::Grid;
use metaforest_eval::{BenchParams, PortsMode};

#[test]
fn quick_p1_on_real_data() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = metaforest_flows::data_dir_relative_to(&root);
    if !metaforest_flows::datasets::has_nf_v2(&dir) {
        metaforest_flows::skip_real_data(&dir, "");
        return;
    }
    let cfg = BenchParams::quick()
        .draws(2)
        .ks(vec![10])
        .domains(Some(vec!["CSE".into()]))
        .progress(false)
        .check()
        .unwrap();
    let mut req = BenchRequest::new(vec![Protocol::P1], dir, cfg);
    req.ports = PortsMode::With;
    let out = run_bench(&req).unwrap();
    let grids = Grid::group(&out.records);
    let g = &grids[0];
    assert_eq!(g.domains, ["NF-CSE-CIC-IDS2018-v2"]);
    let oracle = g
        .summary("NF-CSE-CIC-IDS2018-v2", "ORACLE", 10, "macro_f1")
        .unwrap();
    assert!(oracle.mean > 0.9, "ORACLE macro-F1 {}", oracle.mean);
}

/// META meta-trained with another data set's episodes: on the synthetic protocol, NSL-KDD's families are used
/// (the per-fold notes name them and their episode count), while synthetic networks never teach a synthetic fold;
/// a requested source whose data is missing is an error, never silently dropped.
#[test]
fn meta_learns_from_the_sources_each_fold_may_use() {
    use metaforest_eval::meta_method::MetaMethod;
    use metaforest_eval::meta_sources::{MetaSources, SourceKind};
    use metaforest_meta::MetaParams;
    use std::sync::Arc;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = metaforest_flows::data_dir_relative_to(&root);
    if !metaforest_flows::datasets::has_nsl_kdd(&dir) {
        metaforest_flows::skip_real_data(&dir, "");
        return;
    }
    let params = MetaParams::default()
        .n_episodes(24)
        .ks(vec![2, 5])
        .query_size(48)
        .task_learner_trees(8)
        .local_trees(8)
        .max_epochs(2);
    let cfg = BenchParams::quick()
        .draws(1)
        .ks(vec![5])
        .domains(Some(vec!["NET-1".into()]))
        .trees_known(8)
        .known_cap(1_000)
        .progress(false)
        .check()
        .unwrap();
    let run = |kinds: Vec<SourceKind>, data: &std::path::Path| {
        let mut req = BenchRequest::new(vec![Protocol::Synthetic], dir.clone(), cfg.clone());
        req.synthetic_domains = 3;
        req.synthetic_rows = 1_200;
        let sources = Arc::new(MetaSources::new(kinds, data, 12));
        metaforest_eval::bench::run_bench_with(
            &req,
            MetaMethod::pair_with_sources(params.clone(), Some(sources)),
        )
    };
    let notes = run(vec![SourceKind::NslFamilies, SourceKind::Synthetic], &dir)
        .unwrap()
        .notes
        .join("\n");
    assert!(notes.contains("other sources' episodes (nsl 1"), "{notes}");
    assert!(!notes.contains("syn "), "{notes}");
    let err = run(
        vec![SourceKind::NslFamilies],
        std::path::Path::new("/nonexistent"),
    )
    .expect_err("missing source data");
    assert!(err.to_string().contains("needs the NSL-KDD data"), "{err}");
}
