//! TOML schemas that describe a CSV flow export, and the encoders that keep categorical codes stable
//! between files.
//!
//! A schema file (see `data/schemas/*.toml` for the built-in ones):
//!
//! ```toml
//! name = "my-export"
//! description = "CICFlowMeter CSV from the lab sensor"
//! default = "numeric"          # kind of every header column not listed: numeric | categorical | ignore | error
//! delimiter = ","              # optional, one ASCII character
//! comment = "#"                # optional: lines starting with it are skipped
//! missing = ["", "-"]          # tokens that mean "missing" in numeric columns (→ NaN)
//! benign_labels = ["0"]        # values of the `label` column that mean benign (anything else: attack)
//! benign_classes = ["BENIGN"]  # values of the `attack_class` column that mean benign; gives the label
//!                              # when there is no `label` column
//! drop = ["Flow ID", "Src IP", "Dst IP", "Timestamp"]   # identifier columns, ignored
//!
//! [columns]                    # per column: numeric | categorical | label | attack_class | ignore
//! Label = "attack_class"
//! Protocol = "categorical"
//!
//! [aliases]                    # other spellings of a header name → the name used above and in the table
//! "Destination Port" = "Dst Port"
//! ```
//!
//! Header names are matched after trimming surrounding whitespace (CICFlowMeter writes `" Flow Duration"`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{FlowsError, Result};
use crate::table::{ColumnKind, Dictionary, FlowTable};

/// What a CSV column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// A numeric feature.
    Numeric,
    /// A string feature, encoded with a [`Dictionary`].
    Categorical,
    /// The binary label (benign values listed in `benign_labels`).
    Label,
    /// The attack-class name.
    AttackClass,
    /// Not read (identifiers, timestamps, leakage columns).
    Ignore,
}

/// What to do with header columns the schema does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DefaultKind {
    /// Read them as numeric features.
    #[default]
    Numeric,
    /// Read them as categorical features.
    Categorical,
    /// Skip them.
    Ignore,
    /// Fail with [`FlowsError::UnknownHeaderColumn`].
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    default: DefaultKind,
    delimiter: Option<String>,
    comment: Option<String>,
    #[serde(default)]
    missing: Vec<String>,
    #[serde(default)]
    benign_labels: Vec<String>,
    #[serde(default)]
    benign_classes: Vec<String>,
    #[serde(default)]
    drop: Vec<String>,
    #[serde(default)]
    columns: BTreeMap<String, ColumnRole>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// A validated schema. Build it with [`Schema::from_toml_str`], [`Schema::from_path`] or
/// [`Schema::builtin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub name: String,
    pub description: String,
    pub default_kind: DefaultKind,
    pub delimiter: u8,
    pub comment: Option<u8>,
    pub missing: Vec<String>,
    pub benign_labels: Vec<String>,
    pub benign_classes: Vec<String>,
    pub drop: Vec<String>,
    pub columns: BTreeMap<String, ColumnRole>,
    pub aliases: BTreeMap<String, String>,
}

/// The schemas shipped in `data/schemas/`, embedded in the binary: `(name, TOML text)`.
pub const BUILTIN_SCHEMAS: &[(&str, &str)] = &[
    ("nf-v2", include_str!("../../../data/schemas/nf-v2.toml")),
    (
        "nsl-kdd",
        include_str!("../../../data/schemas/nsl-kdd.toml"),
    ),
    (
        "unsw-nb15",
        include_str!("../../../data/schemas/unsw-nb15.toml"),
    ),
    (
        "cicflowmeter",
        include_str!("../../../data/schemas/cicflowmeter.toml"),
    ),
    (
        "zeek-conn",
        include_str!("../../../data/schemas/zeek-conn.toml"),
    ),
];

impl Schema {
    /// Parses and validates a schema; `origin` names it in errors (a path or `builtin:<name>`).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Schema> {
        let err = |message: String| FlowsError::Schema {
            origin: origin.to_owned(),
            message,
        };
        let f: SchemaFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let one_char = |what: &str, s: &Option<String>| -> Result<Option<u8>> {
            match s {
                None => Ok(None),
                Some(s) if s.len() == 1 && s.is_ascii() => Ok(Some(s.as_bytes()[0])),
                Some(s) => Err(err(format!(
                    "{what} must be one ASCII character, got `{s}`"
                ))),
            }
        };
        let delimiter = one_char("delimiter", &f.delimiter)?.unwrap_or(b',');
        let comment = one_char("comment", &f.comment)?;
        let with_role = |r: ColumnRole| f.columns.iter().filter(move |(_, &v)| v == r).count();
        if with_role(ColumnRole::Label) > 1 || with_role(ColumnRole::AttackClass) > 1 {
            return Err(err(
                "at most one `label` and one `attack_class` column".into()
            ));
        }
        let has_label = with_role(ColumnRole::Label) == 1;
        let has_class = with_role(ColumnRole::AttackClass) == 1;
        if !has_label && !has_class {
            return Err(err(
                "needs a `label` or an `attack_class` column in [columns]".into(),
            ));
        }
        if has_label && f.benign_labels.is_empty() {
            return Err(err(
                "a `label` column needs `benign_labels` (the values meaning benign)".into(),
            ));
        }
        if !has_label && f.benign_classes.is_empty() {
            return Err(err(
                "without a `label` column, `benign_classes` must say which classes are benign"
                    .into(),
            ));
        }
        for (alias, target) in &f.aliases {
            if f.aliases.contains_key(target) {
                return Err(err(format!(
                    "alias `{alias}` points to `{target}`, itself an alias"
                )));
            }
        }
        Ok(Schema {
            name: f.name,
            description: f.description,
            default_kind: f.default,
            delimiter,
            comment,
            missing: f.missing,
            benign_labels: f.benign_labels,
            benign_classes: f.benign_classes,
            drop: f.drop,
            columns: f.columns,
            aliases: f.aliases,
        })
    }

    /// Reads a schema file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Schema> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| FlowsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// A built-in schema by name (see [`BUILTIN_SCHEMAS`]).
    pub fn builtin(name: &str) -> Result<Schema> {
        let (_, text) = BUILTIN_SCHEMAS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| FlowsError::Schema {
                origin: format!("builtin:{name}"),
                message: format!(
                    "no such built-in schema; known: {}",
                    BUILTIN_SCHEMAS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        Self::from_toml_str(text, &format!("builtin:{name}"))
    }

    /// The name a header column is known by (aliases resolved, whitespace trimmed).
    pub fn canonical_name<'a>(&'a self, header: &'a str) -> &'a str {
        let h = header.trim();
        self.aliases.get(h).map_or(h, String::as_str)
    }

    /// The role of a canonical column name (drop list, then `[columns]`, then the default).
    /// `None` means the default kind is `error`.
    pub fn role_of(&self, canonical: &str) -> Option<ColumnRole> {
        if self.drop.iter().any(|d| d == canonical) {
            return Some(ColumnRole::Ignore);
        }
        if let Some(&r) = self.columns.get(canonical) {
            return Some(r);
        }
        match self.default_kind {
            DefaultKind::Numeric => Some(ColumnRole::Numeric),
            DefaultKind::Categorical => Some(ColumnRole::Categorical),
            DefaultKind::Ignore => Some(ColumnRole::Ignore),
            DefaultKind::Error => None,
        }
    }

    /// The name of the `label` column, if any.
    pub fn label_column(&self) -> Option<&str> {
        self.column_with(ColumnRole::Label)
    }

    /// The label a `label` column value means: 0 when it is a benign value, else 1 — except that where
    /// the benign values are numbers (`0`), a value that is not a number (`BENIGN`) means the column is
    /// in another convention and gives `None`, so it is reported rather than misread as an attack.
    pub fn label_value(&self, value: &str) -> Option<u8> {
        let value = value.trim();
        if self.benign_labels.iter().any(|b| b.trim() == value) {
            return Some(0);
        }
        let numeric = |t: &str| t.trim().parse::<f64>().is_ok();
        if self.benign_labels.iter().all(|b| numeric(b)) && !numeric(value) {
            return None;
        }
        Some(1)
    }

    /// The error for a `label` column value [`Schema::label_value`] cannot read, at 0-based column `i`.
    pub fn unreadable_label(
        &self,
        path: &std::path::Path,
        line: u64,
        i: usize,
        column_name: &str,
        value: &str,
    ) -> FlowsError {
        FlowsError::UnreadableLabel {
            path: path.to_owned(),
            line,
            column: i + 1,
            column_name: column_name.to_owned(),
            value: value.chars().take(40).collect(),
            expected: format!(
                "`{}` reads (benign: {}; attack: any other number)",
                self.name,
                self.benign_labels.join(", ")
            ),
        }
    }

    /// The name of the `attack_class` column, if any.
    pub fn class_column(&self) -> Option<&str> {
        self.column_with(ColumnRole::AttackClass)
    }

    fn column_with(&self, role: ColumnRole) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, &r)| r == role && !self.drop.contains(n))
            .map(|(n, _)| n.as_str())
    }
}

/// Dictionaries for categorical columns and class names, shared between files so that the same
/// string gets the same code everywhere.
///
/// While *growing* (the default) unseen categorical values get new codes. Once *frozen*
/// ([`Encoders::freeze`]), unseen categorical values are encoded as [`crate::UNKNOWN_CODE`] (`-1.0`):
/// use a frozen copy of the training file's encoders to read later files. The class dictionary
/// always grows (a test file may name attack classes the training file never had; codes of known
/// classes never change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoders {
    columns: BTreeMap<String, Dictionary>,
    classes: Dictionary,
    frozen: bool,
}

impl Encoders {
    /// Empty, growing encoders.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoders a table was read with: its categorical dictionaries and class names (growing).
    pub fn from_table(table: &FlowTable) -> Self {
        let columns = table
            .columns()
            .iter()
            .filter_map(|c| match &c.kind {
                ColumnKind::Categorical(d) => Some((c.name.clone(), d.clone())),
                ColumnKind::Numeric => None,
            })
            .collect();
        Self {
            columns,
            classes: Dictionary::from_values(table.class_names().iter().cloned()),
            frozen: false,
        }
    }

    /// Stops categorical dictionaries from growing.
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    /// A frozen copy.
    pub fn frozen(mut self) -> Self {
        self.frozen = true;
        self
    }

    /// Whether categorical dictionaries are frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// The dictionary of a categorical column.
    pub fn column(&self, name: &str) -> Option<&Dictionary> {
        self.columns.get(name)
    }

    /// The class dictionary.
    pub fn classes(&self) -> &Dictionary {
        &self.classes
    }

    pub(crate) fn column_mut(&mut self, name: &str) -> &mut Dictionary {
        self.columns.entry(name.to_owned()).or_default()
    }

    pub(crate) fn classes_mut(&mut self) -> &mut Dictionary {
        &mut self.classes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN_SCHEMAS {
            let s = Schema::builtin(name).unwrap();
            assert_eq!(&s.name, name);
        }
        assert!(Schema::builtin("nope").is_err());
    }

    #[test]
    fn roles_and_aliases() {
        let s = Schema::builtin("cicflowmeter").unwrap();
        assert_eq!(s.canonical_name(" Destination Port "), "Dst Port");
        assert_eq!(s.role_of("Flow ID"), Some(ColumnRole::Ignore));
        assert_eq!(s.role_of("Label"), Some(ColumnRole::AttackClass));
        assert_eq!(s.role_of("Flow Duration"), Some(ColumnRole::Numeric));
        let n = Schema::builtin("nsl-kdd").unwrap();
        assert_eq!(n.role_of("service"), Some(ColumnRole::Categorical));
        assert_eq!(n.role_of("difficulty"), Some(ColumnRole::Ignore));
    }

    #[test]
    fn invalid_schemas_rejected() {
        let no_label = "name = 'x'\n[columns]\na = 'numeric'\n";
        let e = Schema::from_toml_str(no_label, "t").unwrap_err();
        assert!(e.to_string().contains("label"), "{e}");
        let no_benign = "name = 'x'\n[columns]\nl = 'label'\n";
        assert!(Schema::from_toml_str(no_benign, "t").is_err());
        let typo = "name = 'x'\nbenign_labels=['0']\nlabell = 1\n[columns]\nl = 'label'\n";
        assert!(Schema::from_toml_str(typo, "t").is_err());
        let bad_role = "name = 'x'\nbenign_labels=['0']\n[columns]\nl = 'lable'\n";
        assert!(Schema::from_toml_str(bad_role, "t").is_err());
    }
}
