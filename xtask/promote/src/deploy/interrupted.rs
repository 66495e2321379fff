//! The deploy's own "stopped by Ctrl-C" error: callers that owe a rollback or a teardown look
//! for it in an error's chain instead of failing on it.

/// A run stopped by Ctrl-C; callers that owe a rollback or a teardown look for it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

pub fn error() -> anyhow::Error {
    anyhow::Error::new(Interrupted)
}

pub fn is(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<Interrupted>().is_some())
}
