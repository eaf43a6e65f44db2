//! A header read against a schema: what to do with each input column, the feature columns it yields,
//! and where the targets are. The CSV table reader and the Parquet reader share it, so a schema reads a
//! flow export the same way whether it was written as CSV or Parquet.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{FlowsError, Result};
use crate::schema::{ColumnRole, Schema};
use crate::table::{ColumnKind, ColumnSpec};

/// What to do with one input column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Skip,
    /// Feature column `j` of the table, numeric.
    Numeric(usize),
    /// Feature column `j` of the table, categorical.
    Categorical(usize),
    Label,
    Class,
}

/// The decisions taken on a header.
#[derive(Debug)]
pub(crate) struct HeaderPlan {
    /// One per input column.
    pub actions: Vec<Action>,
    /// The input columns' canonical names (schema aliases applied, repeats suffixed `.1`, `.2`, …).
    pub header: Vec<String>,
    /// The feature columns, in input order.
    pub columns: Vec<ColumnSpec>,
    pub label_at: Option<usize>,
    pub class_at: Option<usize>,
}

impl HeaderPlan {
    /// Plans `names` (trimmed header names, in input order) against `schema`. An unknown name (with a
    /// strict schema), a repeated target column, or a missing feature or target column (targets may
    /// be absent with `allow_unlabelled`) is an error naming `path`.
    pub(crate) fn new(
        path: &Path,
        schema: &Schema,
        names: &[String],
        allow_unlabelled: bool,
    ) -> Result<Self> {
        let mut plan = HeaderPlan {
            actions: Vec::with_capacity(names.len()),
            header: Vec::with_capacity(names.len()),
            columns: Vec::new(),
            label_at: None,
            class_at: None,
        };
        let mut seen = HashSet::new();
        // Next suffix to try per repeated name: every smaller one is taken, so de-duplication stays
        // linear however many times a name repeats.
        let mut next_suffix: HashMap<String, usize> = HashMap::new();
        for (i, raw) in names.iter().enumerate() {
            let mut name = schema.canonical_name(raw).to_owned();
            let role = schema
                .role_of(&name)
                .ok_or_else(|| FlowsError::UnknownHeaderColumn {
                    path: path.to_owned(),
                    column: i + 1,
                    name: name.clone(),
                    schema: schema.name.clone(),
                })?;
            if !seen.insert(name.clone()) {
                match role {
                    ColumnRole::Label | ColumnRole::AttackClass => {
                        return Err(FlowsError::DuplicateColumn {
                            path: path.to_owned(),
                            column: i + 1,
                            name,
                        })
                    }
                    // CIC-IDS2017 repeats "Fwd Header Length": keep both, the second as "….1".
                    ColumnRole::Numeric | ColumnRole::Categorical => {
                        let k = next_suffix.entry(name.clone()).or_insert(1);
                        while !seen.insert(format!("{name}.{k}")) {
                            *k += 1;
                        }
                        name = format!("{name}.{k}");
                        *k += 1;
                    }
                    ColumnRole::Ignore => {}
                }
            }
            let action = match role {
                ColumnRole::Ignore => Action::Skip,
                ColumnRole::Numeric => {
                    plan.columns.push(ColumnSpec::numeric(name.clone()));
                    Action::Numeric(plan.columns.len() - 1)
                }
                ColumnRole::Categorical => {
                    plan.columns.push(ColumnSpec {
                        name: name.clone(),
                        kind: ColumnKind::Categorical(Default::default()),
                    });
                    Action::Categorical(plan.columns.len() - 1)
                }
                ColumnRole::Label => {
                    plan.label_at = Some(i);
                    Action::Label
                }
                ColumnRole::AttackClass => {
                    plan.class_at = Some(i);
                    Action::Class
                }
            };
            plan.actions.push(action);
            plan.header.push(name);
        }
        // Every column the schema names as a feature or target must be present.
        for (name, role) in &schema.columns {
            let (needed, role) = match role {
                ColumnRole::Ignore => (false, ""),
                ColumnRole::Label => (!allow_unlabelled, "label"),
                ColumnRole::AttackClass => (!allow_unlabelled, "attack-class"),
                ColumnRole::Numeric => (true, "numeric"),
                ColumnRole::Categorical => (true, "categorical"),
            };
            if needed && !schema.drop.contains(name) && !plan.header.contains(name) {
                return Err(FlowsError::MissingColumn {
                    path: path.to_owned(),
                    column: name.clone(),
                    role,
                });
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_suffixed_and_targets_located() {
        let schema = Schema::from_toml_str(
            "name='l'\nbenign_labels=['0']\n[columns]\nlabel='label'\nid='ignore'\n",
            "l",
        )
        .unwrap();
        let names: Vec<String> = ["x", "id", "x", "x.1", "label"].map(String::from).to_vec();
        let plan = HeaderPlan::new(Path::new("f"), &schema, &names, false).unwrap();
        assert_eq!(plan.header, ["x", "id", "x.1", "x.1.1", "label"]);
        assert_eq!(plan.columns.len(), 3);
        assert_eq!(plan.actions[1], Action::Skip);
        assert_eq!(plan.actions[2], Action::Numeric(1));
        assert_eq!((plan.label_at, plan.class_at), (Some(4), None));
    }
}
