//! The fingerprint of a flagged line: what identifies a finding across commits when lines
//! above it were added or removed. Pure.

use crate::digest::Digest;

/// The first characters of the digest: enough to tell lines of one file apart.
const LENGTH: usize = 16;

/// A digest of `line` with its whitespace normalised (leading and trailing removed, runs
/// collapsed to one space), so re-indenting a block or moving it keeps its findings matched.
pub fn of_line(line: &str) -> String {
    let normalised = line.split_whitespace().collect::<Vec<_>>().join(" ");
    of_text("line", &normalised)
}

/// For a finding about no line: its message stands in for the code it flags.
pub fn of_message(message: &str) -> String {
    of_text("message", message)
}

fn of_text(kind: &str, text: &str) -> String {
    let mut material = Vec::with_capacity(kind.len() + 1 + text.len());
    material.extend_from_slice(kind.as_bytes());
    material.push(0);
    material.extend_from_slice(text.as_bytes());
    let mut hex = Digest::of(&material).to_string();
    hex.truncate(LENGTH);
    hex
}

/// The text of 1-based `line` in `source`, if it has that many lines.
pub fn line_text(source: &str, line: u32) -> Option<&str> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    source.lines().nth(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_does_not_change_a_line_fingerprint() {
        assert_eq!(of_line("    x = foo( 1 )"), of_line("x = foo( 1 )\t"));
        assert_eq!(of_line("a  =  b"), of_line("a = b"));
        assert_ne!(of_line("a = b"), of_line("a = c"));
    }

    #[test]
    fn lines_and_messages_never_collide() {
        assert_ne!(of_line("text"), of_message("text"));
        assert_eq!(of_line("x").len(), LENGTH);
    }

    #[test]
    fn line_text_is_one_based_and_bounded() {
        let source = "one\ntwo\nthree";
        assert_eq!(line_text(source, 1), Some("one"));
        assert_eq!(line_text(source, 3), Some("three"));
        assert_eq!(line_text(source, 0), None);
        assert_eq!(line_text(source, 4), None);
    }
}
