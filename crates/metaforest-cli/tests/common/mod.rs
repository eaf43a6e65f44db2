//! Helpers shared by the CLI's integration tests (each test binary uses some of them).
#![allow(dead_code)]

use std::process::{Command, Output};

/// The built `metaforest` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_metaforest"))
}

/// Runs `cmd`, which must succeed; otherwise panics with its stdout and stderr.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd`, which must fail; its standard error.
pub fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("binary runs");
    assert!(!out.status.success(), "{cmd:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
