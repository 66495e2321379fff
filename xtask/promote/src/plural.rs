//! Counts in words: `1 finding`, `2 findings`, `1 dependency`, `3 dependencies`. Every view
//! (terminal, JSON summaries, Markdown, HTML, the issue body) spells a count through here, so
//! no report says `1 findings`.

/// `count` and the noun in the form that count takes: `count(1, "blocker")` is `1 blocker`,
/// `count(2, "dependency")` is `2 dependencies`. The last word of a phrase is the one that
/// changes (`2 dynamic imports`).
pub fn count(count: impl TryInto<u64>, noun: &str) -> String {
    let count = count.try_into().unwrap_or(u64::MAX);
    format!("{count} {}", of(count, noun))
}

/// `noun` in the form `count` takes, without the number.
pub fn of(count: u64, noun: &str) -> String {
    if count == 1 {
        noun.to_owned()
    } else {
        plural(noun)
    }
}

/// `count` and whichever of two spellings it takes, for phrases whose changing word is not
/// the last (`1 file to format`, `2 files to format`).
pub fn count_as(count: impl TryInto<u64>, one: &str, many: &str) -> String {
    let count = count.try_into().unwrap_or(u64::MAX);
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The template filter: `{{ blockers | length | count("blocker") }}`.
pub fn filter(count: u64, noun: String) -> String {
    self::count(count, &noun)
}

/// The plural of an English noun or a phrase ending in one, by the regular rules our
/// vocabulary needs: `-y` after a consonant becomes `-ies`, `-s`, `-x`, `-z`, `-ch`, `-sh`
/// take `-es`, everything else `-s`.
fn plural(noun: &str) -> String {
    let (head, last) = match noun.rsplit_once(' ') {
        Some((head, last)) => (format!("{head} "), last),
        None => (String::new(), noun),
    };
    let lower = last.to_ascii_lowercase();
    let word = if let Some(stem) = last.strip_suffix('y')
        && !stem.is_empty()
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| lower.ends_with(end))
    {
        format!("{last}es")
    } else {
        format!("{last}s")
    };
    format!("{head}{word}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1u64, "finding"), "1 finding");
        assert_eq!(count(0u64, "finding"), "0 findings");
        assert_eq!(count(2usize, "blocker"), "2 blockers");
        assert_eq!(count(1u64, "dependency"), "1 dependency");
        assert_eq!(count(3u64, "dependency"), "3 dependencies");
        assert_eq!(count(2u64, "day"), "2 days");
        assert_eq!(count(2u64, "miss"), "2 misses");
        assert_eq!(count(2u64, "dynamic import"), "2 dynamic imports");
        assert_eq!(count(4u64, "failed test"), "4 failed tests");
        assert_eq!(
            count_as(1u64, "file to format", "files to format"),
            "1 file to format"
        );
        assert_eq!(of(5, "entry"), "entries");
    }
}
