//! metaforest-eval: the yardstick. Metrics, aggregation over draws, baselines behind the [`Method`] trait,
//! the protocols P1–P3 (and SYN on the synthetic generator), and reports (Markdown, CSV, JSON, SVG).
//!
//! ```no_run
//! use metaforest_eval::{bench::{run_bench, BenchRequest, Protocol}, BenchConfig};
//! let req = BenchRequest::new(vec![Protocol::P1], "../shared/data".into(), BenchConfig::quick());
//! let out = run_bench(&req)?;
//! metaforest_eval::report::write_reports("reports".as_ref(), &out.into_report_input(String::new(), None), None)?;
//! # Ok::<(), metaforest_eval::EvalError>(())
//! ```

pub mod baselines;
pub mod bench;
pub mod config;
pub mod error;
pub mod learner;
pub mod meta_method;
pub mod meta_sources;
pub mod method;
pub mod metrics;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod sampling;
pub mod standard_figure;
pub mod stats;

pub use config::{BenchConfig, BenchParams};
pub use error::{EvalError, Result};
pub use method::{Draw, Fold, Method, Scored};
pub use metrics::{evaluate, Metrics};
pub use protocol::{PortsMode, ProtocolSpec};
pub use report::{Record, ReportInput};
pub use runner::{run_protocol, RunOutput};
pub use stats::Summary;
