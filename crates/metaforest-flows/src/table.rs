//! The columnar flow table.
//!
//! Memory per row is the raw numbers: `8 × n_features` bytes of `f64` plus 1 byte of label, 2 of class
//! code and 2 of domain code. Strings live once, in dictionaries and name lists.
//!
//! **Categorical columns** hold dictionary codes stored as `f64` (`0.0, 1.0, …`) in the same matrix as
//! the numeric columns, so the forest bins them like any ordered feature. A value absent from a frozen
//! dictionary gets [`UNKNOWN_CODE`] (`-1.0`), which sorts below every known code.
//!
//! **Missing values** are `NaN` (see [`crate::NonFinitePolicy`]): the reader turns NaN, ±inf and the
//! schema's missing tokens into `NaN`; the forest gives `NaN` its own bin.

use std::collections::HashMap;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis, ShapeBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{FlowsError, Result};

/// Code of a categorical value that the dictionary did not contain when it was frozen.
pub const UNKNOWN_CODE: f64 = -1.0;

/// Label of a benign flow.
pub const BENIGN: u8 = 0;
/// Label of an attack flow.
pub const ATTACK: u8 = 1;

/// A string ↔ code dictionary; codes are dense, `0..len`, in order of first appearance.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Dictionary {
    values: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl Dictionary {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// A dictionary holding `values` in this order (duplicates are kept once).
    pub fn from_values<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        let mut d = Self::new();
        for v in values {
            d.get_or_insert(&v.into());
        }
        d
    }

    /// Number of known values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The known values, in code order.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Code of `value`, if known.
    pub fn code(&self, value: &str) -> Option<u32> {
        if self.index.len() != self.values.len() {
            // Only after deserialisation (the index is not serialised): a linear scan stays correct.
            return self
                .values
                .iter()
                .position(|v| v == value)
                .map(|p| p as u32);
        }
        self.index.get(value).copied()
    }

    /// Value of `code`, if in range.
    pub fn value(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(String::as_str)
    }

    /// Code of `value`, adding it if new.
    pub fn get_or_insert(&mut self, value: &str) -> u32 {
        self.rebuild_index_if_needed();
        if let Some(&c) = self.index.get(value) {
            return c;
        }
        let c = self.values.len() as u32;
        self.values.push(value.to_owned());
        self.index.insert(value.to_owned(), c);
        c
    }

    /// The feature value for `value`: its code as `f64`, or [`UNKNOWN_CODE`] if unknown.
    pub fn encode(&self, value: &str) -> f64 {
        self.code(value).map_or(UNKNOWN_CODE, f64::from)
    }

    /// The value a feature code stands for; `None` for [`UNKNOWN_CODE`], `NaN` or out-of-range codes.
    pub fn decode(&self, code: f64) -> Option<&str> {
        if code.is_finite() && code >= 0.0 && code.fract() == 0.0 {
            self.value(code as u32)
        } else {
            None
        }
    }

    fn rebuild_index_if_needed(&mut self) {
        if self.index.len() != self.values.len() {
            self.index = self
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i as u32))
                .collect();
        }
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived data (and absent after deserialisation).
        self.values == other.values
    }
}

impl Eq for Dictionary {}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Dictionary").field(&self.values).finish()
    }
}

/// How a feature column is encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnKind {
    /// Plain numbers.
    Numeric,
    /// Dictionary codes (see [`Dictionary`] and [`UNKNOWN_CODE`]).
    Categorical(Dictionary),
}

/// One feature column: its name and encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub kind: ColumnKind,
}

impl ColumnSpec {
    /// A numeric column.
    pub fn numeric(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: ColumnKind::Numeric,
        }
    }

    /// Whether the column is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self.kind, ColumnKind::Categorical(_))
    }
}

/// Counts of exact duplicates (see [`FlowTable::duplicates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateReport {
    /// Rows that repeat an earlier row (removing them leaves one copy of each).
    pub duplicate_rows: usize,
    /// Distinct rows that occur more than once.
    pub repeated_groups: usize,
}

/// A columnar table of flows. See the module documentation for the encoding conventions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowTable {
    features: Array2<f64>,
    columns: Vec<ColumnSpec>,
    label: Vec<u8>,
    class: Vec<u16>,
    class_names: Vec<String>,
    domain: Vec<u16>,
    domain_names: Vec<String>,
}

impl FlowTable {
    /// Builds a table, checking every invariant. `features` may have any layout; it is stored
    /// column-major.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        features: Array2<f64>,
        columns: Vec<ColumnSpec>,
        label: Vec<u8>,
        class: Vec<u16>,
        class_names: Vec<String>,
        domain: Vec<u16>,
        domain_names: Vec<String>,
    ) -> Result<Self> {
        let (n, f) = features.dim();
        let bad = |m: String| Err(FlowsError::InvalidArgument(m));
        if columns.len() != f {
            return bad(format!(
                "{} column specs for {f} feature columns",
                columns.len()
            ));
        }
        if label.len() != n || class.len() != n || domain.len() != n {
            return bad(format!(
                "{n} feature rows but {} labels, {} classes, {} domains",
                label.len(),
                class.len(),
                domain.len()
            ));
        }
        if let Some(&l) = label.iter().find(|&&l| l > 1) {
            return bad(format!("label {l} is neither 0 (benign) nor 1 (attack)"));
        }
        if let Some(&c) = class.iter().find(|&&c| c as usize >= class_names.len()) {
            return bad(format!(
                "class code {c} but {} class names",
                class_names.len()
            ));
        }
        if let Some(&d) = domain.iter().find(|&&d| d as usize >= domain_names.len()) {
            return bad(format!(
                "domain code {d} but {} domain names",
                domain_names.len()
            ));
        }
        if class_names.len() > u16::MAX as usize + 1 || domain_names.len() > u16::MAX as usize + 1 {
            return bad("more than 65536 classes or domains".into());
        }
        Ok(Self {
            features: to_fortran(features),
            columns,
            label,
            class,
            class_names,
            domain,
            domain_names,
        })
    }

    /// Number of rows (flows).
    pub fn n_rows(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// The feature matrix, `rows × features`, column-major.
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.features.view()
    }

    /// One feature column (contiguous).
    pub fn feature_column(&self, j: usize) -> ArrayView1<'_, f64> {
        self.features.column(j)
    }

    /// Column descriptions, in feature order.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// Feature names, in feature order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Index of the feature called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Binary labels: 0 benign, 1 attack.
    pub fn labels(&self) -> &[u8] {
        &self.label
    }

    /// Binary labels as the forest's `u32` class targets.
    pub fn labels_u32(&self) -> Vec<u32> {
        self.label.iter().map(|&l| u32::from(l)).collect()
    }

    /// Attack-class code of each row (index into [`Self::class_names`]).
    pub fn class_codes(&self) -> &[u16] {
        &self.class
    }

    /// Class names; may include classes without rows (shared encoders keep codes stable across files).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Code of class `name`.
    pub fn class_code(&self, name: &str) -> Option<u16> {
        self.class_names
            .iter()
            .position(|c| c == name)
            .map(|p| p as u16)
    }

    /// Domain code of each row (index into [`Self::domain_names`]).
    pub fn domain_codes(&self) -> &[u16] {
        &self.domain
    }

    /// Domain names.
    pub fn domain_names(&self) -> &[String] {
        &self.domain_names
    }

    /// `[benign, attack]` row counts.
    pub fn label_counts(&self) -> [usize; 2] {
        let attack = self.label.iter().filter(|&&l| l == ATTACK).count();
        [self.n_rows() - attack, attack]
    }

    /// Rows per class code (length = number of class names).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.class_names.len()];
        for &k in &self.class {
            c[k as usize] += 1;
        }
        c
    }

    /// `(class name, rows)` for every class with rows, most frequent first (ties by name).
    pub fn class_counts_named(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self
            .class_counts()
            .into_iter()
            .enumerate()
            .filter(|&(_, n)| n > 0)
            .map(|(i, n)| (self.class_names[i].clone(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Rows per domain code.
    pub fn domain_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.domain_names.len()];
        for &k in &self.domain {
            c[k as usize] += 1;
        }
        c
    }

    /// Approximate heap bytes held by the table (features, codes and names).
    pub fn memory_bytes(&self) -> usize {
        let names: usize = self
            .class_names
            .iter()
            .chain(&self.domain_names)
            .map(|s| s.len() + 24)
            .sum();
        let dicts: usize = self
            .columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Categorical(d) => d.values().iter().map(|s| 2 * s.len() + 48).sum(),
                ColumnKind::Numeric => 0,
            })
            .sum();
        self.features.len() * 8 + self.n_rows() * 5 + names + dicts
    }

    /// The rows at `rows`, in that order (indices may repeat). Names and dictionaries are kept whole,
    /// so codes mean the same in the result.
    ///
    /// # Panics
    /// If an index is out of range: indices come from the program, not from input.
    pub fn select_rows(&self, rows: &[usize]) -> FlowTable {
        let features = self.features.select(Axis(0), rows);
        FlowTable {
            features: to_fortran(features),
            columns: self.columns.clone(),
            label: rows.iter().map(|&r| self.label[r]).collect(),
            class: rows.iter().map(|&r| self.class[r]).collect(),
            class_names: self.class_names.clone(),
            domain: rows.iter().map(|&r| self.domain[r]).collect(),
            domain_names: self.domain_names.clone(),
        }
    }

    /// The table without the named feature columns (e.g. ports: `&["L4_SRC_PORT", "L4_DST_PORT"]`).
    pub fn drop_columns(&self, names: &[&str]) -> Result<FlowTable> {
        let mut drop = vec![false; self.n_features()];
        for name in names {
            let j = self
                .column_index(name)
                .ok_or_else(|| FlowsError::UnknownColumn((*name).to_owned()))?;
            drop[j] = true;
        }
        let keep: Vec<usize> = (0..self.n_features()).filter(|&j| !drop[j]).collect();
        Ok(FlowTable {
            features: to_fortran(self.features.select(Axis(1), &keep)),
            columns: keep.iter().map(|&j| self.columns[j].clone()).collect(),
            label: self.label.clone(),
            class: self.class.clone(),
            class_names: self.class_names.clone(),
            domain: self.domain.clone(),
            domain_names: self.domain_names.clone(),
        })
    }

    /// The same rows with every domain code replaced by one domain called `name`.
    pub fn with_single_domain(mut self, name: impl Into<String>) -> FlowTable {
        self.domain = vec![0; self.n_rows()];
        self.domain_names = vec![name.into()];
        self
    }

    /// Stacks tables with the same feature columns (names and kinds, in order).
    ///
    /// Class names, domain names and categorical dictionaries are merged as unions in order of first
    /// appearance (the first table's codes are kept; later tables' codes are remapped), so a string
    /// keeps one code in the result. [`UNKNOWN_CODE`] and `NaN` stay as they are.
    pub fn concat(tables: &[FlowTable]) -> Result<FlowTable> {
        let first = tables
            .first()
            .ok_or_else(|| FlowsError::InvalidArgument("concat of no tables".into()))?;
        let f = first.n_features();
        for (t_i, t) in tables.iter().enumerate().skip(1) {
            if t.n_features() != f {
                return Err(FlowsError::Incompatible(format!(
                    "table {t_i} has {} features, table 0 has {f}",
                    t.n_features()
                )));
            }
            for (a, b) in first.columns.iter().zip(&t.columns) {
                if a.name != b.name || a.is_categorical() != b.is_categorical() {
                    return Err(FlowsError::Incompatible(format!(
                        "table {t_i}: column `{}` where table 0 has `{}` (or a different kind)",
                        b.name, a.name
                    )));
                }
            }
        }
        // Merged dictionaries, and per table the old → new code map of each categorical column.
        let mut columns = first.columns.clone();
        let mut remaps: Vec<Vec<Option<Vec<f64>>>> = Vec::with_capacity(tables.len());
        for t in tables {
            let mut per_col = Vec::with_capacity(f);
            for (j, spec) in t.columns.iter().enumerate() {
                match (&spec.kind, &mut columns[j].kind) {
                    (ColumnKind::Categorical(d), ColumnKind::Categorical(merged)) => {
                        let map: Vec<f64> = d
                            .values()
                            .iter()
                            .map(|v| f64::from(merged.get_or_insert(v)))
                            .collect();
                        let identity = map.iter().enumerate().all(|(i, &c)| c == i as f64);
                        per_col.push((!identity).then_some(map));
                    }
                    _ => per_col.push(None),
                }
            }
            remaps.push(per_col);
        }
        let mut class_dict = Dictionary::new();
        let mut domain_dict = Dictionary::new();
        let n: usize = tables.iter().map(FlowTable::n_rows).sum();
        let (mut label, mut class, mut domain) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for t in tables {
            let cmap: Vec<u16> = t
                .class_names
                .iter()
                .map(|c| class_dict.get_or_insert(c) as u16)
                .collect();
            let dmap: Vec<u16> = t
                .domain_names
                .iter()
                .map(|d| domain_dict.get_or_insert(d) as u16)
                .collect();
            label.extend_from_slice(&t.label);
            class.extend(t.class.iter().map(|&c| cmap[c as usize]));
            domain.extend(t.domain.iter().map(|&d| dmap[d as usize]));
        }
        if class_dict.len() > u16::MAX as usize + 1 || domain_dict.len() > u16::MAX as usize + 1 {
            return Err(FlowsError::Incompatible(
                "more than 65536 classes or domains".into(),
            ));
        }
        let mut data = Vec::with_capacity(n * f);
        for j in 0..f {
            for (t, remap) in tables.iter().zip(&remaps) {
                let col = t.features.column(j);
                match &remap[j] {
                    None => data.extend(col.iter().copied()),
                    Some(map) => data.extend(col.iter().map(|&v| remap_code(v, map))),
                }
            }
        }
        let features = Array2::from_shape_vec((n, f).f(), data)
            .map_err(|e| FlowsError::InvalidArgument(e.to_string()))?;
        Ok(FlowTable {
            features,
            columns,
            label,
            class,
            class_names: class_dict.values().to_vec(),
            domain,
            domain_names: domain_dict.values().to_vec(),
        })
    }

    /// Counts exact duplicate rows: same feature values (bit for bit, with every `NaN` equal and
    /// `-0.0 == 0.0`), label, class and domain.
    pub fn duplicates(&self) -> DuplicateReport {
        let first = self.first_occurrence(true);
        let mut dup_rows = 0;
        let mut groups = std::collections::HashSet::new();
        for (r, &f) in first.iter().enumerate() {
            if f != r {
                dup_rows += 1;
                groups.insert(f);
            }
        }
        DuplicateReport {
            duplicate_rows: dup_rows,
            repeated_groups: groups.len(),
        }
    }

    /// Like [`Self::duplicates`] but comparing feature vectors only (labels ignored): how many rows
    /// repeat a feature vector seen before, and how many distinct vectors repeat.
    pub fn duplicate_feature_vectors(&self) -> DuplicateReport {
        let first = self.first_occurrence(false);
        let mut dup_rows = 0;
        let mut groups = std::collections::HashSet::new();
        for (r, &f) in first.iter().enumerate() {
            if f != r {
                dup_rows += 1;
                groups.insert(f);
            }
        }
        DuplicateReport {
            duplicate_rows: dup_rows,
            repeated_groups: groups.len(),
        }
    }

    /// The table without exact duplicate rows (first occurrences kept, order kept) and how many
    /// rows were removed.
    pub fn dedup(&self) -> (FlowTable, usize) {
        let first = self.first_occurrence(true);
        let keep: Vec<usize> = (0..self.n_rows()).filter(|&r| first[r] == r).collect();
        let removed = self.n_rows() - keep.len();
        (self.select_rows(&keep), removed)
    }

    /// For each row, the index of the first row equal to it.
    fn first_occurrence(&self, with_targets: bool) -> Vec<usize> {
        let n = self.n_rows();
        // Column-wise hashing reads the F-order matrix contiguously.
        let mut h: Vec<u64> = vec![0xcbf2_9ce4_8422_2325; n];
        for col in self.features.columns() {
            for (hv, &v) in h.iter_mut().zip(col.iter()) {
                *hv = mix(*hv ^ canon_bits(v));
            }
        }
        if with_targets {
            for (r, hv) in h.iter_mut().enumerate() {
                let t = u64::from(self.label[r])
                    | u64::from(self.class[r]) << 8
                    | u64::from(self.domain[r]) << 24;
                *hv = mix(*hv ^ t);
            }
        }
        let mut seen: HashMap<u64, Vec<usize>> = HashMap::with_capacity(n);
        let mut first = Vec::with_capacity(n);
        for (r, &hv) in h.iter().enumerate() {
            let bucket = seen.entry(hv).or_default();
            let found = bucket
                .iter()
                .copied()
                .find(|&q| self.rows_equal(q, r, with_targets));
            match found {
                Some(q) => first.push(q),
                None => {
                    bucket.push(r);
                    first.push(r);
                }
            }
        }
        first
    }

    fn rows_equal(&self, a: usize, b: usize, with_targets: bool) -> bool {
        if with_targets
            && (self.label[a] != self.label[b]
                || self.class[a] != self.class[b]
                || self.domain[a] != self.domain[b])
        {
            return false;
        }
        self.features
            .columns()
            .into_iter()
            .all(|c| canon_bits(c[a]) == canon_bits(c[b]))
    }
}

fn remap_code(v: f64, map: &[f64]) -> f64 {
    if v.is_finite() && v >= 0.0 && (v as usize) < map.len() {
        map[v as usize]
    } else {
        v
    }
}

fn canon_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// splitmix64 finaliser: cheap, well-mixed 64-bit hash step.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn to_fortran(a: Array2<f64>) -> Array2<f64> {
    if a.t().is_standard_layout() {
        return a;
    }
    let (n, f) = a.dim();
    let mut out = Array2::<f64>::zeros((n, f).f());
    out.assign(&a);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn small() -> FlowTable {
        let mut d = Dictionary::new();
        d.get_or_insert("tcp");
        d.get_or_insert("udp");
        FlowTable::new(
            array![
                [1.0, 0.0],
                [2.0, 1.0],
                [1.0, 0.0],
                [f64::NAN, 1.0],
                [f64::NAN, 1.0]
            ],
            vec![
                ColumnSpec::numeric("bytes"),
                ColumnSpec {
                    name: "proto".into(),
                    kind: ColumnKind::Categorical(d),
                },
            ],
            vec![0, 1, 0, 1, 1],
            vec![0, 1, 0, 1, 1],
            vec!["Benign".into(), "scan".into()],
            vec![0; 5],
            vec!["net".into()],
        )
        .unwrap()
    }

    #[test]
    fn stored_column_major() {
        let t = small();
        assert!(t.features().t().is_standard_layout());
        assert_eq!(t.feature_column(0).as_slice().map(|s| s.len()), Some(5));
    }

    #[test]
    fn duplicates_counted_and_removed() {
        let t = small();
        // Rows 2 (== 0) and 4 (== 3, NaN equal to NaN) repeat.
        assert_eq!(
            t.duplicates(),
            DuplicateReport {
                duplicate_rows: 2,
                repeated_groups: 2
            }
        );
        let (d, removed) = t.dedup();
        assert_eq!(removed, 2);
        assert_eq!(d.n_rows(), 3);
        assert_eq!(d.duplicates().duplicate_rows, 0);
        assert_eq!(d.labels(), &[0, 1, 1]);
    }

    #[test]
    fn duplicates_need_same_class() {
        let mut t = small();
        t.class[2] = 1;
        t.label[2] = 1;
        assert_eq!(t.duplicates().duplicate_rows, 1);
        assert_eq!(t.duplicate_feature_vectors().duplicate_rows, 2);
    }

    #[test]
    fn drop_and_select() {
        let t = small();
        let d = t.drop_columns(&["bytes"]).unwrap();
        assert_eq!(d.feature_names(), vec!["proto"]);
        assert!(matches!(
            t.drop_columns(&["nope"]),
            Err(FlowsError::UnknownColumn(n)) if n == "nope"
        ));
        let s = t.select_rows(&[1, 0]);
        assert_eq!(s.features()[[0, 0]], 2.0);
        assert_eq!(s.labels(), &[1, 0]);
        assert!(s.features().t().is_standard_layout());
    }

    #[test]
    fn concat_remaps_dictionaries_and_names() {
        let a = small();
        let mut d = Dictionary::new();
        d.get_or_insert("icmp");
        d.get_or_insert("tcp");
        let b = FlowTable::new(
            array![[5.0, 0.0], [6.0, 1.0], [7.0, UNKNOWN_CODE]],
            vec![
                ColumnSpec::numeric("bytes"),
                ColumnSpec {
                    name: "proto".into(),
                    kind: ColumnKind::Categorical(d),
                },
            ],
            vec![1, 0, 0],
            vec![0, 1, 1],
            vec!["flood".into(), "Benign".into()],
            vec![0; 3],
            vec!["other".into()],
        )
        .unwrap();
        let c = FlowTable::concat(&[a, b]).unwrap();
        assert_eq!(c.n_rows(), 8);
        let ColumnKind::Categorical(dict) = &c.columns()[1].kind else {
            panic!("proto must stay categorical")
        };
        assert_eq!(dict.values(), &["tcp", "udp", "icmp"]);
        // b's icmp (0) → 2, tcp (1) → 0, unknown stays unknown.
        assert_eq!(c.features()[[5, 1]], 2.0);
        assert_eq!(c.features()[[6, 1]], 0.0);
        assert_eq!(c.features()[[7, 1]], UNKNOWN_CODE);
        assert_eq!(c.class_names(), &["Benign", "scan", "flood"]);
        assert_eq!(&c.class_codes()[5..], &[2, 0, 0]);
        assert_eq!(c.domain_names(), &["net", "other"]);
        assert_eq!(c.domain_counts(), vec![5, 3]);
    }

    #[test]
    fn new_rejects_bad_codes() {
        let r = FlowTable::new(
            array![[1.0]],
            vec![ColumnSpec::numeric("x")],
            vec![0],
            vec![3],
            vec!["a".into()],
            vec![0],
            vec!["d".into()],
        );
        assert!(matches!(r, Err(FlowsError::InvalidArgument(_))));
    }

    #[test]
    fn dictionary_unknown_code() {
        let d = Dictionary::from_values(["a", "b"]);
        assert_eq!(d.encode("b"), 1.0);
        assert_eq!(d.encode("zzz"), UNKNOWN_CODE);
        assert_eq!(d.decode(UNKNOWN_CODE), None);
        assert_eq!(d.decode(0.0), Some("a"));
    }
}
