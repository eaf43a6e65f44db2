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
