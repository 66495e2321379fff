//! The first-party import graph, read with a real Python parser: `parse` turns one file into its
//! imports, `graph` links the project's files into a graph with closure queries, `components`
//! maps it onto the registry's components (for `affected` and the dependencies gate).

pub mod components;
pub mod graph;
pub mod parse;
pub mod parse_cache;

pub use graph::{Graph, project, python_files};
pub use parse::{parse, resolve};
