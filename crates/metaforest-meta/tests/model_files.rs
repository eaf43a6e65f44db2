//! Model files are checked before use: crafted files (a small trained model, saved, then specific fields changed
//! and the header's checksum fixed up) give a clear error naming the file and what is wrong, never a panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use linfa::ParamGuard;
use metaforest_flows::domains::domains_by_dataset;
use metaforest_flows::synthetic::{generate, SyntheticConfig};
use metaforest_flows::ColumnSpec;
use metaforest_forest::container::HEADER_LEN;
use metaforest_forest::Forest;
use metaforest_meta::{Detector, DomainData, FeatureSpace, MetaModel, MetaParams};
use ndarray::Axis;

struct Fixture {
    model: MetaModel,
    detector: Detector,
}

/// A small meta-model on synthetic networks and a detector adapted from it (built once).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let t = generate(&SyntheticConfig {
            n_networks: 4,
            rows_per_network: 800,
            attack_fraction: 0.3,
            seed: 9,
        })
        .unwrap();
        let d = domains_by_dataset(&t);
        let known: Vec<DomainData> = d[..3]
            .iter()
            .map(|d| DomainData::from_table(&t, &d.name, &d.rows))
            .collect();
        let params = MetaParams::default()
            .n_episodes(20)
            .ks(vec![2])
            .query_size(32)
            .task_learner_trees(6)
            .local_trees(8)
            .max_epochs(2)
            .seed(3)
            .check()
            .unwrap();
        let space = FeatureSpace::new(t.columns().to_vec(), "synthetic test networks");
        let model = MetaModel::fit(&known, &params)
            .unwrap()
            .with_feature_space(space)
            .unwrap();
        let labels = t.labels();
        let mut pick: Vec<usize> = d[3]
            .rows
            .iter()
            .copied()
            .filter(|&r| labels[r] == 0)
            .take(5)
            .collect();
        pick.extend(
            d[3].rows
                .iter()
                .copied()
                .filter(|&r| labels[r] == 1)
                .take(5),
        );
        let x = t.features().select(Axis(0), &pick);
        let y: Vec<u32> = pick.iter().map(|&r| u32::from(labels[r])).collect();
        let detector = model.adapt(x.view(), &y).unwrap();
        Fixture { model, detector }
    })
}

fn fix_header(bytes: &mut [u8]) {
    let len = (bytes.len() - HEADER_LEN) as u64;
    bytes[12..20].copy_from_slice(&len.to_le_bytes());
    let crc = crc32fast::hash(&bytes[HEADER_LEN..]);
    bytes[20..24].copy_from_slice(&crc.to_le_bytes());
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("pattern in the file")
}

fn rfind(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("pattern in the file")
}

/// `file` with the bytes of the embedded `forest` changed by `edit` (given the forest's payload), header fixed.
fn corrupt_forest(file: &[u8], forest: &Forest, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let payload = forest.to_bytes().unwrap()[HEADER_LEN..].to_vec();
    let mut out = file.to_vec();
    let at = HEADER_LEN + find(&file[HEADER_LEN..], &payload);
    edit(&mut out[at..at + payload.len()]);
    fix_header(&mut out);
    out
}

/// Offset of node `k` of the first tree in a forest payload: tree count, node count, then 16-byte nodes
/// (threshold f64, flags u32, child u32).
fn node(k: usize) -> usize {
    8 + 8 + 16 * k
}

fn first_split(forest_payload: &[u8]) -> usize {
    let n_nodes = u64::from_le_bytes(forest_payload[8..16].try_into().unwrap()) as usize;
    (0..n_nodes)
        .find(|&k| {
            let at = node(k);
            u32::from_le_bytes(forest_payload[at + 8..at + 12].try_into().unwrap()) >> 31 == 0
        })
        .unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn detector_error(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = write(dir, name, bytes);
    let err = Detector::load(&path).expect_err("a crafted file must be refused");
    let text = err.to_string();
    assert!(text.contains(name), "the error names the file: {text}");
    text
}

#[test]
fn sound_files_round_trip_with_their_feature_space() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    f.model.save(dir.path().join("m.mf")).unwrap();
    let m = MetaModel::load(dir.path().join("m.mf")).unwrap();
    assert_eq!(m.feature_space(), f.model.feature_space());
    assert_eq!(m.feature_space().source(), "synthetic test networks");
    let bytes = f.detector.to_bytes().unwrap();
    let d = Detector::from_bytes(&bytes, Path::new("d.mfd")).unwrap();
    assert_eq!(
        d.feature_space().columns(),
        f.model.feature_space().columns()
    );
    assert_eq!(d.to_bytes().unwrap(), bytes);
}

#[test]
fn a_space_of_the_wrong_width_is_refused() {
    let f = fixture();
    let narrow = FeatureSpace::new(vec![ColumnSpec::numeric("only")], "");
    assert!(f.model.clone().with_feature_space(narrow).is_err());
}

#[test]
fn crafted_forests_inside_a_detector_are_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = f.detector.to_bytes().unwrap();
    // The first known forest (grown on a whole domain, so its first tree's root is a split).
    let known = f.detector.known_forest(0).unwrap();

    let out_of_range = corrupt_forest(&file, known, |p| {
        let at = node(first_split(p));
        p[at + 12..at + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let e = detector_error(dir.path(), "child.mfd", &out_of_range);
    assert!(
        e.contains("forest `") && e.contains("invalid children"),
        "{e}"
    );

    // A split node pointing back at itself: a walk would never end.
    let cycle = corrupt_forest(&file, known, |p| {
        let k = first_split(p);
        let at = node(k);
        p[at + 12..at + 16].copy_from_slice(&(k as u32).to_le_bytes());
    });
    let e = detector_error(dir.path(), "cycle.mfd", &cycle);
    assert!(e.contains("invalid children"), "{e}");

    let feature = corrupt_forest(&file, known, |p| {
        let at = node(first_split(p));
        p[at + 8..at + 12].copy_from_slice(&5000u32.to_le_bytes());
    });
    let e = detector_error(dir.path(), "feature.mfd", &feature);
    assert!(e.contains("splits on feature 5000"), "{e}");

    // The local forest: its class count (the forest's own, after its trees) forged to 2^40.
    let local = f.detector.local_forest();
    let classes = corrupt_forest(&file, local, |p| {
        let mut pattern = (local.n_features() as u64).to_le_bytes().to_vec();
        pattern.extend(2u64.to_le_bytes());
        let at = rfind(p, &pattern) + 8;
        p[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    });
    let e = detector_error(dir.path(), "classes.mfd", &classes);
    assert!(e.contains("1099511627776 classes"), "{e}");
}

#[test]
fn a_head_of_the_wrong_width_is_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut file = f.detector.to_bytes().unwrap();
    // The weighting head's first layer: Some, 3 layers, 64×40 weights, then 64 biases. Move one weight into the
    // biases (2559 weights, 65 biases): the bytes still parse, the shapes are wrong.
    let mut pattern = vec![1u8];
    pattern.extend(3u64.to_le_bytes());
    pattern.extend(2560u64.to_le_bytes());
    let at = find(&file, &pattern) + 9;
    file[at..at + 8].copy_from_slice(&2559u64.to_le_bytes());
    let bias = at + 8 + 2559 * 4;
    file[bias..bias + 8].copy_from_slice(&65u64.to_le_bytes());
    fix_header(&mut file);
    let e = detector_error(dir.path(), "head.mfd", &file);
    assert!(
        e.contains("weighting head: layer 0 has 2559 weights and 65 biases"),
        "{e}"
    );
}

#[test]
fn a_truncated_payload_with_a_fixed_header_is_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in [
        ("cut.mfd", f.detector.to_bytes().unwrap()),
        ("cut.mf", f.model.to_bytes().unwrap()),
    ] {
        let mut cut = file[..HEADER_LEN + (file.len() - HEADER_LEN) / 2].to_vec();
        fix_header(&mut cut);
        let path = write(dir.path(), name, &cut);
        let e = if name.ends_with(".mfd") {
            Detector::load(&path).unwrap_err().to_string()
        } else {
            MetaModel::load(&path).unwrap_err().to_string()
        };
        assert!(e.contains(name) && e.contains("cannot decode"), "{e}");
    }
}

#[test]
fn a_crafted_forest_inside_a_meta_model_is_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = f.model.to_bytes().unwrap();
    let known = &f.model.known()[1].forest;
    let bad = corrupt_forest(&file, known, |p| {
        let at = node(first_split(p));
        p[at + 12..at + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let path = write(dir.path(), "bad.mf", &bad);
    let e = MetaModel::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("bad.mf") && e.contains("invalid children"),
        "{e}"
    );
}

#[test]
fn old_and_swapped_files_say_what_to_do() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let model = f.model.to_bytes().unwrap();
    let detector = f.detector.to_bytes().unwrap();

    let mut old_cli = model.clone();
    old_cli[..8].copy_from_slice(b"MFCLIMOD");
    let e = MetaModel::load(write(dir.path(), "old.mf", &old_cli))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("older format") && e.contains("metaforest train"),
        "{e}"
    );
    let mut old_cli = detector.clone();
    old_cli[..8].copy_from_slice(b"MFCLIDET");
    let e = detector_error(dir.path(), "old.mfd", &old_cli);
    assert!(
        e.contains("older format") && e.contains("metaforest adapt"),
        "{e}"
    );

    let mut v2 = detector.clone();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let e = detector_error(dir.path(), "v2.mfd", &v2);
    assert!(
        e.contains("format version 2") && e.contains("metaforest adapt"),
        "{e}"
    );

    let e = detector_error(dir.path(), "model.mf", &model);
    assert!(e.contains("it is a meta-model"), "{e}");
    let e = MetaModel::load(write(dir.path(), "det.mfd", &detector))
        .unwrap_err()
        .to_string();
    assert!(e.contains("it is a detector"), "{e}");
}
