//! Checks of xtask.toml that need the place of a value the typed shape does not keep: tool
//! pins that are versions, timeouts of known tools, display names that are unique and printable,
//! and (in `load` only, which may look at the disk) component sources that exist. Each failure
//! is a usage error with file:line:col, found when the registry loads rather than when a tool
//! runs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Result;
use indexmap::IndexMap;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use unicode_normalization::UnicodeNormalization;

use super::{Config, Locator, SourceKind};

/// The same file read again, keeping the place of every value these checks look at.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Places {
    tools: IndexMap<String, Spanned<toml::Value>>,
    timeouts: IndexMap<String, Spanned<u64>>,
    components: IndexMap<String, ComponentPlaces>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ComponentPlaces {
    display_name: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
}

fn places(text: &str, at: &Locator<'_>) -> Result<Places> {
    // The typed parse already accepted this text; a value it took that this lenient shape
    // cannot hold is still the file's mistake, named with its place.
    toml::from_str(text).map_err(|error| super::toml_error(&error, at))
}

/// A version as pip accepts it after `==`: release numbers with optional pre, post and dev
/// parts. Anything else (a marker, a second requirement, shell text) would reach pip's argv.
fn version() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?$")
            .expect("valid regex")
    })
}

/// Characters that make two names look alike or make a name render differently from its
/// bytes: controls, bidirectional overrides and isolates, and zero-width characters.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
            | '\u{061C}' | '\u{180E}' | '\u{FEFF}' | '\u{00AD}')
}

/// The form two display names are compared in: NFKC, then lowercase (so `Ｃarbon`, `carbon`
/// and `CARBON` are one name).
fn comparable(name: &str) -> String {
    name.nfkc().collect::<String>().to_lowercase()
}

/// The names of the tool table, for error messages; with the companions when `pins`.
fn table_names(pins: bool) -> String {
    let names: Vec<&str> = crate::tools::table::TOOLS
        .iter()
        .flat_map(|spec| {
            spec.distributions()
                .filter(move |d| pins || *d == spec.name)
        })
        .chain(pins.then_some("uv"))
        .collect();
    names.join(", ")
}

/// The checks that need only the text: pins, timeouts and display names.
pub(super) fn check_text(text: &str, at: &Locator<'_>) -> Result<()> {
    let places = places(text, at)?;
    for (tool, pin) in &places.tools {
        let ok = pin
            .get_ref()
            .as_str()
            .is_some_and(|v| version().is_match(v));
        if !ok {
            return Err(at.error(
                pin,
                format!(
                    "tools.{tool} = {} is not a version: pin a release such as \"1.2.3\"",
                    pin.get_ref()
                ),
            ));
        }
    }
    let known = |name: &str| {
        crate::tools::table::TOOLS
            .iter()
            .any(|spec| spec.distributions().any(|d| d == name))
    };
    for (name, pin) in &places.tools {
        if name != "uv" && !known(name) {
            return Err(at.error(
                pin,
                format!(
                    "tools.{name} is not a tool xtask runs: pin one of {}",
                    table_names(true)
                ),
            ));
        }
    }
    for (name, seconds) in &places.timeouts {
        let tool = crate::tools::table::TOOLS.iter().any(|s| s.name == name);
        if !tool && !matches!(name.as_str(), "setup" | "compose") {
            return Err(at.error(
                seconds,
                format!(
                    "timeouts.{name} is not a tool xtask runs: give one of {}, setup or compose",
                    table_names(false)
                ),
            ));
        }
    }
    super::values::check(text, at)?;
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (name, component) in &places.components {
        let Some(display) = &component.display_name else {
            continue;
        };
        let text = display.get_ref();
        if text.trim().is_empty() {
            return Err(at.error(
                display,
                format!("component `{name}` has an empty display_name"),
            ));
        }
        if let Some(bad) = text.chars().find(|c| invisible(*c)) {
            return Err(at.error(
                display,
                format!(
                    "the display_name of component `{name}` contains the invisible or control character U+{:04X}: write it with visible characters only",
                    bad as u32
                ),
            ));
        }
        if let Some(first) = seen.insert(comparable(text), name) {
            return Err(at.error(
                display,
                format!(
                    "component `{name}` has the display_name \"{}\", which component `{first}` already uses (names are compared ignoring case and Unicode compatibility forms)",
                    text.escape_debug()
                ),
            ));
        }
    }
    Ok(())
}

/// The checks that look at the disk: every component's source exists, as a folder for a
/// package and a file for a module. Test paths are not checked here: a stale one is a warning
/// and a failed tests gate, so the registry still loads.
pub(super) fn check_sources(text: &str, at: &Locator<'_>, config: &Config) -> Result<()> {
    let places = places(text, at)?;
    for component in &config.components {
        let path = config.project_path(&component.source);
        let exists = match component.source_kind {
            SourceKind::Package => path.is_dir(),
            SourceKind::Module => path.is_file(),
        };
        if exists {
            continue;
        }
        let what = match component.source_kind {
            SourceKind::Package => "folder",
            SourceKind::Module => "file",
        };
        let message = format!(
            "component `{}`: source `{}` is not a {what} under {}: fix the path",
            component.name,
            component.source,
            display(&config.project.root)
        );
        return Err(
            match places
                .components
                .get(&component.name)
                .and_then(|c| c.source.as_ref())
            {
                Some(source) => at.error(source, message),
                None => crate::errors::usage(format!("{}: {message}", at.path.display())),
            },
        );
    }
    Ok(())
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_accepted_and_anything_else_is_not() {
        for ok in [
            "0.17.5",
            "1.1.414",
            "9.2.0",
            "1.0rc1",
            "2.0.post1",
            "3.1.dev4",
            "7",
        ] {
            assert!(version().is_match(ok), "{ok}");
        }
        for bad in [
            "0.17.5; rm -rf /",
            ">=1.0",
            "1.0 ",
            "latest",
            "",
            "1..2",
            "1.0\n",
        ] {
            assert!(!version().is_match(bad), "{bad:?}");
        }
    }

    #[test]
    fn look_alike_names_compare_equal() {
        assert_eq!(comparable("Carbon"), comparable("CARBON"));
        assert_eq!(comparable("Carbon"), comparable("Ｃａｒｂｏｎ"));
        assert_ne!(comparable("Carbon"), comparable("Carbons"));
        assert!(invisible('\u{202E}') && invisible('\u{200B}') && invisible('\u{7}'));
        assert!(!invisible('é') && !invisible(' '));
    }
}
