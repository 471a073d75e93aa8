//! Whether a pending release takes over, as a pure function: it is promoted
//! only when every process type with instances is healthy (web passes its
//! HTTP check, the others stay up for a settle period), and fails as soon as
//! one of its instances crashes, restarts or turns unhealthy, or when it is
//! not healthy in time. Until then the previous release keeps serving.

use std::time::Duration;

use chrono::{DateTime, Utc};
use paas_types::ActualState;
use uuid::Uuid;

use crate::db::apps::FormationRow;
use crate::db::instances::ScheduledRow;

/// How long a non-web process must stay up before it counts as healthy.
pub const SETTLE: Duration = Duration::from_secs(5);
/// How long a release may take to become healthy.
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// The pending release being judged.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub release_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Process types its build defines.
    pub process_types: &'a [String],
}

/// The decision on a pending release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not healthy yet, nothing wrong yet.
    Wait,
    Promote,
    /// Why it failed, in one sentence for people.
    Fail(String),
}

/// Judges `candidate` from the formation and the app's instances wanted
/// running (any release), at time `now`.
pub fn decide(
    candidate: &Candidate<'_>,
    formation: &[FormationRow],
    instances: &[ScheduledRow],
    now: DateTime<Utc>,
) -> Verdict {
    let settled_before = now - chrono::Duration::from_std(SETTLE).unwrap_or_default();
    let mut waiting = Vec::new();
    for row in formation.iter().filter(|f| f.quantity > 0 && candidate.process_types.contains(&f.process_type)) {
        let kind = &row.process_type;
        let new: Vec<&ScheduledRow> = instances
            .iter()
            .filter(|i| i.release_id == candidate.release_id && &i.process_type == kind && i.size == row.size)
            .collect();
        if let Some(bad) = new.iter().find(|i| i.actual_state == ActualState::Crashed) {
            return Verdict::Fail(format!("the {kind} process crashed ({} restarts)", bad.restarts));
        }
        if new.iter().any(|i| i.actual_state == ActualState::Unhealthy) {
            return Verdict::Fail(format!("the {kind} process failed its health checks"));
        }
        if let Some(bad) = new.iter().find(|i| i.restarts > 0) {
            return Verdict::Fail(format!("the {kind} process exited and was restarted ({} restarts)", bad.restarts));
        }
        let healthy = new
            .iter()
            .filter(|i| i.actual_state == ActualState::Running)
            .filter(|i| kind == "web" || i.ready_at.is_some_and(|at| at <= settled_before))
            .count();
        if healthy < row.quantity as usize {
            waiting.push(kind.as_str());
        }
    }
    if waiting.is_empty() {
        return Verdict::Promote;
    }
    if now - candidate.created_at > chrono::Duration::from_std(TIMEOUT).unwrap_or_default() {
        return Verdict::Fail(format!("no healthy {} within {} seconds", waiting.join(" or "), TIMEOUT.as_secs()));
    }
    Verdict::Wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::Size;

    const RELEASE: Uuid = Uuid::from_u128(7);
    const OLD: Uuid = Uuid::from_u128(6);

    fn want(process_type: &str, quantity: i32) -> FormationRow {
        FormationRow { process_type: process_type.into(), quantity, size: Size::Standard }
    }

    /// An instance of `release` whose state is `state`, up for `up_secs` (if running).
    fn inst(release_id: Uuid, kind: &str, state: ActualState, restarts: i32, up_secs: i64) -> ScheduledRow {
        let now = at(100);
        ScheduledRow {
            id: Uuid::new_v4(),
            release_id,
            process_type: kind.into(),
            actual_state: state,
            size: Size::Standard,
            restarts,
            ready_at: (state == ActualState::Running).then(|| now - chrono::Duration::seconds(up_secs)),
            node_id: None,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn table() {
        use ActualState::*;
        let both = [want("web", 1), want("worker", 1)];
        let web_only = [want("web", 2)];
        let no_web = [want("web", 0)];
        let clock = [want("clock", 1)];
        // (name, formation, instances, seconds since the release was made, verdict)
        type Case<'a> = (&'a str, &'a [FormationRow], Vec<ScheduledRow>, i64, Verdict);
        let cases: Vec<Case> = vec![
            (
                "web healthy, worker settled",
                &both,
                vec![inst(RELEASE, "web", Running, 0, 1), inst(RELEASE, "worker", Running, 0, 6)],
                20,
                Verdict::Promote,
            ),
            (
                "worker up but not settled yet",
                &both,
                vec![inst(RELEASE, "web", Running, 0, 1), inst(RELEASE, "worker", Running, 0, 2)],
                20,
                Verdict::Wait,
            ),
            (
                "worker crash-loops",
                &both,
                vec![inst(RELEASE, "web", Running, 0, 9), inst(RELEASE, "worker", Crashed, 3, 0)],
                20,
                Verdict::Fail("the worker process crashed (3 restarts)".into()),
            ),
            (
                "worker restarted while running",
                &both,
                vec![inst(RELEASE, "web", Running, 0, 9), inst(RELEASE, "worker", Running, 1, 9)],
                20,
                Verdict::Fail("the worker process exited and was restarted (1 restarts)".into()),
            ),
            (
                "web unhealthy",
                &web_only,
                vec![inst(RELEASE, "web", Running, 0, 9), inst(RELEASE, "web", Unhealthy, 0, 0)],
                20,
                Verdict::Fail("the web process failed its health checks".into()),
            ),
            (
                "one of two web instances still starting",
                &web_only,
                vec![inst(RELEASE, "web", Running, 0, 9), inst(RELEASE, "web", Starting, 0, 0)],
                20,
                Verdict::Wait,
            ),
            (
                "old release's instances do not count",
                &web_only,
                vec![inst(OLD, "web", Running, 0, 99), inst(OLD, "web", Crashed, 5, 0)],
                20,
                Verdict::Wait,
            ),
            (
                "too slow",
                &web_only,
                vec![inst(RELEASE, "web", Starting, 0, 0)],
                181,
                Verdict::Fail("no healthy web within 180 seconds".into()),
            ),
            ("nothing to run", &no_web, vec![], 0, Verdict::Promote),
            ("type the build lacks", &clock, vec![], 0, Verdict::Promote),
        ];
        let types = ["web".to_string(), "worker".to_string()];
        for (name, formation, instances, age, verdict) in cases {
            let candidate = Candidate { release_id: RELEASE, created_at: at(100 - age), process_types: &types };
            assert_eq!(decide(&candidate, formation, &instances, at(100)), verdict, "{name}");
        }
    }
}
