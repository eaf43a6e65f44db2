//! metaforest-eval: the yardstick. Metrics, aggregation over draws, baselines behind the [`Method`] trait,
//! the protocols P1–P3 (and a synthetic one), and reports (Markdown, CSV, JSON, SVG).

pub mod error;
pub mod metrics;
pub mod report;
pub mod stats;

pub use error::{EvalError, Result};
pub use metrics::{evaluate, Metrics};
pub use report::{Record, ReportInput};
pub use stats::Summary;
