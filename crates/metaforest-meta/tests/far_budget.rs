//! `--max-far` calibration: a budget is set only from evidence that can resolve it (leave-one-out scores of
//! enough benign support flows, or enough unlabelled flows), refused otherwise, and never below ½ unless asked.

use std::path::Path;
use std::sync::OnceLock;

use linfa::ParamGuard;
use metaforest_flows::domains::domains_by_dataset;
use metaforest_flows::synthetic::{generate, SyntheticConfig};
use metaforest_flows::FlowTable;
use metaforest_meta::{
    Detector, DomainData, FarEvidence, FeatureSpace, MetaError, MetaModel, MetaParams,
    ThresholdBasis,
};
use ndarray::{Array2, Axis};

struct Fixture {
    model: MetaModel,
    table: FlowTable,
    /// The new domain's benign and attack rows.
    benign: Vec<usize>,
    attack: Vec<usize>,
}

/// A small meta-model on three synthetic networks; the fourth is the new domain.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let table = generate(&SyntheticConfig {
            n_networks: 4,
            rows_per_network: 1200,
            attack_fraction: 0.3,
            seed: 21,
        })
        .unwrap();
        let d = domains_by_dataset(&table);
        let known: Vec<DomainData> = d[..3]
            .iter()
            .map(|d| DomainData::from_table(&table, &d.name, &d.rows))
            .collect();
        let params = MetaParams::default()
            .n_episodes(20)
            .ks(vec![5])
            .query_size(32)
            .task_learner_trees(8)
            .local_trees(10)
            .max_epochs(2)
            .seed(5)
            .check()
            .unwrap();
        let space = FeatureSpace::new(table.columns().to_vec(), "synthetic test networks");
        let model = MetaModel::fit(&known, &params)
            .unwrap()
            .with_feature_space(space)
            .unwrap();
        let labels = table.labels();
        let (benign, attack) = d[3].rows.iter().partition(|&&r| labels[r] == 0);
        Fixture {
            model,
            table,
            benign,
            attack,
        }
    })
}

fn rows(rows: &[usize]) -> Array2<f64> {
    fixture().table.features().select(Axis(0), rows)
}

/// A detector adapted on the first `n_benign` benign and `n_attack` attack flows of the new domain.
fn adapted(n_benign: usize, n_attack: usize) -> Detector {
    let f = fixture();
    let pick: Vec<usize> = f.benign[..n_benign]
        .iter()
        .chain(&f.attack[..n_attack])
        .copied()
        .collect();
    let y: Vec<u32> = (0..pick.len()).map(|i| u32::from(i >= n_benign)).collect();
    f.model.adapt(rows(&pick).view(), &y).unwrap()
}

#[test]
fn a_budget_finer_than_the_benign_flows_resolve_is_refused() {
    let mut det = adapted(8, 5);
    let before = (det.threshold(), det.threshold_basis());
    let err = det.calibrate_far(0.01, false).unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::FarBudgetUnresolvable {
                needed: 100,
                benign: 8,
                unlabelled: 0,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("needs at least 100 benign support flows") && msg.contains("has 8 benign"),
        "{msg}"
    );
    assert!(msg.contains("at least 0.1250"), "{msg}");
    assert_eq!((det.threshold(), det.threshold_basis()), before);
}

#[test]
fn leave_one_out_holds_the_budget_on_held_out_benign_flows() {
    let f = fixture();
    let mut det = adapted(40, 10);
    let basis = det.calibrate_far(0.05, false).unwrap();
    let ThresholdBasis::FalseAlarmBudget {
        evidence,
        scored,
        quantile,
        floor,
        ..
    } = basis
    else {
        panic!("{basis:?}")
    };
    assert_eq!(
        (evidence, scored, floor),
        (FarEvidence::LeaveOneOut, 40, 0.5)
    );
    assert_eq!(det.threshold(), quantile.max(0.5));
    // The benign flows of the new domain that were not in the support.
    let held = rows(&f.benign[40..]);
    let alarms = det.predict(held.view()).iter().filter(|&&v| v == 1).count();
    let far = alarms as f64 / held.nrows() as f64;
    assert!(
        far <= 0.05,
        "false-alarm rate {far} on {} held-out benign flows",
        held.nrows()
    );
    // Stored with the detector and checked on load; the detector id names the stored bytes, threshold included.
    let back = Detector::from_bytes(&det.to_bytes().unwrap(), Path::new("t.mfd")).unwrap();
    assert_eq!(back.threshold_basis(), basis);
    assert_eq!(back.threshold(), det.threshold());
    assert_eq!(back.id().unwrap(), det.id().unwrap());
    assert_ne!(adapted(40, 10).id().unwrap(), det.id().unwrap());
}

/// The unlabelled sample's scores, highest first.
fn unlabelled_scores(det: &Detector) -> Vec<f64> {
    let mut s = det.predict_proba(det.unlabelled().unwrap());
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

#[test]
fn unlabelled_quantiles_resolve_a_budget_and_the_floor_holds_unless_lifted() {
    let f = fixture();
    let support: Vec<usize> = f.benign[..5]
        .iter()
        .chain(&f.attack[..5])
        .copied()
        .collect();
    let y: Vec<u32> = (0..10).map(|i| u32::from(i >= 5)).collect();
    let unlabelled = rows(&f.benign[5..305]);
    let mut det = f
        .model
        .adapt_with_unlabelled(rows(&support).view(), &y, unlabelled.view())
        .unwrap();

    // 0.02 needs 50 flows: the 5 benign support flows cannot resolve it, the 300 unlabelled ones can.
    let t = det.calibrate_far(0.02, true).unwrap();
    let ThresholdBasis::FalseAlarmBudget {
        evidence, scored, ..
    } = t
    else {
        panic!("{t:?}")
    };
    assert_eq!((evidence, scored), (FarEvidence::Unlabelled, 300));
    assert!(t.to_string().contains("benign-dominated"), "{t}");
    // Exactly the conformal quantile: just above the ceil(301 · 0.98) = 295th smallest score, the 6th highest,
    // so at most 5 unlabelled flows alarm.
    let s = unlabelled_scores(&det);
    let th = det.threshold();
    assert!(s.iter().filter(|&&v| v >= th).count() <= 5);
    assert!(s[5] < th && th <= s[5] + 1e-6, "{th} vs {}", s[5]);

    // A budget of one half lets half the (benign) unlabelled flows alarm: far below ½ on this domain.
    let lifted = det.calibrate_far(0.5, true).unwrap();
    let ThresholdBasis::FalseAlarmBudget { quantile, .. } = lifted else {
        panic!("{lifted:?}")
    };
    assert!(
        quantile < 0.5,
        "fixture: the median benign score {quantile} should be below ½"
    );
    assert_eq!(det.threshold(), quantile);
    det.calibrate_far(0.5, false).unwrap();
    assert_eq!(det.threshold(), 0.5);
    assert!(det
        .threshold_basis()
        .to_string()
        .contains("raised to the floor 0.5"));
}
