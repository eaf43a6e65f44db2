//! metaforest-meta: the meta-learner.
//!
//! Known domains each get a random forest (a *task learner*). Over many simulated few-shot episodes drawn from the
//! known domains, a small dfdx network learns to turn what those forests say about a new domain's few labelled flows
//! into (a) per-flow weights over the known forests and a new local forest, (b) the local forest's initialisation:
//! hyperparameters, a per-feature sampling prior, and transplanted trees, and (c) a threshold rule that reads the new
//! domain's unlabelled traffic (which, when given, also self-trains the local forest). Every learned part is checked
//! on known domains held out of its training and switched off when it does not transfer (see
//! [`TrainReport`]).
//!
//! ```no_run
//! use metaforest_meta::{DomainData, MetaModel, MetaParams};
//! # fn run(known: Vec<DomainData>, support_x: ndarray::Array2<f64>, support_y: Vec<u32>, new_flows: ndarray::Array2<f64>) -> Result<(), metaforest_meta::MetaError> {
//! use linfa::ParamGuard;
//! let model = MetaModel::fit(&known, &MetaParams::default().seed(7).check()?)?;
//! let detector = model.adapt(support_x.view(), &support_y)?;
//! let attack_probability = detector.predict_proba(new_flows.view());
//! # Ok(()) }
//! ```

pub mod adapt;
pub mod augment;
mod batch;
pub mod calibration;
pub mod coverage;
pub mod descriptor;
pub mod detector;
mod error;
pub mod init;
pub mod io;
pub mod learner;
mod linfa_impl;
mod model;
pub mod network;
pub mod params;
pub mod plain_forest;
pub mod pooled;
pub mod prob;
pub mod rules;
pub mod rules_export;
pub mod space;
pub mod threshold;
pub mod validate;

pub use adapt::{TaskLearner, UNLABELLED_SAMPLE};
pub use coverage::CoverageGate;
pub use descriptor::Support;
pub use detector::{Detector, Explanation, ForestContribution};
pub use error::{MetaError, Result};
pub use init::{Initialisation, LocalConfig, CONFIGS};
pub use learner::{train_task_learners, DomainData, ExtraSource};
pub use model::{MetaModel, TrainReport};
pub use network::{MetaLearner, Mlp, MlpMetaLearner};
pub use params::{EpochChoice, Heads, MetaParams, ValidMetaParams};

pub use plain_forest::PlainForest;
pub use prob::em_prior;
pub use space::FeatureSpace;
pub use threshold::{FarEvidence, ThresholdBasis, ThresholdRule};
