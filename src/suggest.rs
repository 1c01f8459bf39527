//! Suggestions for a misspelt key: the known key nearest to what was written. The lab file
//! and the CNI plugin's configuration both use it, so that a near miss is answered alike.

/// The known key nearest to `key`, if within edit distance 2.
pub(crate) fn suggestion<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_near_misses_only() {
        assert_eq!(edit_distance("mut", "mtu"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let link = ["endpoints", "mtu", "tx-checksum", "vni", "type"];
        assert_eq!(suggestion("endpoint", &link), Some("endpoints"));
        assert_eq!(suggestion("tx_checksum", &link), Some("tx-checksum"));
        assert_eq!(suggestion("bandwidth", &link), None);
    }
}
