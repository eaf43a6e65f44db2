//! `metaforest data`: what data is there. For each data set found under the data folder: rows,
//! columns, label and class counts, domains. With nothing found, it says where it looked and
//! summarises the synthetic default instead, labelled as synthetic. Given files (`data [--schema FILE]
//! INPUT…`), it summarises those instead, read as `train --input` would read them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use metaforest_flows::datasets::{self, NslKddFile};
use metaforest_flows::{
    domains, read_header, synthetic, ColumnRole, FlowTable, FlowsError, ReadOptions, Schema,
    SyntheticConfig,
};

use super::common::InputArgs;
use super::training_data::read_files;
use super::{CmdResult, Context};

/// `metaforest data [--synthetic]`, or `metaforest data [--schema FILE | --format NAME] INPUT…`
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Also summarise the synthetic default when real data is found.
    #[arg(long)]
    pub synthetic: bool,
    /// A file with more data rows than this is an error (a bound on memory).
    #[arg(long, value_name = "N", default_value_t = metaforest_flows::DEFAULT_ROW_CAP)]
    pub row_cap: usize,
    /// A file larger than this once decompressed is an error: bytes, or with a K, M, G or T suffix (powers of
    /// 1024).
    #[arg(long, value_name = "SIZE", default_value_t = metaforest_flows::DEFAULT_BYTE_CAP, value_parser = parse_size)]
    pub byte_cap: u64,
    /// Labelled flow files to summarise instead of the data folder (read with --schema or --format, else
    /// in the format their first line shows).
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
}

impl DataArgs {
    fn read_options(&self) -> ReadOptions {
        ReadOptions {
            row_cap: self.row_cap,
            byte_cap: self.byte_cap,
            max_record_bytes: self.input.max_record_bytes,
            ..ReadOptions::default()
        }
    }
}

/// `8G` → 8 GiB; plain numbers are bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let t = t.strip_suffix(['i', 'I']).unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("`{s}`: unknown size suffix `{c}` (K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 500000, 64M, 8G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A cap reached while loading, said with the flag that raises it.
fn name_the_flag(e: FlowsError) -> Box<dyn std::error::Error> {
    match &e {
        FlowsError::TooLarge {
            path,
            line,
            what,
            limit,
        } => {
            let flag = if what.contains("rows") {
                "--row-cap N"
            } else {
                "--byte-cap SIZE"
            };
            format!(
                "{}: line {line}: {what} exceeds the cap of {limit}; raise it with `metaforest data {flag}`",
                path.display()
            )
            .into()
        }
        FlowsError::RecordTooLong { .. } => {
            format!("{e}; raise the bound with `metaforest data --max-record-bytes BYTES`").into()
        }
        _ => e.into(),
    }
}

/// Runs `metaforest data`.
pub fn run(ctx: &Context, args: DataArgs) -> CmdResult {
    if !args.inputs.is_empty() {
        return summarise_files(&args);
    }
    let dir = &ctx.data_dir;
    let options = args.read_options();
    println!("data folder: {}", shown(dir));
    if let Some(n) = ctx.threads {
        println!("worker threads: {n}");
    }
    let mut found = 0;

    if datasets::has_nf_v2(dir) {
        found += 1;
        let t0 = Instant::now();
        let t = datasets::load_nf_v2_all_with_options(dir, &options).map_err(name_the_flag)?;
        println!(
            "\n[nf-v2] NetFlow v2: four data sets pooled, domain = data set (loaded in {:.2} s)",
            t0.elapsed().as_secs_f64()
        );
        let first = datasets::locate(dir, datasets::NF_V2_DIR, datasets::NF_V2_FILES[0].1);
        if let Some(p) = first {
            println!(
                "  columns: {}",
                describe_columns(&p, &Schema::builtin("nf-v2")?)?
            );
        }
        summarise(&t);
    }

    if datasets::has_nsl_kdd(dir) {
        found += 1;
        let t0 = Instant::now();
        let kdd = datasets::load_nsl_kdd_all_with_options(dir, &options).map_err(name_the_flag)?;
        println!(
            "\n[nsl-kdd] NSL-KDD: four files, categorical codes of KDDTrain+ reused for the others (loaded in {:.2} s)",
            t0.elapsed().as_secs_f64()
        );
        let p = datasets::locate(dir, datasets::NSL_KDD_DIR, &NslKddFile::Train.file_name());
        if let Some(p) = p {
            println!(
                "  columns: {}",
                describe_columns(&p, &Schema::builtin("nsl-kdd")?)?
            );
        }
        for f in NslKddFile::ALL {
            let t = kdd.table(f);
            summarise(t);
            let mut fam: Vec<(String, usize)> = Vec::new();
            for (class, n) in t.class_counts_named() {
                let family = kdd.families.family_of(&class).unwrap_or("(unmapped)");
                match fam.iter_mut().find(|(f, _)| f == family) {
                    Some(e) => e.1 += n,
                    None => fam.push((family.to_owned(), n)),
                }
            }
            fam.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            println!("    families: {}", join_counts(&fam));
        }
        let unseen = kdd.families.unseen_in_train();
        let unseen_rows: usize = kdd
            .test
            .class_counts_named()
            .iter()
            .filter(|(c, _)| unseen.contains(&c.as_str()))
            .map(|(_, n)| n)
            .sum();
        println!(
            "  {}: {} attack names → families {}; {} attack types of KDDTest+ ({} rows) never occur in KDDTrain+: {}",
            datasets::NSL_KDD_FAMILIES_FILE,
            kdd.families.entries.len(),
            kdd.families.families().join(", "),
            unseen.len(),
            thousands(unseen_rows),
            unseen.join(", ")
        );
    }

    if datasets::has_unsw_nb15(dir) {
        found += 1;
        let t0 = Instant::now();
        let t = datasets::load_unsw_nb15_with_options(dir, &options).map_err(name_the_flag)?;
        println!(
            "\n[unsw-nb15] UNSW-NB15 testing set (loaded in {:.2} s)",
            t0.elapsed().as_secs_f64()
        );
        if let Some(p) = datasets::locate(dir, datasets::UNSW_NB15_DIR, datasets::UNSW_NB15_FILE) {
            println!(
                "  columns: {}",
                describe_columns(&p, &Schema::builtin("unsw-nb15")?)?
            );
        }
        summarise(&t);
        let fams = domains::domains_by_class_family(&t, |c| Some(c.to_owned()), false);
        println!(
            "  attack-family domains (attack_cat): {}",
            fams.iter()
                .map(|d| format!("{} {}", d.name, thousands(d.len())))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    if found == 0 {
        println!("\nno data set found. Looked for:");
        for (_, f) in datasets::NF_V2_FILES {
            println!("  {}", shown(&dir.join(datasets::NF_V2_DIR).join(f)));
        }
        for f in NslKddFile::ALL {
            println!(
                "  {}",
                shown(&dir.join(datasets::NSL_KDD_DIR).join(f.file_name()))
            );
        }
        println!(
            "  {}",
            shown(
                &dir.join(datasets::NSL_KDD_DIR)
                    .join(datasets::NSL_KDD_FAMILIES_FILE)
            )
        );
        println!(
            "  {}",
            shown(
                &dir.join(datasets::UNSW_NB15_DIR)
                    .join(datasets::UNSW_NB15_FILE)
            )
        );
        println!(
            "(point metaforest at the data with --data DIR or METAFOREST_DATA; see data/README.md)"
        );
    } else {
        let missing: Vec<&str> = [
            ("nf-v2", datasets::has_nf_v2(dir)),
            ("nsl-kdd", datasets::has_nsl_kdd(dir)),
            ("unsw-nb15", datasets::has_unsw_nb15(dir)),
        ]
        .iter()
        .filter(|(_, has)| !has)
        .map(|(n, _)| *n)
        .collect();
        if !missing.is_empty() {
            println!("\nnot found (incomplete or absent): {}", missing.join(", "));
        }
    }

    if found == 0 || args.synthetic {
        let cfg = SyntheticConfig::default();
        let t0 = Instant::now();
        let t = synthetic::generate(&cfg)?;
        println!(
            "\n[synthetic] SYNTHETIC DATA, generated, not real traffic: {} simulated networks × {} flows, \
             {:.0} % attacks, seed {} (generated in {:.3} s)",
            cfg.n_networks,
            thousands(cfg.rows_per_network),
            cfg.attack_fraction * 100.0,
            cfg.seed,
            t0.elapsed().as_secs_f64()
        );
        println!(
            "  columns: {} NetFlow v2 features (same names as the NF-v2 files); classes: {}",
            t.n_features(),
            synthetic::SYNTHETIC_CLASSES.join(", ")
        );
        summarise(&t);
    }
    Ok(())
}

/// `data INPUT…`: columns (under a schema), rows, labels and classes per file.
fn summarise_files(args: &DataArgs) -> CmdResult {
    let set = read_files(&args.input, &args.inputs)?;
    println!("[files] {}", set.source);
    if let Some(path) = &args.input.schema {
        let schema = Schema::from_path(path)?;
        for p in &args.inputs {
            println!(
                "  {} columns: {}",
                p.display(),
                describe_columns(p, &schema)?
            );
        }
    }
    let t = &set.table;
    let categorical = t.columns().iter().filter(|c| c.is_categorical()).count();
    println!(
        "  {} features ({categorical} categorical): {}",
        t.n_features(),
        t.columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    summarise(t);
    Ok(())
}

/// Rows, label counts and class counts, per domain.
fn summarise(t: &FlowTable) {
    let [b, a] = t.label_counts();
    if t.domain_names().len() > 1 {
        println!(
            "  all domains: {} rows; label 1 / 0: {} / {}; {} classes",
            thousands(t.n_rows()),
            thousands(a),
            thousands(b),
            t.class_counts_named().len()
        );
    }
    for d in domains::domains_by_dataset(t) {
        let sub = t.select_rows(&d.rows);
        let [b, a] = sub.label_counts();
        let classes = sub.class_counts_named();
        println!(
            "  {}: {} rows; label 1 / 0: {} / {}; {} classes",
            d.name,
            thousands(d.len()),
            thousands(a),
            thousands(b),
            classes.len()
        );
        println!("    {}", join_counts(&classes));
    }
}

/// "43 = 41 features (3 categorical) + label `Label` + attack class `Attack` + ignored `id`".
fn describe_columns(path: &Path, schema: &Schema) -> Result<String, metaforest_flows::FlowsError> {
    let header = read_header(path, schema.delimiter)?;
    let (mut features, mut categorical) = (0, 0);
    let mut parts = Vec::new();
    let mut ignored = Vec::new();
    for h in &header {
        let name = schema.canonical_name(h);
        match schema.role_of(name) {
            Some(ColumnRole::Numeric) => features += 1,
            Some(ColumnRole::Categorical) => {
                features += 1;
                categorical += 1;
            }
            Some(ColumnRole::Label) => parts.push(format!("label `{name}`")),
            Some(ColumnRole::AttackClass) => parts.push(format!("attack class `{name}`")),
            Some(ColumnRole::Ignore) | None => ignored.push(format!("`{name}`")),
        }
    }
    let mut s = format!("{} per file = {features} features", header.len());
    if categorical > 0 {
        s.push_str(&format!(" ({categorical} categorical)"));
    }
    for p in parts {
        s.push_str(&format!(" + {p}"));
    }
    if !ignored.is_empty() {
        s.push_str(&format!(" + ignored {}", ignored.join(", ")));
    }
    Ok(s)
}

fn join_counts(v: &[(String, usize)]) -> String {
    v.iter()
        .map(|(c, n)| format!("{c} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1234567` → `1,234,567` (as in the data README).
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The path as given, plus its absolute form when that differs.
fn shown(p: &Path) -> String {
    let abs: PathBuf = std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_owned())
    });
    if abs == p {
        p.display().to_string()
    } else {
        format!("{} ({})", p.display(), abs.display())
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_size, thousands};

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert!(parse_size("8X")
            .unwrap_err()
            .contains("unknown size suffix"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(386_900), "386,900");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
