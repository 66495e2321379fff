//! The one Markdown escaper: text from tools, users and repositories made inert for
//! GitHub-flavoured Markdown, so it reads as typed and can neither format, link, break a
//! table, hide itself, nor notify anyone. Every Markdown writer (the summary, MATURITY.md's
//! managed section, the status report, the promotion request and its comment) uses it.
//!
//! What GitHub does with the output decides the rules. Its mention filter runs on the text
//! nodes of the rendered HTML, where entities are already decoded, so `&#64;name` would still
//! notify `name`; a zero-width space between `@` and the name (written as `&#8203;`) breaks
//! the pattern while the text reads the same. Mentions, entities and HTML inside code spans
//! are never interpreted, so code spans get only what would end or split them.

/// Characters that change how text reads without being seen: zero-width spaces, joiners and
/// marks, bidirectional embeddings, overrides and isolates, the word joiner and invisible
/// operators, and the byte-order mark. They are dropped, never shown.
pub fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// `text` as one line of at most `limit` characters (then `…`): line breaks and the
/// whitespace around them become one space, other control characters a space, invisible
/// characters nothing.
fn one_line(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit.saturating_mul(2)));
    let mut count = 0;
    let parts = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty());
    for (i, part) in parts.enumerate() {
        for c in std::iter::once(' ')
            .skip(usize::from(i == 0))
            .chain(part.chars())
        {
            if invisible(c) {
                continue;
            }
            if count == limit {
                out.push('…');
                return out;
            }
            count += 1;
            out.push(if c.is_control() { ' ' } else { c });
        }
    }
    out
}

/// Whether `line` would start a block where it begins a line (a list item's text begins one
/// too), and at which character to put a backslash to keep it a paragraph: `#` (a heading),
/// `-`, `+` or `=` before a space or alone, or repeated (a list, a rule, a setext underline),
/// `1.` or `1)` before a space or alone (an ordered list). `*` is escaped everywhere, `>`
/// where the text begins a line.
fn block_start(line: &str) -> Option<usize> {
    let chars: Vec<char> = line.chars().collect();
    let ends_marker = |at: usize| chars.get(at).is_none_or(|c| *c == ' ');
    match chars.first()? {
        '#' => Some(0),
        &c @ ('-' | '+' | '=') => {
            let repeated = chars.iter().all(|&x| x == c || x == ' ');
            (ends_marker(1) || repeated).then_some(0)
        }
        c if c.is_ascii_digit() => {
            let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
            (matches!(chars.get(digits), Some('.' | ')')) && ends_marker(digits + 1))
                .then_some(digits)
        }
        _ => None,
    }
}

/// Appends `line` (already one line) with every character that Markdown or GitHub would
/// interpret escaped; `at_start` says the text begins a line.
fn escape_into(out: &mut String, line: &str, at_start: bool) {
    let chars: Vec<char> = line.chars().collect();
    let block = if at_start { block_start(line) } else { None };
    let alnum = |j: Option<usize>| {
        j.and_then(|j| chars.get(j))
            .is_some_and(|c| c.is_alphanumeric())
    };
    for (i, &c) in chars.iter().enumerate() {
        match c {
            _ if block == Some(i) => {
                out.push('\\');
                out.push(c);
            }
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // An `_` between two letters or digits can neither open nor close emphasis, so
            // identifiers keep their plain spelling.
            '_' if !(alnum(i.checked_sub(1)) && alnum(Some(i + 1))) => out.push_str("\\_"),
            '<' => out.push_str("&lt;"),
            // `>` starts a block quote only where a line begins; `<` is always escaped, so no
            // tag or autolink is open for it to close anywhere else (`Development -> Staging`
            // stays as typed in the raw Markdown).
            '>' if at_start && i == 0 => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@&#8203;"),
            c => out.push(c),
        }
    }
}

/// Tool or user text as literal, one-line Markdown: safe in a table cell, a list item, a
/// heading or a sentence.
pub fn text(text: &str) -> String {
    inline(text, usize::MAX)
}

/// [`text`] of at most `limit` characters of `text` (then `…`).
pub fn inline(text: &str, limit: usize) -> String {
    let line = one_line(text, limit);
    let mut out = String::with_capacity(line.len() + 8);
    escape_into(&mut out, &line, true);
    out
}

/// Text to put between the single backticks of a code span a template writes (a path, a
/// command, a component name): one line, and backticks become `'` (one would end the span).
/// Nothing else is escaped, because inside a code span an entity or a backslash would show as
/// typed, and GitHub mentions no one from a code span.
pub fn code(text: &str) -> String {
    one_line(text, usize::MAX).replace('`', "'")
}

/// Where [`prose`] text goes: in a table cell a `|` splits the row even inside a code span
/// (GitHub unescapes `\|` there), elsewhere `\|` inside a code span would show its backslash.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Place {
    Line,
    Cell,
}

/// Our own sentences that quote tool text in code spans (blockers, fixes, recommendations):
/// the code spans stay code spans, with only what would split a table row escaped in them;
/// everything outside them is escaped as [`text`]. An unpaired backtick is shown as typed.
/// At most `limit` characters of `text` are kept (then `…`).
pub fn prose(text: &str, place: Place, limit: usize) -> String {
    let line = one_line(text, limit);
    let pieces: Vec<&str> = line.split('`').collect();
    // Backticks pair up from the left; a last one without a partner is text.
    let paired = (pieces.len() - 1) & !1;
    let mut out = String::with_capacity(line.len() + 8);
    for (i, piece) in pieces.iter().enumerate() {
        let inside = i % 2 == 1 && i < paired;
        if i > 0 {
            out.push_str(if i <= paired { "`" } else { "\\`" });
        }
        if inside {
            match place {
                Place::Cell => out.push_str(&piece.replace('|', "\\|")),
                Place::Line => out.push_str(piece),
            }
        } else {
            escape_into(&mut out, piece, i == 0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_break_a_table_or_start_html() {
        assert_eq!(text("a | b\nc <d> & e"), "a \\| b c &lt;d> &amp; e");
        assert_eq!(
            text("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)>"
        );
    }

    #[test]
    fn a_request_field_cannot_fake_a_section_or_an_element() {
        assert_eq!(
            inline("a|b\n### Component Name\r<img src=x>@octocat\u{202E}", 100),
            "a\\|b ### Component Name &lt;img src=x>@&#8203;octocat"
        );
    }

    #[test]
    fn line_breaks_and_the_space_around_them_become_one_space() {
        assert_eq!(text("  first \r\n\r\n  second\n"), "first second");
        assert_eq!(text("tab\there"), "tab here");
        assert_eq!(text("\n\n"), "");
    }

    #[test]
    fn formatting_characters_are_shown_as_typed() {
        assert_eq!(
            text("`code` *bold* ~strike~"),
            "\\`code\\` \\*bold\\* \\~strike\\~"
        );
        assert_eq!(text("[click](https://x)"), "\\[click\\](https://x)");
        assert_eq!(text("C:\\path"), "C:\\\\path");
        // Underscores inside identifiers cannot emphasise; at a word's edge they can.
        assert_eq!(text("my_component _private_"), "my_component \\_private\\_");
    }

    #[test]
    fn block_syntax_at_the_start_is_escaped() {
        assert_eq!(text("# title"), "\\# title");
        assert_eq!(text("- item"), "\\- item");
        assert_eq!(text("+ item"), "\\+ item");
        assert_eq!(text("==="), "\\===");
        assert_eq!(text("> quote"), "&gt; quote");
        assert_eq!(text("12. twelfth"), "12\\. twelfth");
        assert_eq!(text("3) third"), "3\\) third");
        // Only at the start: in the middle they are plain text.
        assert_eq!(text("a # b - c 1. d"), "a # b - c 1. d");
        assert_eq!(text("2026 is a year"), "2026 is a year");
        // Numbers, versions and words that only begin like a block stay as they are.
        assert_eq!(text("72.06% of lines"), "72.06% of lines");
        assert_eq!(text("9.9.9"), "9.9.9");
        assert_eq!(text("-v flag"), "-v flag");
        assert_eq!(text("---"), "\\---");
        assert_eq!(text("1."), "1\\.");
        assert_eq!(text("#tag"), "\\#tag");
    }

    #[test]
    fn mentions_notify_no_one_and_read_the_same() {
        assert_eq!(text("@octocat"), "@&#8203;octocat");
        assert_eq!(text("ask @org/team"), "ask @&#8203;org/team");
        // What GitHub shows: the entity decodes to a zero-width space, so the visible text is
        // unchanged, and the mention pattern (`@` then a name character) no longer matches.
        let shown = text("hi @octocat").replace("&#8203;", "\u{200B}");
        assert_eq!(shown.replace('\u{200B}', ""), "hi @octocat");
        let mention = regex::Regex::new(r"(^|\W)@[A-Za-z0-9]").unwrap();
        assert!(!mention.is_match(&shown), "{shown}");
    }

    #[test]
    fn invisible_and_direction_characters_are_dropped() {
        let sneaky = "a\u{200B}b\u{200C}c\u{200D}d\u{200E}e\u{200F}f\u{202A}g\u{202E}h\u{2066}i\u{2069}j\u{FEFF}k\u{2060}l";
        assert_eq!(text(sneaky), "abcdefghijkl");
        // A zero-width space typed after `@` cannot smuggle a real mention through either.
        assert_eq!(text("@\u{200B}octocat"), "@&#8203;octocat");
    }

    #[test]
    fn inline_cuts_at_the_limit() {
        assert_eq!(inline("abcdef", 3), "abc…");
        assert_eq!(inline("abc", 3), "abc");
        // The limit counts characters as shown, before escaping.
        assert_eq!(inline("<<<<", 2), "&lt;&lt;…");
    }

    #[test]
    fn code_text_cannot_end_its_span() {
        assert_eq!(code("src/@types/a`b.py\nx"), "src/@types/a'b.py x");
        assert_eq!(code("a\u{202E}b <c>"), "ab <c>");
    }

    #[test]
    fn prose_keeps_our_code_spans_and_escapes_the_rest() {
        assert_eq!(
            prose("mark `# nosec <id>` <here>", Place::Line, 100),
            "mark `# nosec <id>` &lt;here>"
        );
        assert_eq!(prose("`a|b` c|d", Place::Cell, 100), "`a\\|b` c\\|d");
        assert_eq!(prose("`a|b` c|d", Place::Line, 100), "`a|b` c\\|d");
        // An unpaired backtick is shown as typed and escapes nothing after it.
        assert_eq!(prose("`a` b ` <c>", Place::Line, 100), "`a` b \\` &lt;c>");
        assert_eq!(prose("one ` two", Place::Line, 100), "one \\` two");
        assert_eq!(prose("# @x", Place::Line, 100), "\\# @&#8203;x");
        assert_eq!(prose("run `a b c`", Place::Line, 7), "run \\`a …");
    }
}
