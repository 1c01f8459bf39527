//! Suggestions for a misspelt key: the known key nearest to what was written. The lab file
//! and the CNI plugin's configuration both use it, so that a near miss is answered alike.

/// The known key nearest to `key`: within edit distance 1 for a key of up to 5 characters,
/// 2 for a longer one (a swap of two neighbours counts 1: `mut` is `mtu`); between equally near
/// keys, the one sharing the longest start (`bind` is `binds`, not `kind`). Callers pass only
/// the keys valid where the typo stands.
pub(crate) fn suggestion<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    let most = if key.chars().count() <= 5 { 1 } else { 2 };
    let shared = |k: &str| {
        key.chars()
            .zip(k.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    known
        .iter()
        .map(|k| (edit_distance(&key, k), *k))
        .filter(|(d, _)| *d <= most)
        .min_by_key(|(d, k)| (*d, std::cmp::Reverse(shared(k))))
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters each count 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_near_misses_only() {
        assert_eq!(edit_distance("mut", "mtu"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let link = ["endpoints", "mtu", "tx-checksum", "vni", "type"];
        assert_eq!(suggestion("endpoint", &link), Some("endpoints"));
        assert_eq!(suggestion("tx_checksum", &link), Some("tx-checksum"));
        assert_eq!(suggestion("bandwidth", &link), None);
        // Ties go to the longer shared start; short keys take one edit only.
        assert_eq!(suggestion("bind", &["kind", "binds"]), Some("binds"));
        assert_eq!(suggestion("binds", &["kind", "host"]), None);
        assert_eq!(suggestion("kinds", &["nodes", "links", "mirrors"]), None);
    }
}
