//! Domains (named subsets of a table's rows) and the builders for the two modes of the design:
//! cross-domain (one domain per data set) and intrinsic (one per attack family, or "benign vs
//! attack class X" tasks inside one data set). Row lists are ascending.

use std::collections::BTreeMap;

use crate::table::{FlowTable, ATTACK, BENIGN};

/// A named subset of a table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub rows: Vec<usize>,
}

impl Domain {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the domain has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `[benign, attack]` counts of the domain's rows in `table`.
    pub fn label_counts(&self, table: &FlowTable) -> [usize; 2] {
        let l = table.labels();
        let attack = self.rows.iter().filter(|&&r| l[r] == ATTACK).count();
        [self.rows.len() - attack, attack]
    }
}

/// One domain per data set (per domain code of the table), named after it, in code order; data sets
/// without rows are left out.
pub fn domains_by_dataset(table: &FlowTable) -> Vec<Domain> {
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); table.domain_names().len()];
    for (r, &d) in table.domain_codes().iter().enumerate() {
        rows[d as usize].push(r);
    }
    rows.into_iter()
        .zip(table.domain_names())
        .filter(|(r, _)| !r.is_empty())
        .map(|(rows, name)| Domain {
            name: name.clone(),
            rows,
        })
        .collect()
}

/// One domain per (data set, attack family): the attack rows whose class `family_of` maps to that
/// family, plus — when `include_benign` — every benign row of the same data set, so that each domain
/// is a "benign vs family" detection task. Named `"<data set>/<family>"`, sorted by name.
///
/// Benign rows (label 0) never form a family. Attack rows whose class `family_of` does not map are
/// left out (and logged). For UNSW-NB15 the family is the class itself: pass `|c| Some(c.to_owned())`.
pub fn domains_by_class_family(
    table: &FlowTable,
    family_of: impl Fn(&str) -> Option<String>,
    include_benign: bool,
) -> Vec<Domain> {
    let class_family: Vec<Option<String>> =
        table.class_names().iter().map(|c| family_of(c)).collect();
    let mut benign: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    let mut fam: BTreeMap<(u16, String), Vec<usize>> = BTreeMap::new();
    let mut unmapped = 0usize;
    for r in 0..table.n_rows() {
        let d = table.domain_codes()[r];
        if table.labels()[r] == BENIGN {
            benign.entry(d).or_default().push(r);
            continue;
        }
        match &class_family[table.class_codes()[r] as usize] {
            Some(f) => fam.entry((d, f.clone())).or_default().push(r),
            None => unmapped += 1,
        }
    }
    if unmapped > 0 {
        tracing::warn!(
            unmapped,
            "attack rows whose class has no family were left out"
        );
    }
    let mut out: Vec<Domain> = fam
        .into_iter()
        .map(|((d, f), mut rows)| {
            if include_benign {
                rows.extend(benign.get(&d).map_or(&[][..], Vec::as_slice));
                rows.sort_unstable();
            }
            Domain {
                name: format!("{}/{}", table.domain_names()[d as usize], f),
                rows,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// "Benign vs attack class X" tasks: for every data set and every attack class with at least
/// `min_attack_rows` rows there, the benign rows of that data set plus the rows of class X.
/// Named `"<data set>: benign vs <X>"`, in (data set, class code) order.
pub fn binary_tasks(table: &FlowTable, min_attack_rows: usize) -> Vec<Domain> {
    let n_classes = table.class_names().len();
    let mut benign: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    let mut attack: BTreeMap<(u16, u16), Vec<usize>> = BTreeMap::new();
    for r in 0..table.n_rows() {
        let d = table.domain_codes()[r];
        if table.labels()[r] == BENIGN {
            benign.entry(d).or_default().push(r);
        } else {
            attack
                .entry((d, table.class_codes()[r]))
                .or_default()
                .push(r);
        }
    }
    debug_assert!(attack.keys().all(|&(_, c)| (c as usize) < n_classes));
    attack
        .into_iter()
        .filter(|(_, rows)| rows.len() >= min_attack_rows.max(1))
        .map(|((d, c), rows)| {
            let b = benign.get(&d).map_or(&[][..], Vec::as_slice);
            let mut all = Vec::with_capacity(b.len() + rows.len());
            all.extend_from_slice(b);
            all.extend_from_slice(&rows);
            all.sort_unstable();
            Domain {
                name: format!(
                    "{}: benign vs {}",
                    table.domain_names()[d as usize],
                    table.class_names()[c as usize]
                ),
                rows: all,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnSpec;
    use ndarray::Array2;

    fn table() -> FlowTable {
        // rows: d0 benign, d0 scan, d0 flood, d1 benign, d1 scan, d0 benign
        FlowTable::new(
            Array2::zeros((6, 1)),
            vec![ColumnSpec::numeric("x")],
            vec![0, 1, 1, 0, 1, 0],
            vec![0, 1, 2, 0, 1, 0],
            vec!["Benign".into(), "scan".into(), "flood".into()],
            vec![0, 0, 0, 1, 1, 0],
            vec!["A".into(), "B".into()],
        )
        .unwrap()
    }

    #[test]
    fn by_dataset() {
        let d = domains_by_dataset(&table());
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].rows, vec![0, 1, 2, 5]);
        assert_eq!(d[1].name, "B");
        assert_eq!(d[1].label_counts(&table()), [1, 1]);
    }

    #[test]
    fn by_family() {
        let fam = |c: &str| match c {
            "scan" => Some("Probe".to_owned()),
            "flood" => Some("DoS".to_owned()),
            _ => None,
        };
        let d = domains_by_class_family(&table(), fam, true);
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["A/DoS", "A/Probe", "B/Probe"]);
        assert_eq!(d[0].rows, vec![0, 2, 5]);
        assert_eq!(d[2].rows, vec![3, 4]);
        let d = domains_by_class_family(&table(), fam, false);
        assert_eq!(d[1].rows, vec![1]);
    }

    #[test]
    fn binary() {
        let t = binary_tasks(&table(), 1);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].name, "A: benign vs scan");
        assert_eq!(t[0].rows, vec![0, 1, 5]);
        assert_eq!(binary_tasks(&table(), 2).len(), 0);
    }
}
