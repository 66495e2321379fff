//! The observation rule: Production needs `observation_days` full days (to the second, in
//! UTC) since the component entered Staging. Pure; the gate and the status report share it so
//! they never disagree about the days remaining or the earliest date.

use chrono::{Duration, NaiveDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// When the component entered Staging (UTC).
    pub since: NaiveDateTime,
    /// The first moment a Production promotion is allowed (UTC).
    pub earliest: NaiveDateTime,
    /// Time observed so far; zero if `since` is in the future.
    pub elapsed: Duration,
    /// Time still to wait; zero once the period is over.
    pub remaining: Duration,
}

impl Observation {
    pub fn new(since: NaiveDateTime, days: u32, now: NaiveDateTime) -> Observation {
        let required = Duration::days(i64::from(days));
        let elapsed = (now - since).max(Duration::zero());
        Observation {
            since,
            earliest: since + required,
            elapsed,
            remaining: (required - elapsed).max(Duration::zero()),
        }
    }

    pub fn complete(&self) -> bool {
        self.remaining.is_zero()
    }

    /// Days observed, to two decimals, for reports.
    pub fn elapsed_days(&self) -> f64 {
        days(self.elapsed)
    }

    /// Days still to wait, to two decimals, for reports.
    pub fn remaining_days(&self) -> f64 {
        days(self.remaining)
    }
}

fn days(duration: Duration) -> f64 {
    (duration.num_seconds() as f64 / 86_400.0 * 100.0).round() / 100.0
}

/// A duration as `6 days 23h`, `5h`, `7 days`, for messages; whole hours, rounded down.
pub fn days_hours(duration: Duration) -> String {
    let hours = duration.num_hours().max(0);
    match (hours / 24, hours % 24) {
        (0, h) => format!("{h}h"),
        (1, 0) => "1 day".to_owned(),
        (d, 0) => format!("{d} days"),
        (1, h) => format!("1 day {h}h"),
        (d, h) => format!("{d} days {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, minute, 0)
            .unwrap()
    }

    #[test]
    fn six_days_twenty_three_hours_is_not_enough() {
        let since = at(14, 13, 0);
        let observation = Observation::new(since, 7, at(21, 12, 0));
        assert!(!observation.complete());
        assert_eq!(observation.remaining, Duration::hours(1));
        assert_eq!(observation.earliest, at(21, 13, 0));
        assert_eq!(days_hours(observation.elapsed), "6 days 23h");
        // One minute short is still short; the exact moment is enough.
        assert!(!Observation::new(since, 7, at(21, 12, 59)).complete());
        assert!(Observation::new(since, 7, at(21, 13, 0)).complete());
    }

    #[test]
    fn a_future_start_counts_as_nothing_observed() {
        let observation = Observation::new(at(22, 0, 0), 7, at(21, 0, 0));
        assert_eq!(observation.elapsed, Duration::zero());
        assert_eq!(observation.remaining, Duration::days(7));
        assert_eq!(observation.remaining_days(), 7.0);
    }

    #[test]
    fn days_are_reported_to_two_decimals() {
        let observation = Observation::new(at(14, 0, 0), 7, at(17, 12, 0));
        assert_eq!(observation.elapsed_days(), 3.5);
        assert_eq!(observation.remaining_days(), 3.5);
        assert_eq!(days_hours(Duration::hours(5)), "5h");
        assert_eq!(days_hours(Duration::hours(24)), "1 day");
    }
}
