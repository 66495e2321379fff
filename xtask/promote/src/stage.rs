//! The maturity stages a component moves through, in order: Development -> Staging -> Production.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Development,
    Staging,
    Production,
}

impl Stage {
    /// The stage a promotion from `self` goes to by default; `None` at the top.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Development => Some(Stage::Staging),
            Stage::Staging => Some(Stage::Production),
            Stage::Production => None,
        }
    }

    /// The lowercase identifier used in files, flags and JSON.
    pub fn id(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }

    /// The capitalised name our users write in MATURITY.md and issue titles.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Development => "Development",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

impl FromStr for Stage {
    type Err = String;

    /// Accepts any case of the three names; anything else is refused with the list.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "development" => Ok(Stage::Development),
            "staging" => Ok(Stage::Staging),
            "production" => Ok(Stage::Production),
            _ => Err(format!(
                "unknown stage `{text}`: expected development, staging or production"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_ordered_and_chain() {
        assert!(Stage::Development < Stage::Staging && Stage::Staging < Stage::Production);
        assert_eq!(Stage::Development.next(), Some(Stage::Staging));
        assert_eq!(Stage::Production.next(), None);
    }

    #[test]
    fn parsing_is_case_insensitive_and_strict() {
        assert_eq!("STAGING".parse::<Stage>(), Ok(Stage::Staging));
        assert_eq!(" Production ".parse::<Stage>(), Ok(Stage::Production));
        assert!("prod".parse::<Stage>().is_err());
        assert!("staging2".parse::<Stage>().is_err());
    }
}
