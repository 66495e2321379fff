//! The maturity model as our users keep it in MATURITY.md files: reading a component's stage
//! and history (`parse`), the managed section records rewrite (`managed`), recording promotions
//! and demotions (`record`), and the observation rule (`observation`).

pub mod managed;
pub mod observation;
pub mod parse;
pub mod record;

use std::borrow::Cow;
use std::collections::HashMap;

use anyhow::Result;
use chrono::NaiveDateTime;

use crate::config::{Component, Config};
use crate::vocab::Stage;

pub use parse::parse_stage;

/// What a component's MATURITY.md says, or Development when there is none.
#[derive(Debug, Clone)]
pub struct MaturityState {
    pub stage: Stage,
    /// The file's text, when it exists.
    pub text: Option<String>,
    /// Set when the stage was assumed rather than read.
    pub warning: Option<String>,
}

impl MaturityState {
    /// When the component last entered `stage`, from its history.
    pub fn entered(&self, stage: Stage) -> Option<NaiveDateTime> {
        self.text
            .as_deref()
            .and_then(|text| parse::entered(text, stage))
    }
}

pub fn read(config: &Config, component: &Component) -> Result<MaturityState> {
    let path = config.project_path(&component.maturity);
    let what = format!("the MATURITY.md of {}", component.name);
    let text = match crate::input_file::read_text(&path, &what, crate::input_file::DOCUMENT_MAX)? {
        Some(text) => text,
        None => {
            return Ok(MaturityState {
                stage: Stage::Development,
                text: None,
                warning: Some(format!(
                    "{} has no {}: taking its stage as Development",
                    component.name, component.maturity
                )),
            });
        }
    };
    if let Some(defect) = parse::defect(parse::strip_bom(&text)) {
        return Err(crate::errors::usage(format!(
            "{} cannot be read: {defect}",
            path.display()
        )));
    }
    match parse_stage(&text) {
        Some(stage) => Ok(MaturityState {
            stage,
            text: Some(text),
            warning: None,
        }),
        None => Ok(MaturityState {
            stage: Stage::Development,
            text: Some(text),
            warning: Some(format!(
                "{} declares no stage (expected a line like `**Current Stage**: Development`): taking Development",
                component.maturity
            )),
        }),
    }
}

/// The maturity states of a set of components, each file read once per command: the status
/// report and the dependency gates of every component share them.
#[derive(Debug, Clone, Default)]
pub struct Book {
    states: HashMap<String, MaturityState>,
}

impl Book {
    /// Reads the MATURITY.md of each of `components` and of their direct dependencies.
    pub fn read<'c>(
        config: &'c Config,
        components: impl IntoIterator<Item = &'c Component>,
    ) -> Result<Book> {
        let mut book = Book::default();
        for component in components {
            book.add(config, component)?;
            for name in &component.depends_on {
                book.add(config, config.require_component(name)?)?;
            }
        }
        Ok(book)
    }

    fn add(&mut self, config: &Config, component: &Component) -> Result<()> {
        if !self.states.contains_key(&component.name) {
            let state = read(config, component)?;
            self.states.insert(component.name.clone(), state);
        }
        Ok(())
    }

    /// A book of given texts, for tests of what reads it.
    #[cfg(test)]
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Book {
        Book {
            states: texts
                .into_iter()
                .map(|(name, text)| {
                    let state = MaturityState {
                        stage: parse_stage(text).unwrap_or(Stage::Development),
                        text: Some(text.to_owned()),
                        warning: None,
                    };
                    (name.to_owned(), state)
                })
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&MaturityState> {
        self.states.get(name)
    }

    /// The state of `component`, read now if the book does not have it yet.
    pub fn state(&self, config: &Config, component: &Component) -> Result<Cow<'_, MaturityState>> {
        match self.get(&component.name) {
            Some(state) => Ok(Cow::Borrowed(state)),
            None => read(config, component).map(Cow::Owned),
        }
    }
}
