//! Episode augmentation: pseudo-networks that vary what varies between real networks, drawn from the known
//! domains only.
//!
//! With three known networks the meta-learner sees three tasks and memorises them. Two things vary between real
//! networks and can be re-created inside a known one: the attack share of the traffic (from a fraction of a percent
//! to nearly all of it), and how well a handful of labelled flows covers the network's traffic. A *narrow* support
//! takes its benign flows from one or two clusters of the domain's benign traffic and its attack flows from one or
//! two attack classes, while the query keeps the whole domain, which is the under-covered benign traffic that makes
//! a few-shot detector over-flag.

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How episodes are augmented (all off: every episode at its domain's own balance, supports drawn from the whole
/// domain).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Query and unlabelled attack share drawn uniform in log-odds over [`SHARE_RANGE`], not the domain's own.
    pub share: bool,
    /// Share of episodes whose support is narrow (benign from 1–2 benign clusters, attacks from 1–2 classes).
    pub narrow_share: f64,
    /// Clusters of each known domain's benign flows (k-means on rank-transformed features).
    pub benign_clusters: usize,
}

impl Default for Augmentation {
    fn default() -> Self {
        Self {
            share: false,
            narrow_share: 0.0,
            benign_clusters: 10,
        }
    }
}

/// Range of the augmented attack share.
pub const SHARE_RANGE: (f64, f64) = (0.005, 0.995);

/// An attack share drawn uniform in log-odds over [`SHARE_RANGE`].
pub(crate) fn draw_share(rng: &mut ChaCha8Rng) -> f64 {
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let z = rng.gen_range(logit(SHARE_RANGE.0)..=logit(SHARE_RANGE.1));
    1.0 / (1.0 + (-z).exp())
}

/// Benign and attack counts of `n` flows at attack share `share`, at most `benign` / `attack` of each and, when
/// `at_least_one`, at least one of each.
pub(crate) fn counts_at_share(
    n: usize,
    share: f64,
    benign: usize,
    attack: usize,
    at_least_one: bool,
) -> (usize, usize) {
    let low = usize::from(at_least_one);
    let qa = ((n as f64 * share).round() as usize).clamp(low.min(attack), attack);
    let qb = n.saturating_sub(qa).clamp(low.min(benign), benign);
    (qb, qa)
}

/// Picks one or two of `groups` (each a list of rows) holding together at least `need` rows, and returns their
/// rows shuffled; `None` when no such pick exists (the caller then draws from the whole domain).
pub(crate) fn narrow_pool(
    rng: &mut ChaCha8Rng,
    groups: &[Vec<usize>],
    need: usize,
) -> Option<Vec<usize>> {
    let usable: Vec<&Vec<usize>> = groups.iter().filter(|g| !g.is_empty()).collect();
    if usable.is_empty() {
        return None;
    }
    let two = usable.len() > 1 && rng.gen_bool(0.5);
    let picked: Vec<&&Vec<usize>> = usable
        .choose_multiple(rng, if two { 2 } else { 1 })
        .collect();
    let mut rows: Vec<usize> = picked.iter().flat_map(|g| g.iter().copied()).collect();
    if rows.len() < need {
        return None;
    }
    rows.shuffle(rng);
    Some(rows)
}

/// Rows used to place the cluster centres (all rows are then assigned to the nearest one).
const CLUSTER_SAMPLE: usize = 2_000;
/// Lloyd iterations of k-means.
const KMEANS_ITERATIONS: usize = 15;

/// Clusters `rows` of `x`: k-means (k-means++ seeding, fixed seed) on every feature mapped to its rank among a
/// sample of those rows, so no feature's scale dominates. Returns the rows of each non-empty cluster.
pub(crate) fn clusters(x: &Array2<f64>, rows: &[usize], k: usize, seed: u64) -> Vec<Vec<usize>> {
    if rows.is_empty() || k <= 1 {
        return vec![rows.to_vec()];
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sample: Vec<usize> = if rows.len() > CLUSTER_SAMPLE {
        rows.choose_multiple(&mut rng, CLUSTER_SAMPLE)
            .copied()
            .collect()
    } else {
        rows.to_vec()
    };
    // Sorted sample values per feature: a value's rank is its position among them, scaled to [0, 1].
    let sorted: Vec<Vec<f64>> = (0..x.ncols())
        .map(|j| {
            let mut v: Vec<f64> = sample.iter().map(|&r| x[[r, j]]).collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let rank = |r: usize| -> Vec<f64> {
        sorted
            .iter()
            .enumerate()
            .map(|(j, s)| s.partition_point(|&v| v < x[[r, j]]) as f64 / s.len() as f64)
            .collect()
    };
    let points: Vec<Vec<f64>> = sample.iter().map(|&r| rank(r)).collect();
    let centres = kmeans(&points, k.min(points.len()), &mut rng);
    let mut out = vec![Vec::new(); centres.len()];
    for &r in rows {
        out[nearest(&centres, &rank(r))].push(r);
    }
    out.retain(|c| !c.is_empty());
    out
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(centres: &[Vec<f64>], p: &[f64]) -> usize {
    centres
        .iter()
        .enumerate()
        .map(|(i, c)| (i, distance(c, p)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(i, _)| i)
}

fn kmeans(points: &[Vec<f64>], k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    // k-means++: each next centre drawn with probability proportional to its squared distance to the chosen ones.
    let mut centres = vec![points[rng.gen_range(0..points.len())].clone()];
    let mut d2: Vec<f64> = points.iter().map(|p| distance(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = d2.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut target = rng.gen_range(0.0..total);
        let mut pick = points.len() - 1;
        for (i, &d) in d2.iter().enumerate() {
            if target < d {
                pick = i;
                break;
            }
            target -= d;
        }
        centres.push(points[pick].clone());
        let c = centres.last().expect("just pushed");
        d2.iter_mut()
            .zip(points)
            .for_each(|(d, p)| *d = d.min(distance(p, c)));
    }
    for _ in 0..KMEANS_ITERATIONS {
        let mut sums = vec![vec![0.0; points[0].len()]; centres.len()];
        let mut counts = vec![0usize; centres.len()];
        for p in points {
            let c = nearest(&centres, p);
            counts[c] += 1;
            sums[c].iter_mut().zip(p).for_each(|(s, v)| *s += v);
        }
        for ((c, s), &n) in centres.iter_mut().zip(sums).zip(&counts) {
            if n > 0 {
                *c = s.into_iter().map(|v| v / n as f64).collect();
            }
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_span_the_range_in_log_odds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s: Vec<f64> = (0..2_000).map(|_| draw_share(&mut rng)).collect();
        assert!(s
            .iter()
            .all(|&v| (SHARE_RANGE.0..=SHARE_RANGE.1).contains(&v)));
        // Uniform in log-odds: a quarter below 5 % (log-odds −2.94 of the range ±5.29), the median near ½.
        let below = s.iter().filter(|&&v| v < 0.05).count() as f64 / s.len() as f64;
        assert!((0.18..0.27).contains(&below), "{below}");
        let mid = s.iter().filter(|&&v| v < 0.5).count() as f64 / s.len() as f64;
        assert!((0.45..0.55).contains(&mid), "{mid}");
    }

    #[test]
    fn counts_follow_the_share_within_what_exists() {
        assert_eq!(counts_at_share(100, 0.1, 500, 500, true), (90, 10));
        assert_eq!(counts_at_share(100, 0.001, 500, 500, true), (99, 1));
        assert_eq!(counts_at_share(100, 0.9, 500, 30, true), (70, 30));
        assert_eq!(counts_at_share(100, 0.001, 500, 500, false), (100, 0));
        assert_eq!(counts_at_share(100, 0.5, 0, 500, false), (0, 50));
    }

    #[test]
    fn clusters_separate_distinct_groups_and_cover_every_row() {
        // Two well-separated groups of 200 rows each.
        let x = Array2::from_shape_fn((400, 3), |(i, j)| {
            (if i < 200 { 0.0 } else { 100.0 }) + ((i * 7 + j * 3) % 11) as f64
        });
        let rows: Vec<usize> = (0..400).collect();
        let c = clusters(&x, &rows, 2, 9);
        assert_eq!(c.len(), 2);
        let mut all: Vec<usize> = c.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, rows);
        for g in &c {
            let low = g.iter().filter(|&&r| r < 200).count();
            assert!(low == 0 || low == g.len(), "a cluster mixes the groups");
        }
        assert_eq!(c, clusters(&x, &rows, 2, 9), "same seed, same clusters");
    }

    #[test]
    fn narrow_pool_takes_one_or_two_groups_or_none() {
        let groups = vec![vec![1, 2, 3], vec![10, 11], vec![20]];
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..50 {
            let rows = narrow_pool(&mut rng, &groups, 1).unwrap();
            let touched = groups
                .iter()
                .filter(|g| g.iter().any(|r| rows.contains(r)))
                .count();
            assert!((1..=2).contains(&touched));
        }
        assert!(narrow_pool(&mut rng, &groups, 6).is_none());
    }
}
