//! Python imports for `init`'s dependency inference: the project's real parser
//! (`crate::imports`, tree-sitter-python), kept under this name for `infer`.

pub use crate::imports::{parse, resolve};
