//! Continuous verification of the cache (`cache audit`, `[cache] audit_sample`): cache hits run
//! again fresh, through the engine's own run path with the cache off, and their figures are
//! compared with what the cache answered. A cached answer that fresh runs do not give on
//! unchanged inputs is an error, and its entry is evicted. A step whose fresh runs disagree
//! with each other is flaky: its entry is evicted and a mark makes it run fresh, unstored,
//! until its inputs change.
//!
//! "Unchanged inputs" is checked, not assumed: after the fresh runs the step's key is computed
//! again and must find the same entry (for an observed step, the same read set, still
//! matching). A verdict that differs after the inputs moved is not the cache's fault.

pub mod compare;
pub mod marks;

use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Prepared, Results, RunContext, StepId, observe, parallel, run};
use crate::cache::{Cache, Lookup, ReadSet};
use crate::digest::Digest;
use crate::events::Event;
use crate::tools::result::StepResult;

/// Set once an audit of this process found a cached answer that fresh runs do not give (a
/// mismatch or a flaky step): the process then never exits 0, whatever its gates say.
static FOUND: AtomicBool = AtomicBool::new(false);

/// Whether an audit of this process found a cached answer that fresh runs do not give.
pub fn found_mismatch() -> bool {
    FOUND.load(Ordering::Relaxed)
}

/// The audit's part of a run's context: the flaky marks, read on first use.
#[derive(Default)]
pub struct AuditState {
    marks: OnceLock<marks::Marks>,
}

/// Why `prepared` must run fresh and not be stored: a flaky mark taken on these inputs.
pub(crate) fn flaky(ctx: &RunContext<'_>, prepared: &Prepared<'_>) -> Option<String> {
    let cache = ctx.cache?;
    let marks = ctx
        .audit
        .marks
        .get_or_init(|| marks::Marks::load(cache.dir()));
    let mark = marks.get(&prepared.component.name, prepared.kind.id())?;
    if mark.key != prepared.key {
        return None;
    }
    if let Some(reads) = &mark.reads
        && observe::first_change(&ctx.locator, &ctx.index, reads).is_some()
    {
        return None;
    }
    Some(format!(
        "flaky: `cache audit` ran it fresh twice on these inputs on {} and the runs disagreed \
         ({}); it runs fresh and is not cached until its inputs change",
        mark.at, mark.why
    ))
}

/// Which stored answer a hit came from, so that a wrong one can be evicted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The entry under the declared key.
    Declared(Digest),
    /// A read set in the declared key's manifest, and the result entry it names.
    Observed {
        declared: Digest,
        result: Digest,
        reads: ReadSet,
    },
}

/// A step the cache answers, with the answer and where it is stored.
pub struct Hit {
    pub id: StepId,
    pub cached: StepResult,
    source: Source,
    /// The declared key (a flaky mark holds while it is the same).
    key: Digest,
    /// The declared inputs: files and dependency folders of the key.
    inputs: Vec<String>,
}

/// The steps of `requests` that the cache answers now, with their answers; nothing runs, and
/// steps marked flaky are not hits.
pub fn hits(ctx: &RunContext<'_>, requests: &[StepId]) -> Vec<Hit> {
    let Some(cache) = ctx.cache else {
        return Vec::new();
    };
    let mut tools = super::Tools::new();
    let mut todo = Vec::new();
    for (name, kind) in super::enabled_requests(ctx, requests) {
        if !kind.spec().cached || kind.modifies_files() {
            continue;
        }
        let Some(component) = ctx.config.component(&name) else {
            continue;
        };
        let Ok(tool) = super::resolve(ctx, &mut tools, kind.tool()) else {
            continue;
        };
        let root = &ctx.config.project.root;
        if run::decided_without_running(component, kind, &tool, root).is_none() {
            todo.push((component, kind, tool));
        }
    }
    let prepared: Vec<Prepared<'_>> = parallel::map(&todo, |(component, kind, tool)| {
        super::prepare(ctx, component, *kind, tool.clone())
    });
    parallel::map(&prepared, |p| locate(ctx, cache, p))
        .into_iter()
        .flatten()
        .collect()
}

/// The hit of one prepared step, if the cache answers it.
fn locate(ctx: &RunContext<'_>, cache: &Cache, prepared: &Prepared<'_>) -> Option<Hit> {
    if flaky(ctx, prepared).is_some() {
        return None;
    }
    let source = if prepared.observed {
        let set =
            cache.manifest(&prepared.key).sets.into_iter().find(|set| {
                observe::first_change(&ctx.locator, &ctx.index, &set.reads).is_none()
            })?;
        Source::Observed {
            declared: prepared.key,
            result: set.result,
            reads: set.reads,
        }
    } else {
        Source::Declared(prepared.key)
    };
    let entry = match &source {
        Source::Declared(key) => key,
        Source::Observed { result, .. } => result,
    };
    let Lookup::Hit(cached) = cache.get(entry) else {
        return None;
    };
    let mut inputs: Vec<String> = prepared.files.iter().map(|(f, _)| f.clone()).collect();
    inputs.extend(prepared.trees.iter().map(|(t, _)| format!("{t}/")));
    Some(Hit {
        id: (prepared.component.name.clone(), prepared.kind),
        cached: *cached,
        source,
        key: prepared.key,
        inputs,
    })
}

/// `percent` of `items` (all of them from 100 up), chosen at random: every audit, and every
/// run with `[cache] audit_sample`, draws its own, so that over many runs every entry gets
/// checked; a fixed choice would check the same entries run after run and never the others.
/// The count is the share rounded at random (5 % of 30 hits is 1 or 2, 1.5 on average), so
/// small runs audit their share on average too. The items keep their order.
pub fn sample<T>(items: Vec<T>, percent: f64, name: impl Fn(&T) -> String) -> Vec<T> {
    if percent >= 100.0 {
        return items;
    }
    // std's RandomState is seeded from the operating system's randomness once per process.
    let random = std::collections::hash_map::RandomState::new();
    let unit = |text: &str| random.hash_one(text) as f64 / u64::MAX as f64;
    let exact = items.len() as f64 * percent.max(0.0) / 100.0;
    let count = exact.floor() as usize + usize::from(unit("one more") < exact.fract());
    let mut order: Vec<(u64, usize)> = items
        .iter()
        .enumerate()
        .map(|(at, item)| (random.hash_one(name(item)), at))
        .collect();
    order.sort_unstable();
    let mut chosen: Vec<usize> = order.into_iter().take(count).map(|(_, at)| at).collect();
    chosen.sort_unstable();
    items
        .into_iter()
        .enumerate()
        .filter(|(at, _)| chosen.binary_search(at).is_ok())
        .map(|(_, item)| item)
        .collect()
}

/// What an audit found for one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The fresh run's figures are the cached ones.
    Agreed,
    /// Two fresh runs agree with each other and not with the cache: the figures that differ.
    Mismatch(Vec<String>),
    /// Two fresh runs disagree with each other: the figures that differ between them.
    Flaky(Vec<String>),
    /// A fresh run gave no verdict (a tool crashed, timed out or is missing): why.
    NoVerdict(String),
    /// The step's inputs changed while it was audited: nothing to judge.
    InputsChanged,
}

/// One audited hit.
pub struct Audited {
    pub hit: Hit,
    pub judgement: Judgement,
    /// The first fresh run's result.
    pub fresh: Option<StepResult>,
}

/// Runs `hits` fresh and judges each: a differing one runs a second time, to tell a wrong
/// entry (the fresh runs agree) from a flaky step (they do not), and its key is computed
/// again to tell either from inputs that moved. Wrong entries are evicted, flaky steps
/// evicted and marked, and the warm-run records that could hold them are dropped.
pub fn audit(ctx: &RunContext<'_>, hits: Vec<Hit>) -> Vec<Audited> {
    let ids: Vec<StepId> = hits.iter().map(|h| h.id.clone()).collect();
    let mut first = run_fresh(ctx, &ids);
    let differing: Vec<StepId> = hits
        .iter()
        .filter(|hit| {
            first.get(&hit.id).is_some_and(|fresh| {
                fresh.cacheable() && !compare::differences(&hit.cached, fresh, LABELS).is_empty()
            })
        })
        .map(|hit| hit.id.clone())
        .collect();
    let (second, unchanged) = if differing.is_empty() {
        (Results::new(), Vec::new())
    } else {
        ctx.listener.event(&Event::Auditing {
            message: &format!(
                "{} of them differ from the cache; running {} again to tell a wrong entry from a flaky step",
                differing.len(),
                if differing.len() == 1 { "it" } else { "them" }
            ),
        });
        let second = run_fresh(ctx, &differing);
        (second, still_answering(ctx, &hits, &differing))
    };
    let audited: Vec<Audited> = hits
        .into_iter()
        .map(|hit| {
            let fresh = first.remove(&hit.id);
            let judgement = judge(
                &hit,
                fresh.as_ref(),
                second.get(&hit.id),
                unchanged.contains(&hit.id),
            );
            Audited {
                hit,
                judgement,
                fresh,
            }
        })
        .collect();
    act(ctx, &audited);
    audited
}

const LABELS: (&str, &str) = ("cached", "fresh");

/// The engine's run path over `ids`, with the cache off: nothing read from it, nothing stored.
fn run_fresh(ctx: &RunContext<'_>, ids: &[StepId]) -> Results {
    let fresh = ctx.again(None);
    super::run_steps(&fresh, ids)
}

/// The ids among `ids` whose hit is still answered from the same stored answer.
fn still_answering(ctx: &RunContext<'_>, before: &[Hit], ids: &[StepId]) -> Vec<StepId> {
    let again = ctx.again(ctx.cache);
    hits(&again, ids)
        .into_iter()
        .filter(|now| {
            before
                .iter()
                .any(|hit| hit.id == now.id && hit.source == now.source)
        })
        .map(|now| now.id)
        .collect()
}

fn judge(
    hit: &Hit,
    first: Option<&StepResult>,
    second: Option<&StepResult>,
    unchanged: bool,
) -> Judgement {
    let no_verdict = |fresh: Option<&StepResult>| match fresh {
        None => Some("the step did not run again".to_owned()),
        Some(fresh) if !fresh.cacheable() => Some(fresh.step_error().map_or_else(
            || format!("the fresh run gave no verdict ({:?})", fresh.status()),
            |e| e.message.lines().next().unwrap_or_default().to_owned(),
        )),
        Some(_) => None,
    };
    if let Some(why) = no_verdict(first) {
        return Judgement::NoVerdict(why);
    }
    let Some(first) = first else {
        return Judgement::NoVerdict("the step did not run again".to_owned());
    };
    let against_cache = compare::differences(&hit.cached, first, LABELS);
    if against_cache.is_empty() {
        return Judgement::Agreed;
    }
    if let Some(why) = no_verdict(second) {
        return Judgement::NoVerdict(why);
    }
    if !unchanged {
        return Judgement::InputsChanged;
    }
    let second = second.unwrap_or(first);
    let between = compare::differences(first, second, ("first fresh run", "second fresh run"));
    if between.is_empty() {
        Judgement::Mismatch(against_cache)
    } else {
        Judgement::Flaky(between)
    }
}

/// Evicts what the audit found wrong and marks what it found flaky.
fn act(ctx: &RunContext<'_>, audited: &[Audited]) {
    let Some(cache) = ctx.cache else {
        return;
    };
    let mut evicted = false;
    for done in audited {
        match &done.judgement {
            Judgement::Mismatch(_) => evict(cache, &done.hit.source),
            Judgement::Flaky(between) => {
                evict(cache, &done.hit.source);
                let reads = match &done.hit.source {
                    Source::Observed { reads, .. } => Some(reads.clone()),
                    Source::Declared(_) => None,
                };
                let mark = marks::FlakyMark {
                    component: done.hit.id.0.clone(),
                    step: done.hit.id.1.id().to_owned(),
                    key: done.hit.key,
                    reads,
                    why: between.join("; "),
                    at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                };
                if let Err(error) = marks::write(cache.dir(), &mark) {
                    let message = format!(
                        "{} {} could not be marked flaky ({error:#}); it may be served from the cache again",
                        mark.component, mark.step
                    );
                    ctx.listener.event(&Event::Warning { message: &message });
                }
            }
            _ => continue,
        }
        evicted = true;
        FOUND.store(true, Ordering::Relaxed);
    }
    if evicted {
        // A record may hold the evicted answer; the next run takes the full path again.
        super::warm::forget(cache.dir());
    }
}

fn evict(cache: &Cache, source: &Source) {
    match source {
        Source::Declared(key) => {
            cache.remove_entry(key);
        }
        Source::Observed {
            declared, result, ..
        } => {
            cache.retain_sets(declared, |set| set.result != *result);
            cache.remove_entry(result);
        }
    }
}

/// What the audit of one hit says, for people: `None` when it agreed. The bool is whether it
/// is an error (a mismatch or a flaky step), rather than a step it could not judge.
pub fn describe(done: &Audited, verbose: bool) -> Option<(bool, String)> {
    let (component, kind) = (&done.hit.id.0, done.hit.id.1);
    Some(match &done.judgement {
        Judgement::Agreed => return None,
        Judgement::Mismatch(differences) => (
            true,
            format!(
                "{component} {kind}: the cache answered what fresh runs do not give on unchanged \
                 inputs ({}); the entry was evicted. It was stored for {}. A read the cache does \
                 not see is the likely cause: report it with the output of \
                 `cargo xtask cache explain {component} --step {kind}`",
                differences.join("; "),
                read_set(&done.hit, verbose),
            ),
        ),
        Judgement::Flaky(differences) => (
            true,
            format!(
                "{component} {kind} is flaky: two fresh runs on unchanged inputs disagree ({}); \
                 its entry was evicted, and it runs fresh and is not cached until its inputs \
                 change. Its inputs: {}",
                differences.join("; "),
                read_set(&done.hit, verbose),
            ),
        ),
        Judgement::NoVerdict(why) => (
            false,
            format!("{component} {kind} could not be audited: {why}"),
        ),
        Judgement::InputsChanged => (
            false,
            format!(
                "{component} {kind} was not judged: its inputs changed while it was audited; run the audit again"
            ),
        ),
    })
}

/// The inputs a hit was stored for: its read set for an observed step, else its declared
/// files; the first few unless `verbose`.
fn read_set(hit: &Hit, verbose: bool) -> String {
    const SHOWN: usize = 12;
    let (what, names): (&str, Vec<String>) = match &hit.source {
        Source::Observed { reads, .. } => {
            // The project's files first, then folders listed, then what is outside it.
            let mut reads: Vec<(u8, String)> = reads
                .keys()
                .map(|entry| match entry.split_once(' ') {
                    Some(("l", path)) => (1, format!("{path}/ (listed)")),
                    Some((_, path)) if observe::in_project(path) => (0, path.to_owned()),
                    Some((_, path)) => (2, path.to_owned()),
                    None => (2, entry.clone()),
                })
                .collect();
            reads.sort();
            ("read", reads.into_iter().map(|(_, name)| name).collect())
        }
        Source::Declared(_) => ("declared input", hit.inputs.clone()),
    };
    let total = names.len();
    let shown = if verbose { total } else { total.min(SHOWN) };
    let mut text = format!(
        "{total} {what}{} (all unchanged): {}",
        if total == 1 { "" } else { "s" },
        names[..shown].join(", ")
    );
    if shown < total {
        text.push_str(&format!(", and {} more (-v lists them all)", total - shown));
    }
    text
}

/// The counts of an audit, for its log line and summary.
pub fn tally(audited: &[Audited]) -> marks::Tally {
    let mut tally = marks::Tally {
        audited: audited.len() as u64,
        ..marks::Tally::default()
    };
    for done in audited {
        match done.judgement {
            Judgement::Agreed => tally.agreed += 1,
            Judgement::Mismatch(_) => tally.mismatches += 1,
            Judgement::Flaky(_) => tally.flaky += 1,
            Judgement::NoVerdict(_) | Judgement::InputsChanged => tally.unjudged += 1,
        }
    }
    tally
}

/// `[cache] audit_sample`: re-checks that share of this run's hits, fresh. A hit that fresh
/// runs contradict is reported as an error and replaced in `results` by the fresh verdict (so
/// the run's gates decide on it), and the run is not recorded for the warm path.
pub(crate) fn recheck_sample(ctx: &RunContext<'_>, results: &mut Results) {
    let share = ctx.config.cache_audit_sample;
    if share <= 0.0 || ctx.refresh || ctx.cache.is_none() || crate::process::interrupted() {
        return;
    }
    let answered: Vec<StepId> = results
        .iter()
        .filter(|(_, result)| result.cached)
        .map(|(id, _)| id.clone())
        .collect();
    let chosen = sample(answered, share, |(component, kind)| {
        format!("{component} {kind}")
    });
    if chosen.is_empty() {
        return;
    }
    // What this run answered is what is audited, wherever it came from (an entry or the
    // warm-run record); the entry found now is what gets evicted.
    let mut found = hits(ctx, &chosen);
    for hit in &mut found {
        if let Some(answered) = results.get(&hit.id) {
            hit.cached = answered.clone();
        }
    }
    ctx.listener.event(&Event::Auditing {
        message: &format!(
            "re-running {} of this run's cached steps fresh ([cache] audit_sample = {share}%)",
            found.len()
        ),
    });
    let audited = audit(ctx, found);
    for done in &audited {
        let Some((error, message)) = describe(done, false) else {
            continue;
        };
        if !error {
            ctx.listener.event(&Event::Warning { message: &message });
            continue;
        }
        ctx.listener.event(&Event::Error { message: &message });
        if let Some(fresh) = &done.fresh {
            let mut fresh = fresh.clone();
            fresh.not_cached = Some(match &done.judgement {
                Judgement::Flaky(_) => {
                    "flaky: its fresh runs disagreed on unchanged inputs (audit_sample); it runs fresh until its inputs change".to_owned()
                }
                _ => "the cached verdict differed from fresh runs on unchanged inputs (audit_sample); the entry was evicted".to_owned(),
            });
            results.insert(done.hit.id.clone(), fresh);
        }
        ctx.warm.unsettle();
    }
    if let Some(cache) = ctx.cache {
        marks::log(cache.dir(), &tally(&audited), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::StepKind;
    use crate::tools::result::{ErrorKind, StepError, StepStatus};

    fn result(status: StepStatus) -> StepResult {
        let (version, command) = ("1.9.4", vec!["bandit".into()]);
        match status {
            StepStatus::Error => StepResult::error(
                StepKind::Bandit,
                version,
                command,
                StepError {
                    kind: ErrorKind::Crashed,
                    message: "bandit crashed\nTraceback".into(),
                },
                0,
            ),
            _ => StepResult::verdict(
                StepKind::Bandit,
                version,
                command,
                status == StepStatus::Passed,
                Vec::new(),
                0,
            ),
        }
    }

    fn hit(cached: StepStatus) -> Hit {
        Hit {
            id: ("carbon".into(), StepKind::Bandit),
            cached: result(cached),
            source: Source::Declared(Digest::of(b"ab")),
            key: Digest::of(b"ab"),
            inputs: vec!["src/components/carbon_component.py".into()],
        }
    }

    #[test]
    fn judgements_from_the_fresh_runs() {
        use StepStatus::{Error, Failed, Passed};
        let judge_of = |cached, first: Option<StepStatus>, second: Option<StepStatus>, same| {
            let (first, second) = (first.map(result), second.map(result));
            judge(&hit(cached), first.as_ref(), second.as_ref(), same)
        };
        assert_eq!(
            judge_of(Passed, Some(Passed), None, true),
            Judgement::Agreed
        );
        assert_eq!(
            judge_of(Passed, Some(Failed), Some(Failed), true),
            Judgement::Mismatch(vec!["status: passed (cached) vs failed (fresh)".into()])
        );
        assert_eq!(
            judge_of(Passed, Some(Failed), Some(Passed), true),
            Judgement::Flaky(vec![
                "status: failed (first fresh run) vs passed (second fresh run)".into()
            ])
        );
        // Inputs that moved, or a run without a verdict, judge nothing.
        assert_eq!(
            judge_of(Passed, Some(Failed), Some(Failed), false),
            Judgement::InputsChanged
        );
        assert_eq!(
            judge_of(Passed, Some(Error), None, true),
            Judgement::NoVerdict("bandit crashed".into())
        );
        assert_eq!(
            judge_of(Passed, Some(Failed), Some(Error), true),
            Judgement::NoVerdict("bandit crashed".into())
        );
        assert!(matches!(
            judge_of(Passed, None, None, true),
            Judgement::NoVerdict(_)
        ));
    }

    #[test]
    fn a_mismatch_names_the_step_the_figure_and_the_inputs() {
        let done = Audited {
            hit: hit(StepStatus::Passed),
            judgement: Judgement::Mismatch(vec![
                "status: passed (cached) vs failed (fresh)".into(),
            ]),
            fresh: None,
        };
        let (error, message) = describe(&done, false).unwrap();
        assert!(error);
        insta::assert_snapshot!(message, @"carbon bandit: the cache answered what fresh runs do not give on unchanged inputs (status: passed (cached) vs failed (fresh)); the entry was evicted. It was stored for 1 declared input (all unchanged): src/components/carbon_component.py. A read the cache does not see is the likely cause: report it with the output of `cargo xtask cache explain carbon --step bandit`");
        let observed = Hit {
            source: Source::Observed {
                declared: Digest::of(b"cd"),
                result: Digest::of(b"ef"),
                reads: (0..20)
                    .map(|n| (format!("f /usr/lib/x{n:02}.py"), "f:01".to_owned()))
                    .chain([
                        ("l tests".to_owned(), "l:02".to_owned()),
                        ("f tests/test_carbon.py".to_owned(), "f:03".to_owned()),
                    ])
                    .collect(),
            },
            ..hit(StepStatus::Passed)
        };
        let listed = read_set(&observed, false);
        assert!(
            listed.starts_with(
                "22 reads (all unchanged): tests/test_carbon.py, tests/ (listed), /usr/lib/x00.py,"
            ),
            "{listed}"
        );
        assert!(
            listed.ends_with(", and 10 more (-v lists them all)"),
            "{listed}"
        );
        assert!(!read_set(&observed, true).contains("more"));
    }

    #[test]
    fn a_sample_is_the_share_on_average_in_the_items_order() {
        let items: Vec<usize> = (0..40).collect();
        assert_eq!(sample(items.clone(), 100.0, |n| n.to_string()), items);
        assert!(sample(items.clone(), 0.0, |n| n.to_string()).is_empty());
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let chosen = sample(items.clone(), 5.0, |n| n.to_string());
            // 5 % of 40 is exactly 2.
            assert_eq!(chosen.len(), 2);
            assert!(chosen.windows(2).all(|w| w[0] < w[1]), "{chosen:?}");
            seen.extend(chosen);
        }
        // Random, so 200 draws reach most of the 40 items; a fixed choice would reach 2.
        assert!(seen.len() > 20, "{seen:?}");
        // 5 % of 30 is 1.5: one or two, two about half the time.
        let counts: Vec<usize> = (0..400)
            .map(|_| sample((0..30).collect::<Vec<usize>>(), 5.0, |n| n.to_string()).len())
            .collect();
        assert!(counts.iter().all(|c| *c == 1 || *c == 2));
        let twos = counts.iter().filter(|c| **c == 2).count();
        assert!((100..300).contains(&twos), "{twos} of 400");
    }
}
