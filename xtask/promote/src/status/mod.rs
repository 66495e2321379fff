//! The weekly component-status report: the model (`model`), built from one engine run over
//! every component (`collect`), the rollout waves (`waves`), the week-over-week history
//! (`history`), promotion records verified (`records`), and its renderers (`json`, `markdown`, `html` with `svg` charts).

pub mod collect;
pub mod history;
pub mod html;
pub mod json;
pub mod layout;
pub mod markdown;
pub mod model;
pub mod predict;
pub mod records;
pub mod svg;
pub mod view;
pub mod waves;

#[cfg(test)]
pub mod fixture;

pub use model::StatusReport;
