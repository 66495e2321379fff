//! The one stream of events a run emits. Progress bars, plain CI lines and anything else that
//! watches a run are listeners; the code that runs tools does not know about any of them.

use crate::tools::StepKind;
use crate::tools::result::StepResult;

#[derive(Debug)]
pub enum Event<'a> {
    /// The run knows how many steps it has, for progress totals.
    Planned { steps: usize },
    /// A step's result is being looked for or computed.
    StepStarted { component: &'a str, kind: StepKind },
    /// A tool process is starting for these components (one, or a batch).
    ToolStarted {
        kind: StepKind,
        components: &'a [String],
        command: &'a str,
    },
    StepFinished {
        component: &'a str,
        result: &'a StepResult,
    },
    /// Something worth telling the user that is not a step result (a cache problem, say).
    Warning { message: &'a str },
    /// Something wrong that is not a step result: a cached answer that fresh runs contradict.
    Error { message: &'a str },
    /// What an audit of the cache is doing (`cache audit`, `[cache] audit_sample`).
    Auditing { message: &'a str },
}

pub trait Listener: Sync {
    fn event(&self, event: &Event<'_>);
}
