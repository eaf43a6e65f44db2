//! Seeded, stratified row sampling used by the protocols (splits, caps, K-shot supports).
//!
//! Every function takes row indices into a flow table plus that table's binary labels, and a ChaCha8
//! generator, so a protocol run is a pure function of its seed.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Sub-seed `index` of `seed` (the workspace's splitmix mixing; see `metaforest_flows::rng`).
pub fn derive(seed: u64, index: u64) -> u64 {
    metaforest_flows::rng::derive_seed(seed, index)
}

/// A generator for sub-stream `index` of `seed`.
pub fn rng(seed: u64, index: u64) -> ChaCha8Rng {
    metaforest_flows::rng::rng_for(seed, index)
}

/// `rows` split by label: (benign, attack), each in the input order.
pub fn by_label(rows: &[usize], labels: &[u8]) -> [Vec<usize>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for &r in rows {
        out[usize::from(labels[r] != 0)].push(r);
    }
    out
}

/// Stratified split: each label's rows are shuffled and the first `round(fraction · n)` go to the first part.
/// Both parts come back sorted.
pub fn stratified_split(
    rows: &[usize],
    labels: &[u8],
    fraction: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for mut class_rows in by_label(rows, labels) {
        class_rows.shuffle(rng);
        let n_a = ((class_rows.len() as f64) * fraction).round() as usize;
        a.extend_from_slice(&class_rows[..n_a]);
        b.extend_from_slice(&class_rows[n_a..]);
    }
    a.sort_unstable();
    b.sort_unstable();
    (a, b)
}

/// At most `cap` rows, keeping the class proportions (each class keeps at least one row when it had one).
/// Returns `rows` sorted and unchanged when it is already small enough.
pub fn stratified_cap(
    rows: &[usize],
    labels: &[u8],
    cap: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    if rows.len() <= cap {
        let mut v = rows.to_vec();
        v.sort_unstable();
        return v;
    }
    let mut out = Vec::with_capacity(cap);
    let total = rows.len() as f64;
    for mut class_rows in by_label(rows, labels) {
        if class_rows.is_empty() {
            continue;
        }
        let take = ((class_rows.len() as f64 / total) * cap as f64)
            .round()
            .max(1.0) as usize;
        class_rows.shuffle(rng);
        out.extend_from_slice(&class_rows[..take.min(class_rows.len())]);
    }
    out.sort_unstable();
    out
}

/// `k` rows of each label drawn without replacement (benign first, then attack), or `None` when a label
/// has fewer than `k` rows.
pub fn k_per_class(
    rows: &[usize],
    labels: &[u8],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Option<Vec<usize>> {
    let mut out = Vec::with_capacity(2 * k);
    for class_rows in by_label(rows, labels) {
        if class_rows.len() < k {
            return None;
        }
        out.extend(class_rows.choose_multiple(rng, k).copied());
    }
    Some(out)
}

/// Rows of `rows` that are not in `exclude` (both need not be sorted).
pub fn without(rows: &[usize], exclude: &[usize]) -> Vec<usize> {
    let ex: std::collections::HashSet<usize> = exclude.iter().copied().collect();
    rows.iter().copied().filter(|r| !ex.contains(r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cap_and_draw_are_stratified_and_seeded() {
        let labels: Vec<u8> = (0..1000).map(|i| u8::from(i % 10 == 0)).collect();
        let rows: Vec<usize> = (0..1000).collect();
        let (a, b) = stratified_split(&rows, &labels, 0.5, &mut rng(1, 0));
        assert_eq!(a.len() + b.len(), 1000);
        assert_eq!(by_label(&a, &labels)[1].len(), 50);
        assert!(without(&a, &b).len() == a.len());
        let (a2, _) = stratified_split(&rows, &labels, 0.5, &mut rng(1, 0));
        assert_eq!(a, a2);
        let c = stratified_cap(&rows, &labels, 200, &mut rng(2, 0));
        assert_eq!(c.len(), 200);
        assert_eq!(by_label(&c, &labels)[1].len(), 20);
        let s = k_per_class(&rows, &labels, 5, &mut rng(3, 0)).unwrap();
        assert_eq!(s.len(), 10);
        assert!(s[..5].iter().all(|&r| labels[r] == 0) && s[5..].iter().all(|&r| labels[r] == 1));
        assert!(k_per_class(&rows, &labels, 101, &mut rng(3, 0)).is_none());
    }
}
