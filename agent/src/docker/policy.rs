//! The confinement of every container the agent starts (app processes and
//! release-phase runs): one function, so no kind of container can drift to
//! weaker settings than another.

use std::collections::HashMap;

use bollard::container::Config as ContainerConfig;
use bollard::models::{HostConfig, HostConfigLogConfig};
use paas_types::Size;

/// The app user of the base image (never root).
pub const APP_USER: &str = "10000:10000";
/// Most processes (and threads) one container may run: stops fork bombs.
pub const PIDS_LIMIT: i64 = 256;

/// Applies the policy to `config`: the app user; the size's memory (and no
/// swap beyond it) and CPU; a pids limit; every capability dropped and none
/// added; not privileged; no privilege escalation (setuid); bounded,
/// rotated output. Whatever `config` said about these is replaced.
pub fn confine(size: Size, mut config: ContainerConfig<String>) -> ContainerConfig<String> {
    let memory = i64::from(size.memory_mb()) * 1024 * 1024;
    let host = config.host_config.take().unwrap_or_default();
    config.user = Some(APP_USER.to_string());
    config.host_config = Some(HostConfig {
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some(i64::from(size.cpu_millis()) * 1_000_000),
        pids_limit: Some(PIDS_LIMIT),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: None,
        privileged: None,
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        log_config: Some(log_config()),
        ..host
    });
    config
}

/// Most processes one add-on server may run (Postgres forks one per connection).
pub const SERVICE_PIDS_LIMIT: i64 = 512;

/// The policy of the platform's own add-on servers (Postgres, Redis): the
/// image's service user (never root: the images set `USER`), `memory_mb`
/// of memory and no swap, a pids limit, every capability dropped, no
/// privilege escalation, bounded output. They run no tenant code, but hold
/// tenant data, so they get no more than app processes do.
pub fn confine_service(memory_mb: i32, mut config: ContainerConfig<String>) -> ContainerConfig<String> {
    let memory = i64::from(memory_mb) * 1024 * 1024;
    let host = config.host_config.take().unwrap_or_default();
    config.user = None;
    config.host_config = Some(HostConfig {
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(SERVICE_PIDS_LIMIT),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: None,
        privileged: None,
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        log_config: Some(log_config()),
        ..host
    });
    config
}

/// Container output kept by the engine: bounded, rotated (the API keeps the history).
fn log_config() -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(HashMap::from([("max-size".into(), "10m".into()), ("max-file".into(), "3".into())])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weaker_settings_of_the_caller_are_replaced() {
        let asked = ContainerConfig {
            user: Some("0:0".to_string()),
            host_config: Some(HostConfig {
                privileged: Some(true),
                cap_add: Some(vec!["SYS_ADMIN".into()]),
                cap_drop: Some(vec![]),
                memory: Some(i64::MAX),
                network_mode: Some("paas-n1-shop".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let confined = confine(Size::Small, asked);
        assert_eq!(confined.user.as_deref(), Some(APP_USER));
        let host = confined.host_config.unwrap();
        assert_eq!((host.privileged, host.cap_add), (None, None));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.memory, Some(256 * 1024 * 1024));
        assert_eq!(host.network_mode.as_deref(), Some("paas-n1-shop"), "the rest is the caller's");
    }

    #[test]
    fn limits_follow_the_size() {
        for size in [Size::Small, Size::Standard, Size::Large] {
            let host = confine(size, ContainerConfig::default()).host_config.unwrap();
            let memory = i64::from(size.memory_mb()) << 20;
            assert_eq!((host.memory, host.memory_swap), (Some(memory), Some(memory)), "{size:?}: no swap");
            assert_eq!(host.nano_cpus, Some(i64::from(size.cpu_millis()) * 1_000_000));
            assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
        }
    }
}
