//! Seeded, stratified K-shot episodes and splits.
//!
//! Determinism: every draw uses its own `ChaCha8Rng` seeded with [`crate::rng::derive_seed`]`(seed,
//! draw)`; rows are grouped and ordered before drawing (ascending, duplicates removed) and random
//! indices are drawn as `u64`, so the same seed gives the same rows on any machine, pointer width or
//! thread count, whatever order the caller listed the rows in.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::domains::Domain;
use crate::error::{FlowsError, Result};
use crate::rng::rng_for;
use crate::table::FlowTable;

/// What the strata of an episode or split are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stratify {
    /// Binary label: benign and attack (both must be present).
    #[default]
    Label,
    /// Attack class: every class present in the rows.
    Class,
}

/// How many query rows an episode gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuerySize {
    /// This many per stratum (balanced query); a stratum must hold `k_shot + n` rows.
    PerClass(usize),
    /// Every row not in the support, with the natural class balance; if there are more than `cap`,
    /// a uniform random subset of `cap` of them.
    Rest { cap: usize },
}

/// Row indices (into the table) of one episode; support and query are disjoint and ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub support: Vec<usize>,
    pub query: Vec<usize>,
}

/// Draws K-shot episodes: `k_shot` support rows per stratum and a disjoint query set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeSampler {
    pub k_shot: usize,
    pub query: QuerySize,
    pub stratify: Stratify,
    pub seed: u64,
}

impl EpisodeSampler {
    /// A sampler stratified by binary label.
    pub fn new(k_shot: usize, query: QuerySize, seed: u64) -> Self {
        Self {
            k_shot,
            query,
            stratify: Stratify::Label,
            seed,
        }
    }

    /// The same sampler with other strata.
    pub fn with_stratify(mut self, stratify: Stratify) -> Self {
        self.stratify = stratify;
        self
    }

    /// Episode number `draw` from `domain`.
    pub fn sample_domain(&self, table: &FlowTable, domain: &Domain, draw: u64) -> Result<Episode> {
        self.sample(table, &domain.rows, draw)
    }

    /// Episode number `draw` from the rows `rows` of `table`.
    ///
    /// Fails with [`FlowsError::NotEnoughRows`] when a stratum holds fewer than `k_shot` rows (plus
    /// the per-class query size), and when stratifying by label and one label is absent.
    pub fn sample(&self, table: &FlowTable, rows: &[usize], draw: u64) -> Result<Episode> {
        let strata = strata(table, rows, self.stratify)?;
        let mut rng = rng_for(self.seed, draw);
        let q = match self.query {
            QuerySize::PerClass(q) => q,
            QuerySize::Rest { .. } => 0,
        };
        let mut support = Vec::new();
        let mut query = Vec::new();
        let mut rest = Vec::new();
        for (name, mut members) in strata {
            let wanted = self.k_shot + q;
            if members.len() < wanted || members.is_empty() {
                return Err(FlowsError::NotEnoughRows {
                    class: name,
                    wanted: wanted.max(1),
                    available: members.len(),
                });
            }
            partial_shuffle(&mut members, wanted, &mut rng);
            support.extend_from_slice(&members[..self.k_shot]);
            query.extend_from_slice(&members[self.k_shot..wanted]);
            rest.extend_from_slice(&members[wanted..]);
        }
        if let QuerySize::Rest { cap } = self.query {
            if rest.len() > cap {
                partial_shuffle(&mut rest, cap, &mut rng);
                rest.truncate(cap);
            }
            query = rest;
        }
        support.sort_unstable();
        query.sort_unstable();
        Ok(Episode { support, query })
    }
}

/// An adaptation pool and a test set drawn from the same rows (disjoint, ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub pool: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits `rows` per stratum: a `test_fraction` of each stratum goes to the test set and the rest to
/// the pool (every stratum of two or more rows lands on both sides).
///
/// With `test_cap`, a test set larger than the cap is shrunk proportionally across strata (largest
/// remainders) while the pool keeps its `1 - test_fraction` share; the rows in between are used by
/// neither. The test set can exceed the cap only by keeping one row of each tiny stratum.
pub fn stratified_split(
    table: &FlowTable,
    rows: &[usize],
    test_fraction: f64,
    test_cap: Option<usize>,
    stratify: Stratify,
    seed: u64,
) -> Result<Split> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(FlowsError::InvalidArgument(format!(
            "test fraction {test_fraction} is not in [0, 1]"
        )));
    }
    // Unlike episodes, a split of rows that hold one label only is fine: empty strata are dropped.
    let mut strata = group(table, rows, stratify)?;
    strata.retain(|(_, m)| !m.is_empty());
    let full: Vec<usize> = strata
        .iter()
        .map(|(_, m)| {
            let n = m.len();
            let t = (n as f64 * test_fraction).round() as usize;
            if n >= 2 && test_fraction > 0.0 && test_fraction < 1.0 {
                t.clamp(1, n - 1)
            } else {
                t.min(n)
            }
        })
        .collect();
    let total: usize = full.iter().sum();
    let n_test: Vec<usize> = match test_cap {
        Some(cap) if total > cap => {
            let scale = cap as f64 / total as f64;
            let exact: Vec<f64> = full.iter().map(|&f| f as f64 * scale).collect();
            let mut n: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
            let mut left = cap - n.iter().sum::<usize>();
            let mut order: Vec<usize> = (0..n.len()).collect();
            // Largest remainder first; ties by stratum order keep it deterministic.
            order.sort_by(|&a, &b| {
                let (ra, rb) = (exact[a] - n[a] as f64, exact[b] - n[b] as f64);
                rb.total_cmp(&ra).then(a.cmp(&b))
            });
            for i in order {
                if left == 0 {
                    break;
                }
                if n[i] < full[i] {
                    n[i] += 1;
                    left -= 1;
                }
            }
            n.iter()
                .zip(&full)
                .map(|(&k, &f)| if f > 0 { k.max(1) } else { 0 })
                .collect()
        }
        _ => full.clone(),
    };
    let mut rng = rng_for(seed, 0);
    let mut pool = Vec::new();
    let mut test = Vec::new();
    for (((_, mut members), &t), &f) in strata.into_iter().zip(&n_test).zip(&full) {
        let n = members.len();
        partial_shuffle(&mut members, n, &mut rng);
        test.extend_from_slice(&members[..t]);
        pool.extend_from_slice(&members[f..]);
    }
    pool.sort_unstable();
    test.sort_unstable();
    Ok(Split { pool, test })
}

/// Strata of `rows` in a fixed order, members ascending and unique.
fn strata(
    table: &FlowTable,
    rows: &[usize],
    stratify: Stratify,
) -> Result<Vec<(String, Vec<usize>)>> {
    let mut s = group(table, rows, stratify)?;
    if stratify == Stratify::Class {
        s.retain(|(_, m)| !m.is_empty());
    }
    Ok(s)
}

fn group(
    table: &FlowTable,
    rows: &[usize],
    stratify: Stratify,
) -> Result<Vec<(String, Vec<usize>)>> {
    let mut sorted = rows.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if let Some(&r) = sorted.last() {
        if r >= table.n_rows() {
            return Err(FlowsError::InvalidArgument(format!(
                "row {r} out of range for a table of {} rows",
                table.n_rows()
            )));
        }
    }
    Ok(match stratify {
        Stratify::Label => {
            let mut s = vec![
                ("benign".to_owned(), Vec::new()),
                ("attack".to_owned(), Vec::new()),
            ];
            for r in sorted {
                s[table.labels()[r] as usize].1.push(r);
            }
            s
        }
        Stratify::Class => {
            let mut m: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
            for r in sorted {
                m.entry(table.class_codes()[r]).or_default().push(r);
            }
            m.into_iter()
                .map(|(c, v)| (table.class_names()[c as usize].clone(), v))
                .collect()
        }
    })
}

/// Moves a uniform random `k`-subset (in random order) to the front of `v` (Fisher–Yates prefix).
fn partial_shuffle(v: &mut [usize], k: usize, rng: &mut ChaCha8Rng) {
    let n = v.len() as u64;
    for i in 0..k.min(v.len()) {
        let j = rng.gen_range(i as u64..n) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnSpec;
    use ndarray::Array2;
    use std::collections::HashSet;

    /// 100 rows: 70 benign (class 0), 20 scan (class 1), 10 flood (class 2).
    fn table() -> FlowTable {
        let n = 100;
        let class: Vec<u16> = (0..n)
            .map(|i| {
                if i % 10 == 3 {
                    2
                } else if i % 10 >= 8 {
                    1
                } else {
                    0
                }
            })
            .collect();
        let label = class.iter().map(|&c| u8::from(c > 0)).collect();
        FlowTable::new(
            Array2::zeros((n, 1)),
            vec![ColumnSpec::numeric("x")],
            label,
            class,
            vec!["Benign".into(), "scan".into(), "flood".into()],
            vec![0; n],
            vec!["d".into()],
        )
        .unwrap()
    }

    #[test]
    fn stratified_and_disjoint() {
        let t = table();
        let rows: Vec<usize> = (0..100).collect();
        let s = EpisodeSampler::new(5, QuerySize::PerClass(4), 7);
        let e = s.sample(&t, &rows, 0).unwrap();
        assert_eq!(e.support.len(), 10);
        assert_eq!(e.query.len(), 8);
        let labels: Vec<u8> = e.support.iter().map(|&r| t.labels()[r]).collect();
        assert_eq!(labels.iter().filter(|&&l| l == 1).count(), 5);
        let sup: HashSet<_> = e.support.iter().collect();
        assert!(e.query.iter().all(|r| !sup.contains(r)));

        let by_class = s.clone().with_stratify(Stratify::Class);
        let e = by_class.sample(&t, &rows, 3).unwrap();
        let mut counts = [0; 3];
        for &r in &e.support {
            counts[t.class_codes()[r] as usize] += 1;
        }
        assert_eq!(counts, [5, 5, 5]);
    }

    #[test]
    fn deterministic_and_order_independent() {
        let t = table();
        let rows: Vec<usize> = (0..100).collect();
        let rev: Vec<usize> = rows.iter().rev().copied().collect();
        let s = EpisodeSampler::new(3, QuerySize::Rest { cap: 20 }, 42);
        let a = s.sample(&t, &rows, 5).unwrap();
        assert_eq!(a, s.sample(&t, &rev, 5).unwrap());
        assert_ne!(a, s.sample(&t, &rows, 6).unwrap());
        assert_eq!(a.query.len(), 20);
        // Results computed on other threads are identical.
        let other = std::thread::spawn(move || {
            EpisodeSampler::new(3, QuerySize::Rest { cap: 20 }, 42)
                .sample(&table(), &(0..100).collect::<Vec<_>>(), 5)
                .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(a, other);
        // Pinned values: a change of algorithm must be deliberate.
        assert_eq!(a.support, vec![14, 29, 30, 39, 48, 65]);
    }

    #[test]
    fn rest_query_is_everything_else_when_under_cap() {
        let t = table();
        let rows: Vec<usize> = (0..100).collect();
        let e = EpisodeSampler::new(2, QuerySize::Rest { cap: 1000 }, 1)
            .sample(&t, &rows, 0)
            .unwrap();
        assert_eq!(e.support.len() + e.query.len(), 100);
    }

    #[test]
    fn shortfall_is_an_error() {
        let t = table();
        let rows: Vec<usize> = (0..100).collect();
        let err = EpisodeSampler::new(8, QuerySize::PerClass(5), 1)
            .with_stratify(Stratify::Class)
            .sample(&t, &rows, 0)
            .unwrap_err();
        match err {
            FlowsError::NotEnoughRows {
                class,
                wanted,
                available,
            } => {
                assert_eq!(class, "flood");
                assert_eq!(wanted, 13);
                assert_eq!(available, 10);
            }
            e => panic!("unexpected {e}"),
        }
        // Only benign rows: the attack stratum is empty.
        let benign: Vec<usize> = (0..100).filter(|&r| t.labels()[r] == 0).collect();
        let err = EpisodeSampler::new(1, QuerySize::PerClass(0), 1)
            .sample(&t, &benign, 0)
            .unwrap_err();
        assert!(
            matches!(err, FlowsError::NotEnoughRows { ref class, available: 0, .. } if class == "attack")
        );
    }

    #[test]
    fn split_stratified_with_cap() {
        let t = table();
        let rows: Vec<usize> = (0..100).collect();
        let s = stratified_split(&t, &rows, 0.5, None, Stratify::Class, 9).unwrap();
        assert_eq!(s.test.len(), 50);
        assert_eq!(s.pool.len(), 50);
        let pool: HashSet<_> = s.pool.iter().collect();
        assert!(s.test.iter().all(|r| !pool.contains(r)));
        let floods = s.test.iter().filter(|&&r| t.class_codes()[r] == 2).count();
        assert_eq!(floods, 5);

        let c = stratified_split(&t, &rows, 0.5, Some(20), Stratify::Label, 9).unwrap();
        assert_eq!(c.test.len(), 20);
        assert_eq!(c.pool.len(), 50);
        let attacks = c.test.iter().filter(|&&r| t.labels()[r] == 1).count();
        assert_eq!(attacks, 6);
        assert_eq!(
            c,
            stratified_split(&t, &rows, 0.5, Some(20), Stratify::Label, 9).unwrap()
        );
        assert!(stratified_split(&t, &rows, 1.5, None, Stratify::Label, 9).is_err());
    }
}
