//! When will a component be ready for its next stage? From the status history of its blocker
//! figures (the coverage gap to the next stage's threshold, and the lint, type and security
//! findings), a least-squares trend per figure and the date every figure reaches zero at that
//! pace; or "no progress in N weeks" when a blocker is flat or getting worse. Pure.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// One status run's figures for one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub at: NaiveDateTime,
    /// `None` when coverage was not measured (no tests): a blocker with no trend.
    pub coverage: Option<f64>,
    /// Lint, type and security findings together; `None` when a check could not run.
    pub findings: Option<u64>,
}

/// A history shorter than this says nothing about a pace.
pub const MIN_SPAN_DAYS: i64 = 6;
/// At least this many runs, so one noisy week is not a trend.
pub const MIN_RUNS: usize = 3;

/// The trend of one blocker figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// `coverage gap` (points below the threshold) or `findings`.
    pub figure: String,
    pub now: f64,
    /// Change per week; negative is progress.
    pub per_week: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Prediction {
    /// Every blocker figure is at zero already (other gates, such as the observation period
    /// or dependencies, may still block).
    Ready,
    /// Fewer than `MIN_RUNS` runs, or a span under `MIN_SPAN_DAYS` days.
    TooLittleHistory { runs: usize },
    /// A blocker is flat or worsening over the whole history.
    NoProgress { weeks: i64, trends: Vec<Trend> },
    /// Every blocker reaches zero by `date` at the current pace.
    EstimatedBy { date: NaiveDate, trends: Vec<Trend> },
}

impl Prediction {
    /// A sentence for the reports.
    pub fn describe(&self) -> String {
        match self {
            Prediction::Ready => "no figure blocks it now".to_owned(),
            Prediction::TooLittleHistory { runs } => format!(
                "too little history to predict ({}; needs {MIN_RUNS} over {MIN_SPAN_DAYS} days)",
                crate::plural::count(*runs, "run")
            ),
            Prediction::NoProgress { weeks, .. } => {
                format!("no progress in {}", crate::plural::count(*weeks, "week"))
            }
            Prediction::EstimatedBy { date, .. } => format!("ready by about {date} at this pace"),
        }
    }
}

/// A prediction with its sentence, as the status report carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicted {
    pub summary: String,
    pub estimate: Prediction,
}

impl From<Prediction> for Predicted {
    fn from(estimate: Prediction) -> Predicted {
        Predicted {
            summary: estimate.describe(),
            estimate,
        }
    }
}

/// The prediction from `history` (oldest first, the current run last) against the next
/// stage's coverage `threshold`.
pub fn predict(history: &[Observation], threshold: f64) -> Prediction {
    let Some(last) = history.last() else {
        return Prediction::TooLittleHistory { runs: 0 };
    };
    let gap = |o: &Observation| o.coverage.map(|c| (threshold - c).max(0.0));
    let findings = |o: &Observation| o.findings.map(|f| f as f64);
    let now_gap = gap(last);
    let now_findings = findings(last);
    if now_gap == Some(0.0) && now_findings == Some(0.0) {
        return Prediction::Ready;
    }
    let first = history.first().map_or(last.at, |o| o.at);
    let span = last.at - first;
    if history.len() < MIN_RUNS || span < Duration::days(MIN_SPAN_DAYS) {
        return Prediction::TooLittleHistory {
            runs: history.len(),
        };
    }
    let mut trends = Vec::new();
    let mut weeks_needed: f64 = 0.0;
    let mut stalled = false;
    for (figure, value) in [
        ("coverage gap", &gap as &dyn Fn(&Observation) -> Option<f64>),
        ("findings", &findings),
    ] {
        let points: Vec<(f64, f64)> = history
            .iter()
            .filter_map(|o| Some((weeks_between(first, o.at), value(o)?)))
            .collect();
        let Some(now) = value(last) else {
            // Not measured now: nothing says it will ever pass.
            stalled = true;
            continue;
        };
        if now == 0.0 {
            continue;
        }
        let per_week = slope(&points).unwrap_or(0.0);
        trends.push(Trend {
            figure: figure.to_owned(),
            now,
            per_week,
        });
        if per_week < -1e-9 {
            weeks_needed = weeks_needed.max(now / -per_week);
        } else {
            stalled = true;
        }
    }
    if stalled {
        return Prediction::NoProgress {
            weeks: span.num_days() / 7,
            trends,
        };
    }
    let days = (weeks_needed * 7.0).ceil() as i64;
    Prediction::EstimatedBy {
        date: (last.at + Duration::days(days)).date(),
        trends,
    }
}

fn weeks_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_seconds() as f64 / (7.0 * 24.0 * 3600.0)
}

/// The least-squares slope of `points`; `None` with fewer than two distinct times.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let spread: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if spread <= f64::EPSILON {
        return None;
    }
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(covariance / spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(n: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 10, 5)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap()
            + Duration::weeks(n)
    }

    fn history(points: &[(Option<f64>, Option<u64>)]) -> Vec<Observation> {
        points
            .iter()
            .enumerate()
            .map(|(i, (coverage, findings))| Observation {
                at: week(i as i64),
                coverage: *coverage,
                findings: *findings,
            })
            .collect()
    }

    #[test]
    fn steady_improvement_gives_the_date_of_the_slowest_blocker() {
        // Coverage 55 -> 65 by 5 points a week (gap 5 left: one more week); findings 30 -> 10
        // by 10 a week (one more week too); so one week after the last run.
        let h = history(&[
            (Some(55.0), Some(30)),
            (Some(60.0), Some(20)),
            (Some(65.0), Some(10)),
        ]);
        match predict(&h, 70.0) {
            Prediction::EstimatedBy { date, trends } => {
                assert_eq!(date, (week(2) + Duration::days(7)).date());
                assert_eq!(trends.len(), 2);
                assert!((trends[0].per_week + 5.0).abs() < 1e-9, "{trends:?}");
            }
            other => panic!("{other:?}"),
        }
        // Findings at 10 a week but 40 left: four weeks, later than coverage's one.
        let h = history(&[
            (Some(55.0), Some(60)),
            (Some(60.0), Some(50)),
            (Some(65.0), Some(40)),
        ]);
        assert!(matches!(
            predict(&h, 70.0),
            Prediction::EstimatedBy { date, .. } if date == (week(2) + Duration::days(28)).date()
        ));
    }

    #[test]
    fn a_flat_blocker_is_no_progress_for_the_weeks_observed() {
        let h = history(&[
            (Some(80.0), Some(5)),
            (Some(80.0), Some(5)),
            (Some(80.0), Some(5)),
            (Some(80.0), Some(5)),
        ]);
        let prediction = predict(&h, 70.0);
        assert!(
            matches!(prediction, Prediction::NoProgress { weeks: 3, .. }),
            "{prediction:?}"
        );
        assert_eq!(prediction.describe(), "no progress in 3 weeks");
    }

    #[test]
    fn a_worsening_blocker_is_no_progress_even_when_another_improves() {
        let h = history(&[
            (Some(50.0), Some(1)),
            (Some(55.0), Some(2)),
            (Some(60.0), Some(4)),
        ]);
        assert!(matches!(
            predict(&h, 70.0),
            Prediction::NoProgress { weeks: 2, .. }
        ));
    }

    #[test]
    fn already_ready_needs_no_history() {
        let h = history(&[(Some(75.0), Some(0))]);
        assert_eq!(predict(&h, 70.0), Prediction::Ready);
        assert_eq!(predict(&h, 70.0).describe(), "no figure blocks it now");
    }

    #[test]
    fn too_little_history_says_so() {
        assert_eq!(predict(&[], 70.0), Prediction::TooLittleHistory { runs: 0 });
        let two = history(&[(Some(50.0), Some(3)), (Some(60.0), Some(2))]);
        assert_eq!(
            predict(&two, 70.0),
            Prediction::TooLittleHistory { runs: 2 }
        );
        // Three runs within a day are not a pace either.
        let mut close = history(&[
            (Some(50.0), Some(3)),
            (Some(55.0), Some(2)),
            (Some(60.0), Some(1)),
        ]);
        for (i, o) in close.iter_mut().enumerate() {
            o.at = week(0) + Duration::hours(i as i64);
        }
        assert!(matches!(
            predict(&close, 70.0),
            Prediction::TooLittleHistory { runs: 3 }
        ));
    }

    #[test]
    fn an_unmeasured_figure_never_predicts_a_date() {
        let h = history(&[(None, Some(3)), (None, Some(2)), (None, Some(1))]);
        assert!(matches!(predict(&h, 70.0), Prediction::NoProgress { .. }));
    }
}
