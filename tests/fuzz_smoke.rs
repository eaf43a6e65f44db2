//! A stable-Rust smoke run of every fuzz target (`fuzz/`): seeds generated here (synthetic flows, a
//! small trained forest and meta-model; never data-set rows), then a few thousand seeded mutations per
//! target. Model files are also mutated in their payload only, with the container header's length and
//! CRC fixed up, so that mutations reach the deserialiser. A panic fails the test and prints the input.
//!
//! `METAFOREST_FUZZ_ITERS=N` (inputs per target) or `METAFOREST_FUZZ_SECS=S` (seconds per target) make
//! a longer run.

#[path = "../fuzz/entries.rs"]
mod entries;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use linfa::ParamGuard;
use metaforest::flows::datasets::NF_V2_FEATURES;
use metaforest::flows::synthetic::generate;
use metaforest::flows::{FlowTable, SyntheticConfig, BUILTIN_SCHEMAS};
use metaforest::forest::container::HEADER_LEN;
use metaforest::forest::ForestParams;
use metaforest::meta::{DomainData, FeatureSpace, MetaModel, MetaParams, PlainForest};

/// A small seeded generator (xorshift64*), so every run mutates the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\"\n\r,\t#{}[]:-.0123456789eE\x00\xff\xef\xbb\xbf ";

/// One to five bytes of a model file's payload changed in place (the structure keeps its shape, so the
/// deserialiser accepts more of them and the loader's checks are what is tested).
fn mutate_payload(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(5) {
        let at = HEADER_LEN + rng.below(v.len() - HEADER_LEN);
        match rng.below(3) {
            0 => v[at] ^= 1 << rng.below(8),
            1 => v[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)],
            _ => v[at] = rng.next() as u8,
        }
    }
    fix_header(&mut v);
    v
}

/// One to five edits: bit flips, interesting bytes, inserted or removed runs, duplicated chunks, cuts.
fn mutate(rng: &mut Rng, input: &[u8], from: usize) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(5) {
        let len = v.len();
        if len <= from {
            v.push(INTERESTING[rng.below(INTERESTING.len())]);
            continue;
        }
        let at = from + rng.below(len - from);
        match rng.below(7) {
            0 => v[at] ^= 1 << rng.below(8),
            1 => v[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => v[at] = rng.next() as u8,
            3 => {
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n)
                    .map(|_| INTERESTING[rng.below(INTERESTING.len())])
                    .collect();
                v.splice(at..at, bytes);
            }
            4 => {
                let end = (at + 1 + rng.below(16)).min(len);
                v.drain(at..end);
            }
            5 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let chunk = v[at..end].to_vec();
                let to = from + rng.below(v.len() - from);
                v.splice(to..to, chunk);
            }
            _ => v.truncate(at),
        }
    }
    v
}

/// Rewrites the container header's payload length and CRC-32 after a payload mutation.
fn fix_header(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let payload_len = (bytes.len() - HEADER_LEN) as u64;
    let crc = crc32fast::hash(&bytes[HEADER_LEN..]);
    bytes[12..20].copy_from_slice(&payload_len.to_le_bytes());
    bytes[20..24].copy_from_slice(&crc.to_le_bytes());
}

fn budget() -> (usize, Option<Duration>) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    match (env("METAFOREST_FUZZ_SECS"), env("METAFOREST_FUZZ_ITERS")) {
        (Some(s), _) => (usize::MAX, Some(Duration::from_secs(s))),
        (None, Some(n)) => (n as usize, None),
        (None, None) => (3000, None),
    }
}

/// Runs `target` on the seeds and on seeded mutations of them; `container` adds payload mutations
/// with the header fixed up. Panics (with the input) on the first panicking input.
fn smoke(name: &str, seeds: &[Vec<u8>], container: bool, target: fn(&[u8])) {
    let (iters, time) = budget();
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    let run = |input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
            panic!("fuzz target {name} panicked on input {:?}", input);
        }
    };
    for s in seeds {
        run(s);
    }
    let mut n = 0usize;
    while n < iters && time.is_none_or(|t| start.elapsed() < t) {
        let seed = &seeds[rng.below(seeds.len())];
        let input = if container && seed.len() > HEADER_LEN && n % 3 == 0 {
            let mut m = mutate(&mut rng, seed, HEADER_LEN);
            fix_header(&mut m);
            m
        } else if container && seed.len() > HEADER_LEN && n % 3 == 1 {
            mutate_payload(&mut rng, seed)
        } else {
            mutate(&mut rng, seed, 0)
        };
        run(&input);
        n += 1;
    }
    println!(
        "fuzz smoke {name}: {} inputs ({} seeds), 0 panics, {:.1} s",
        n + seeds.len(),
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
}

fn synthetic() -> FlowTable {
    generate(&SyntheticConfig {
        n_networks: 3,
        rows_per_network: 600,
        ..SyntheticConfig::default()
    })
    .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn csv_seeds() -> Vec<Vec<u8>> {
    let t = synthetic();
    let x = t.features();
    let mut text = NF_V2_FEATURES.join(",") + ",Label,Attack\n";
    for r in (0..t.n_rows()).step_by(97).take(12) {
        let row: Vec<String> = (0..t.n_features())
            .map(|j| format!("{}", x[[r, j]]))
            .collect();
        text += &format!(
            "{},{},{}\n",
            row.join(","),
            t.labels()[r],
            t.class_names()[t.class_codes()[r] as usize]
        );
    }
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n\n"));
    vec![
        text.clone().into_bytes(),
        crlf.into_bytes(),
        gzip(text.as_bytes()),
    ]
}

fn zeek_seeds() -> Vec<Vec<u8>> {
    let mut tsv = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n",
    );
    tsv += "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tlabel\tdetailed-label\n";
    let mut json = String::new();
    for i in 0..8 {
        tsv += &format!("{i}.5\tC{i}\t10.0.0.{i}\t{}\t10.0.1.1\t80\ttcp\thttp\t0.{i}\t{}\t-\tSF\tShADadFf\t{i}\t{}\t2\t80\t{}\t-\n", 4000 + i, 100 * i, 120 * i, ["Benign", "Malicious"][i % 2]);
        json += &format!("{{\"ts\":{i}.5,\"uid\":\"C{i}\",\"id.orig_p\":{},\"id.resp_p\":53,\"proto\":\"udp\",\"duration\":0.{i},\"orig_bytes\":{},\"history\":\"Dd\"}}\n", 5000 + i, 10 * i);
    }
    tsv += "#close\t2024-01-01-00-00-00\n";
    vec![
        tsv.clone().into_bytes(),
        json.into_bytes(),
        gzip(tsv.as_bytes()),
    ]
}

fn cic_seeds() -> Vec<Vec<u8>> {
    let mut a = String::from("Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Flow Duration, Total Fwd Packets, Total Backward Packets, Flow Bytes/s, SYN Flag Count, ACK Flag Count, Fwd Header Length, Fwd Header Length, Label\n");
    let mut b = String::from("src_ip,dst_ip,src_port,dst_port,protocol,flow_duration,tot_fwd_pkts,tot_bwd_pkts,totlen_fwd_pkts,syn_flag_cnt,label\n");
    for i in 0..8 {
        a += &format!(
            "f{i},10.0.0.1,{},10.0.0.2,443,6,{},{i},{},Infinity,1,{},20,20,{}\n",
            50000 + i,
            1000 * i,
            i + 1,
            i % 2,
            ["BENIGN", "DoS Hulk"][i % 2]
        );
        b += &format!(
            "10.0.0.1,10.0.0.2,{},22,6,{},{i},{},{},0,{}\n",
            40000 + i,
            77 * i,
            i + 2,
            60 * i,
            ["Benign", "SSH-Bruteforce"][i % 2]
        );
    }
    vec![a.into_bytes(), b.into_bytes()]
}

fn toml_seeds() -> Vec<Vec<u8>> {
    BUILTIN_SCHEMAS
        .iter()
        .map(|(_, text)| text.as_bytes().to_vec())
        .collect()
}

fn forest_seeds() -> Vec<Vec<u8>> {
    let t = synthetic();
    let y: Vec<u32> = t.labels().iter().map(|&l| u32::from(l)).collect();
    [(3, Some(4)), (5, None)]
        .iter()
        .map(|&(trees, depth)| {
            let params = ForestParams::new()
                .n_trees(trees)
                .max_depth(depth)
                .seed(3)
                .check()
                .unwrap();
            params
                .fit(t.features().view(), &y)
                .unwrap()
                .to_bytes()
                .unwrap()
        })
        .collect()
}

/// Plain forest files: the forests of `forest_seeds` with the synthetic flows' feature space.
fn plain_forest_seeds() -> Vec<Vec<u8>> {
    let t = synthetic();
    let space = FeatureSpace::new(t.columns().to_vec(), "synthetic");
    forest_seeds()
        .iter()
        .map(|bytes| {
            let forest = metaforest::forest::Forest::from_bytes(bytes, Path::new("seed")).unwrap();
            PlainForest::new(forest, space.clone())
                .unwrap()
                .to_bytes()
                .unwrap()
        })
        .collect()
}

/// Parquet files of synthetic flows under NF-v2 column names: numbers stored as floats, and as text; a
/// labelled file in row groups of 4 rows, an unlabelled one in one group.
fn parquet_seeds() -> Vec<Vec<u8>> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let t = synthetic();
    let x = t.features();
    let rows: Vec<usize> = (0..t.n_rows()).step_by(53).take(12).collect();
    let write = |as_text: bool, labelled: bool, group: usize| {
        let mut columns: Vec<(String, ArrayRef)> = (0..6)
            .map(|j| {
                let values: Vec<f64> = rows.iter().map(|&r| x[[r, j]]).collect();
                let array: ArrayRef = if as_text {
                    Arc::new(StringArray::from_iter_values(
                        values.iter().map(|v| v.to_string()),
                    ))
                } else {
                    Arc::new(Float64Array::from(values))
                };
                (NF_V2_FEATURES[j].to_owned(), array)
            })
            .collect();
        if labelled {
            let label = rows.iter().map(|&r| t.labels()[r].to_string());
            let class = rows
                .iter()
                .map(|&r| t.class_names()[t.class_codes()[r] as usize].clone());
            columns.push((
                "Label".into(),
                Arc::new(StringArray::from_iter_values(label)),
            ));
            columns.push((
                "Attack".into(),
                Arc::new(StringArray::from_iter_values(class)),
            ));
        }
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_size(group)
            .build();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        out
    };
    vec![write(false, true, 4), write(true, false, 64)]
}

/// A tiny meta-model and a detector adapted from it, as file bytes.
fn meta_seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let t = synthetic();
    let domains = metaforest::flows::domains::domains_by_dataset(&t);
    let known: Vec<DomainData> = domains[..2]
        .iter()
        .map(|d| DomainData::from_table(&t, &d.name, &d.rows))
        .collect();
    let params = MetaParams::default()
        .n_episodes(10)
        .ks(vec![5])
        .query_size(32)
        .task_learner_trees(4)
        .local_trees(4)
        .max_epochs(2)
        .seed(5)
        .check()
        .unwrap();
    let model = MetaModel::fit(&known, &params).unwrap();
    let rows = &domains[2].rows;
    let labels = t.labels();
    let support: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| labels[r] == 0)
        .take(5)
        .chain(rows.iter().copied().filter(|&r| labels[r] == 1).take(5))
        .collect();
    let x = t.features().select(ndarray::Axis(0), &support);
    let y: Vec<u32> = support.iter().map(|&r| u32::from(labels[r])).collect();
    let det = model.adapt(x.view(), &y).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (dir.path().join("m.mf"), dir.path().join("d.mfd"));
    model.save(&m).unwrap();
    det.save(&d).unwrap();
    (
        vec![std::fs::read(m).unwrap()],
        vec![std::fs::read(d).unwrap()],
    )
}

#[test]
fn schema_csv() {
    smoke("schema_csv", &csv_seeds(), false, entries::schema_csv);
}

#[test]
fn zeek() {
    smoke("zeek", &zeek_seeds(), false, entries::zeek);
}

#[test]
fn cicflowmeter() {
    smoke("cicflowmeter", &cic_seeds(), false, entries::cicflowmeter);
}

#[test]
fn schema_toml() {
    smoke("schema_toml", &toml_seeds(), false, entries::schema_toml);
}

#[test]
fn forest_from_bytes() {
    smoke(
        "forest_from_bytes",
        &forest_seeds(),
        true,
        entries::forest_from_bytes,
    );
}

#[test]
fn meta_model() {
    smoke("meta_model", &meta_seeds().0, true, entries::meta_model);
}

#[test]
fn detector() {
    smoke("detector", &meta_seeds().1, true, entries::detector);
}

#[test]
fn plain_forest() {
    smoke(
        "plain_forest",
        &plain_forest_seeds(),
        true,
        entries::plain_forest,
    );
}

#[test]
fn parquet() {
    smoke("parquet", &parquet_seeds(), false, entries::parquet);
}

/// Writes the seed corpora for cargo-fuzz under `METAFOREST_FUZZ_CORPUS` (one folder per target).
#[test]
#[ignore = "writes files; run on demand"]
fn write_seed_corpora() {
    let Some(root) = std::env::var_os("METAFOREST_FUZZ_CORPUS") else {
        return;
    };
    let root = std::path::PathBuf::from(root);
    let (meta, det) = meta_seeds();
    for (name, seeds) in [
        ("schema_csv", csv_seeds()),
        ("zeek", zeek_seeds()),
        ("cicflowmeter", cic_seeds()),
        ("schema_toml", toml_seeds()),
        ("forest_from_bytes", forest_seeds()),
        ("meta_model", meta),
        ("detector", det),
        ("plain_forest", plain_forest_seeds()),
        ("parquet", parquet_seeds()),
    ] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), s).unwrap();
        }
    }
}
