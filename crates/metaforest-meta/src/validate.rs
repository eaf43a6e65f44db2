//! Consistency checks for what a model file decodes to, run before anything uses it: a damaged or crafted file
//! must give an error, never an out-of-bounds index, an endless tree walk or a huge allocation later.

use linfa::ParamGuard;
use metaforest_forest::Forest;

use crate::adapt::Adapter;
use crate::descriptor::{Normalizer, FEATURE_WIDTH, INIT_IN, WEIGHT_IN};
use crate::init::LocalForestSettings;
use crate::params::MetaParams;
use crate::threshold::{flows_needed_for_far, ThresholdBasis, FAR_FLOOR};

/// Most trees a local forest may have in a file (far above any setting in use; a forged count must not make
/// adaptation allocate without bound).
pub const MAX_LOCAL_TREES: usize = 100_000;

/// What is wrong, as a sentence fragment for [`crate::MetaError::Invalid`].
pub(crate) type Check = std::result::Result<(), String>;

/// A forest the meta-learner uses: structurally valid, binary, reading `width` features.
pub(crate) fn forest(name: &str, f: &Forest, width: usize) -> Check {
    f.validate().map_err(|e| format!("forest `{name}`: {e}"))?;
    if f.n_features() != width {
        return Err(format!(
            "forest `{name}` reads {} features, the model {width}",
            f.n_features()
        ));
    }
    if f.n_classes() != 2 {
        return Err(format!(
            "forest `{name}` has {} classes, expected 2",
            f.n_classes()
        ));
    }
    Ok(())
}

fn normalizer(name: &str, n: &Normalizer, width: usize) -> Check {
    if n.mean.len() != width || n.scale.len() != width {
        return Err(format!(
            "{name} normaliser has widths {} and {}, expected {width}",
            n.mean.len(),
            n.scale.len()
        ));
    }
    Ok(())
}

/// Settings adaptation grows a local forest with.
pub(crate) fn local_settings(s: &LocalForestSettings) -> Check {
    if !(4..=MAX_LOCAL_TREES).contains(&s.n_trees) {
        return Err(format!(
            "local forest of {} trees (expected 4 to {MAX_LOCAL_TREES})",
            s.n_trees
        ));
    }
    Ok(())
}

/// Everything a meta-model and its detectors share.
pub(crate) fn adapter(a: &Adapter) -> Check {
    MetaParams::from(a.params.clone())
        .check_ref()
        .map_err(|e| e.to_string())?;
    local_settings(a.params.local())?;
    if a.n_features == 0 {
        return Err("the model reads no features".into());
    }
    if a.space.width() != a.n_features {
        return Err(format!(
            "feature space has {} columns, the model reads {} features",
            a.space.width(),
            a.n_features
        ));
    }
    if a.known.is_empty() {
        return Err("no known forests".into());
    }
    if let Some(shift) = a.coverage.as_ref().and_then(|c| c.shift.as_ref()) {
        shift.check()?;
    }
    if a.coverage.is_some() != a.params.coverage_shift() {
        return Err("the coverage setting and its stored outcome disagree".into());
    }
    for k in &a.known {
        forest(&k.name, &k.forest, a.n_features)?;
        if k.facts.importances.len() != a.n_features {
            return Err(format!(
                "forest `{}`: {} feature importances for {} features",
                k.name,
                k.facts.importances.len(),
                a.n_features
            ));
        }
    }
    if let Some(p) = &a.pooled {
        let n = p.y.len();
        if n == 0 || p.x.nrows() != n || p.domain.len() != n || p.x.ncols() != a.n_features {
            return Err(format!(
                "pooled sample of {}×{} features, {n} labels and {} domain tags, expected {} features per flow",
                p.x.nrows(),
                p.x.ncols(),
                p.domain.len(),
                a.n_features
            ));
        }
        if p.y.iter().any(|&y| y > 1) || p.domain.iter().any(|&d| d >= a.known.len()) {
            return Err("pooled sample: a label is not 0/1 or a row names no known domain".into());
        }
        if p.x.iter().any(|v| !v.is_finite()) {
            return Err("pooled sample: a feature value is not finite".into());
        }
    }
    a.heads.check_shapes()?;
    normalizer("weighting", &a.weight_norm, WEIGHT_IN)?;
    normalizer("configuration", &a.init_norm, INIT_IN)?;
    normalizer("feature", &a.feature_norm, FEATURE_WIDTH)?;
    if !(a.threshold_rule.intercept.is_finite() && a.threshold_rule.slope.is_finite()) {
        return Err("threshold rule is not finite".into());
    }
    Ok(())
}

/// A detector's threshold agrees with how it says it was chosen: a false-alarm budget in (0, 1), estimated on at
/// least the flows it needs, with the threshold its quantile raised to its floor (½ or 0).
pub(crate) fn threshold_basis(threshold: f64, basis: &ThresholdBasis) -> Check {
    if let ThresholdBasis::FalseAlarmBudget {
        max_far,
        scored,
        quantile,
        floor,
        ..
    } = *basis
    {
        if !(max_far > 0.0 && max_far < 1.0) {
            return Err(format!("false-alarm budget {max_far} is not in (0, 1)"));
        }
        if scored < flows_needed_for_far(max_far) {
            return Err(format!(
                "false-alarm budget {max_far} estimated on {scored} flows, fewer than it needs"
            ));
        }
        if !(floor == 0.0 || floor == FAR_FLOOR) || !(0.0..=1.0).contains(&quantile) {
            return Err(format!(
                "false-alarm calibration with quantile {quantile} and floor {floor}"
            ));
        }
        if threshold != quantile.max(floor) {
            return Err(format!(
                "threshold {threshold} is not the false-alarm calibration's {}",
                quantile.max(floor)
            ));
        }
    }
    Ok(())
}
