//! metaforest: meta-learned random forests for network threat detection in domains with few labels.
//!
//! This facade re-exports the workspace crates; see the README and the book for the tour.
//! Arrows point one way: flows ← forest ← meta ← eval ← cli.

pub use metaforest_eval as eval;
pub use metaforest_flows as flows;
pub use metaforest_forest as forest;
pub use metaforest_meta as meta;
