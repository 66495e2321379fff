//! Promotion requests as GitHub issues: the form (one definition), the issue form YAML, the
//! issue body `cargo xtask issue` writes, the parser and checks of `validate-request`, and the
//! comment it leaves. Everything here is pure; the commands do the IO.

pub mod body;
pub mod comment;
pub mod form;
pub mod issue_form;
pub mod parse;
pub mod validate;
