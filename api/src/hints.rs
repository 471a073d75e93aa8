//! What is wrong with an instance or a release, in words for people, with
//! the fix. Pure functions over reported facts, shared by the JSON API, the
//! dashboard and `git push`.

use paas_types::ActualState;

/// The facts about one instance a hint is made from.
#[derive(Debug, Clone, Copy)]
pub struct InstanceFacts<'a> {
    pub process_type: &'a str,
    pub state: ActualState,
    pub restarts: i32,
    pub exit_status: Option<i32>,
    pub http_status: Option<i32>,
    /// The app's hostname, which health checks send as `Host`.
    pub hostname: &'a str,
}

/// A hint when something is wrong with the instance, else `None`.
pub fn instance_hint(facts: &InstanceFacts<'_>) -> Option<String> {
    let InstanceFacts { process_type, state, restarts, exit_status, http_status, hostname } = *facts;
    match state {
        ActualState::Crashed => {
            let status = exit_status.map(|s| format!(" with status {s}")).unwrap_or_default();
            Some(format!(
                "the {process_type} process keeps exiting{status} ({restarts} restarts): fix what its last output \
                 shows (`paas logs`), then push again"
            ))
        }
        ActualState::Unhealthy => {
            Some(format!("the web process stopped answering GET / with Host {hostname}: see `paas logs`"))
        }
        _ => match http_status {
            Some(code @ 400..=499) => Some(host_hint(code, hostname)),
            _ => None,
        },
    }
}

/// The hint for a web process answering its health check with a 4xx.
pub fn host_hint(code: i32, hostname: &str) -> String {
    format!(
        "the web process answers {code} to GET / with Host {hostname}; if the app rejects that hostname \
         (Django: DisallowedHost), add {hostname} to ALLOWED_HOSTS (e.g. `paas config set \
         ALLOWED_HOSTS={hostname}` when settings read it from the environment), or serve the app on a \
         custom domain it accepts (`paas domains add <domain>`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(process_type: &str, state: ActualState, http_status: Option<i32>) -> InstanceFacts<'_> {
        InstanceFacts {
            process_type,
            state,
            restarts: 4,
            exit_status: Some(1),
            http_status,
            hostname: "shop.paas.test",
        }
    }

    #[test]
    fn hints_name_the_problem_and_the_fix() {
        let cases: [(InstanceFacts, Option<&str>); 6] = [
            (facts("web", ActualState::Running, Some(200)), None),
            (facts("web", ActualState::Running, None), None),
            (facts("worker", ActualState::Running, None), None),
            (facts("web", ActualState::Running, Some(400)), Some("add shop.paas.test to ALLOWED_HOSTS")),
            (
                facts("worker", ActualState::Crashed, None),
                Some("worker process keeps exiting with status 1 (4 restarts)"),
            ),
            (facts("web", ActualState::Unhealthy, Some(503)), Some("stopped answering GET / with Host shop.paas.test")),
        ];
        for (facts, want) in cases {
            let hint = instance_hint(&facts);
            match want {
                None => assert_eq!(hint, None, "{facts:?}"),
                Some(part) => assert!(hint.as_deref().unwrap_or("").contains(part), "{facts:?}: {hint:?}"),
            }
        }
    }
}
