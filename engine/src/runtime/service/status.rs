//! A container's status in words, as `docker ps` prints it (`Up 2 minutes`), and when
//! those words change.

use crate::api::ContainerStatus;
use crate::runtime::state::RunState;

/// `Up 2 minutes`, `Exited (0) 3 seconds ago`, as `docker ps` prints it.
pub fn human_status(st: &RunState) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| duration_words(chrono::Utc::now().timestamp() - t.timestamp()))
            .unwrap_or_default()
    };
    match st.status {
        ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running => format!("Up {}", since(&st.started_at)),
        ContainerStatus::Paused => format!("Up {} (Paused)", since(&st.started_at)),
        ContainerStatus::Restarting => format!(
            "Restarting ({}) {} ago",
            st.exit_code,
            since(&st.finished_at)
        ),
        ContainerStatus::Exited => {
            format!("Exited ({}) {} ago", st.exit_code, since(&st.finished_at))
        }
        ContainerStatus::Removing => "Removal In Progress".into(),
        ContainerStatus::Dead => "Dead".into(),
    }
}

/// When (seconds since the epoch) [`human_status`] of `st` next reads differently by
/// the passing of time alone (`Up 59 seconds` to `Up About a minute`); `None` if never.
pub fn status_changes_at(st: &RunState, now: i64) -> Option<i64> {
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.timestamp())
    };
    let t = match st.status {
        ContainerStatus::Running | ContainerStatus::Paused => at(&st.started_at)?,
        ContainerStatus::Restarting | ContainerStatus::Exited => at(&st.finished_at)?,
        _ => return None,
    };
    // The boundaries of `duration_words`.
    let d = (now - t).max(0);
    let next = match d {
        0..=59 => d + 1,
        60..=119 => 120,
        120..=3599 => (d / 60 + 1) * 60,
        3600..=7199 => 7200,
        7200..=172_799 => (d / 3600 + 1) * 3600,
        _ => (d / 86400 + 1) * 86400,
    };
    Some(t + next)
}

fn duration_words(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words() {
        assert_eq!(duration_words(5), "5 seconds");
        assert_eq!(duration_words(300), "5 minutes");
        let st = RunState {
            status: ContainerStatus::Created,
            ..Default::default()
        };
        assert_eq!(human_status(&st), "Created");
        assert_eq!(status_changes_at(&st, 1000), None);
        // Each boundary is where the words change, and not before.
        let t0 = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .timestamp();
        let up = RunState {
            status: ContainerStatus::Running,
            started_at: "2024-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        for d in [
            0, 1, 30, 59, 60, 119, 120, 150, 3599, 3600, 7199, 7200, 90_000, 172_799, 172_800,
            900_000,
        ] {
            let next = status_changes_at(&up, t0 + d).unwrap();
            assert!(next > t0 + d);
            assert_eq!(duration_words(d), duration_words(next - t0 - 1), "{d}");
            assert_ne!(duration_words(d), duration_words(next - t0), "{d}");
        }
    }
}
