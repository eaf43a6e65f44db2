//! A model save interrupted by SIGTERM or SIGINT at any point leaves the folder as it was or with a whole new
//! file: never a partial model, never a temporary file. Model files take the process's umask. Unix only.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use metaforest_meta::MetaModel;

/// A quick `train` on the synthetic networks writing `out`, run under `umask`.
fn train(out: &Path, seed: u64, umask: libc::mode_t) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metaforest"));
    cmd.args(["train", "--synthetic", "--episodes", "10", "--trees", "2"])
        .args([
            "--max-rows",
            "400",
            "--local-trees",
            "4",
            "--max-epochs",
            "1",
        ])
        .args(["--no-progress", "--seed", &seed.to_string(), "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: `umask` is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
    cmd
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn model_files_honour_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    for (umask, mode) in [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)] {
        let out = dir.path().join(format!("umask-{umask:o}.mf"));
        assert!(train(&out, 1, umask).status().unwrap().success());
        let got = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "umask {umask:o}");
    }
}

#[test]
fn a_killed_save_leaves_the_old_file_or_a_whole_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.mf");
    assert!(train(&out, 1, 0o022).status().unwrap().success());
    let mut previous = std::fs::read(&out).unwrap();
    // Kills spread over the run (loading, training), one after it has ended, and some as soon as the temporary
    // file appears (`None`): wherever each lands, the folder must hold exactly the model file, loadable.
    let delays = [0u64, 5, 30, 100, 250, 500, 800, 1000, 1200, 1400, 3000].map(Some);
    for (i, delay) in delays.into_iter().chain([None; 4]).enumerate() {
        for signal in [libc::SIGTERM, libc::SIGINT] {
            let mut child = train(&out, 2 + i as u64, 0o022).spawn().unwrap();
            match delay {
                Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
                // While the temporary file exists (or once the run has ended without it being seen).
                None => {
                    while names(dir.path()).len() < 2 && child.try_wait().unwrap().is_none() {
                        std::thread::yield_now();
                    }
                }
            }
            // SAFETY: a plain kill(2) of our own child, which has not been waited for yet.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            let status = child.wait().unwrap();
            assert!(
                status.success()
                    || status.code() == Some(128 + signal)
                    || status.signal().is_some(),
                "delay {delay:?} ms, signal {signal}: {status:?}"
            );
            assert_eq!(
                names(dir.path()),
                ["model.mf"],
                "delay {delay:?} ms, signal {signal}: a temporary file was left"
            );
            // Either untouched, or replaced by a whole model (each run has its own seed, so its own bytes).
            let now = std::fs::read(&out).unwrap();
            if now != previous {
                MetaModel::load(&out).unwrap_or_else(|e| {
                    panic!("delay {delay:?} ms, signal {signal}: a partial model: {e}")
                });
                previous = now;
            }
        }
    }
}
