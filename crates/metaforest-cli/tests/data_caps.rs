//! `metaforest data --row-cap / --byte-cap / --max-record-bytes`: a table over a cap is a clear error naming
//! the file, the line, the cap and the flag that raises it; under the caps the summary is printed.

use std::path::Path;
use std::process::{Command, Output};

/// A data folder holding a small UNSW-NB15-shaped file (its categorical columns, `attack_cat`, `label`).
fn data_folder(dir: &Path, rows: usize) {
    let sub = dir.join("unsw-nb15");
    std::fs::create_dir_all(&sub).unwrap();
    let mut csv = String::from("id,dur,proto,service,state,attack_cat,label\n");
    for r in 0..rows {
        let (class, label) = if r % 3 == 0 {
            ("Exploits", 1)
        } else {
            ("Normal", 0)
        };
        csv.push_str(&format!("{r},{}.5,tcp,-,FIN,{class},{label}\n", r % 7));
    }
    std::fs::write(sub.join("UNSW_NB15_testing-set.csv"), csv).unwrap();
}

fn data(dir: &Path, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metaforest"))
        .arg("--data")
        .arg(dir)
        .arg("data")
        .args(flags)
        .output()
        .unwrap()
}

fn failure(dir: &Path, flags: &[&str]) -> String {
    let out = data(dir, flags);
    assert!(!out.status.success(), "{flags:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn each_cap_is_enforced_and_names_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    data_folder(dir.path(), 30);

    let out = data(dir.path(), &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UNSW-NB15: 30 rows"), "{text}");

    let e = failure(dir.path(), &["--row-cap", "20"]);
    assert!(
        e.contains("UNSW_NB15_testing-set.csv: line 22: number of data rows exceeds the cap of 20")
            && e.contains("--row-cap N"),
        "{e}"
    );

    let e = failure(dir.path(), &["--byte-cap", "100"]);
    assert!(
        e.contains("input size in bytes (decompressed) exceeds the cap of 100")
            && e.contains("--byte-cap SIZE"),
        "{e}"
    );
    assert!(data(dir.path(), &["--byte-cap", "1K"]).status.success());

    let e = failure(dir.path(), &["--max-record-bytes", "10"]);
    assert!(
        e.contains("line 1: record longer than 10 bytes") && e.contains("--max-record-bytes"),
        "{e}"
    );

    let e = failure(dir.path(), &["--byte-cap", "8X"]);
    assert!(e.contains("unknown size suffix"), "{e}");

    // Exactly at the caps: accepted.
    assert!(
        data(dir.path(), &["--row-cap", "30", "--max-record-bytes", "50"])
            .status
            .success()
    );
}
