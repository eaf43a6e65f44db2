//! The subcommands of `metaforest`, one module each.

use std::path::PathBuf;

pub mod adapt;
pub mod bench;
pub mod common;
pub mod data;
pub mod demo;
pub mod detect;
pub mod explain;
pub mod forest;
pub mod rules;
pub mod train;
pub mod training_data;

/// What every command gets from the global options.
#[derive(Debug, Clone)]
pub struct Context {
    /// `--data DIR`, else `METAFOREST_DATA`, else `../shared/data`.
    pub data_dir: PathBuf,
    /// `--threads N` (the global rayon pool is already sized when a command runs).
    pub threads: Option<usize>,
}

/// What a command returns; errors are printed with their causes by `main`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;
