//! The confinement of every container the agent starts (app processes,
//! release-phase runs, `paas run` sessions, builds, add-on servers): one
//! module, so no kind of container can drift to weaker settings than another.
//!
//! App containers run on a read-only root filesystem. What a process may
//! write: the app directory (`/app`, which is also `$HOME`), an anonymous
//! volume filled from the image at start and removed with the container; a
//! small `tmpfs` at `/tmp` (supervisord's pid file and socket, gunicorn's
//! heartbeat files); and the app's own volumes.

use std::collections::HashMap;

use bollard::container::Config as ContainerConfig;
use bollard::models::{HostConfig, HostConfigLogConfig, Mount, MountTypeEnum, MountVolumeOptions, ResourcesUlimits};
use paas_types::Size;

/// The app user of the base image (never root).
pub const APP_USER: &str = "10000:10000";
/// Most processes (and threads) one container may run: stops fork bombs.
pub const PIDS_LIMIT: i64 = 256;
/// Open files one process may hold (soft and hard: it cannot raise it).
pub const NOFILE_LIMIT: i64 = 4096;
// No RLIMIT_NPROC: the kernel counts it per user across the whole node
// (every app runs as uid 10000, with no user namespace), so any value low
// enough to matter would let one tenant's processes make every other
// tenant's forks and container starts fail. Processes are bounded per
// container by [`PIDS_LIMIT`] instead.
/// The writable app directory (and `$HOME`) of app containers.
pub const APP_DIR: &str = "/app";
/// Size of the `tmpfs` at `/tmp` of app containers (it counts against the
/// container's memory as it fills).
pub const TMP_SIZE_MB: u32 = 64;
/// `paas.managed` label of the anonymous app-directory volumes.
pub const APP_DIR_VOLUME: &str = "app-dir";

/// The node's sandbox settings (from the agent's configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sandbox {
    /// OCI runtime of app containers (`runsc` for gVisor), registered with
    /// the engine; `None` is the engine's default (runc).
    pub runtime: Option<String>,
}

/// Applies the policy of app containers (processes, release phase, `paas
/// run`) to `config`: [`confine_build`]'s, plus a read-only root filesystem
/// with a writable app directory, a size-limited `/tmp`, and the node's
/// runtime. Whatever `config` said about these is replaced.
pub fn confine(sandbox: &Sandbox, size: Size, config: ContainerConfig<String>) -> ContainerConfig<String> {
    let mut config = confine_build(size, config);
    let node = config.labels.as_ref().and_then(|l| l.get(super::label::NODE)).cloned().unwrap_or_default();
    let host = config.host_config.get_or_insert_with(Default::default);
    host.readonly_rootfs = Some(true);
    host.tmpfs = Some(HashMap::from([("/tmp".to_string(), tmp_options())]));
    let mut mounts = host.mounts.take().unwrap_or_default();
    // The app's own volumes under /app are mounted over the app directory
    // (the engine orders mounts by path); one at /app itself is the app directory.
    if !mounts.iter().any(|m| m.target.as_deref() == Some(APP_DIR)) {
        mounts.insert(0, app_dir_mount(&node));
    }
    host.mounts = Some(mounts);
    host.runtime = sandbox.runtime.clone();
    config
}

/// The policy of build containers, which run the app's install code and
/// are committed as images (so their root filesystem stays writable, and
/// they run on the engine's default runtime): the app user; the size's
/// memory (and no swap beyond it) and CPU; pids, open-file and process
/// limits; every capability dropped and none added; not privileged; no
/// privilege escalation (setuid); the default seccomp profile; bounded,
/// rotated output. Whatever `config` said about these is replaced.
pub fn confine_build(size: Size, mut config: ContainerConfig<String>) -> ContainerConfig<String> {
    let memory = i64::from(size.memory_mb()) * 1024 * 1024;
    let host = config.host_config.take().unwrap_or_default();
    config.user = Some(APP_USER.to_string());
    config.host_config = Some(HostConfig {
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some(i64::from(size.cpu_millis()) * 1_000_000),
        pids_limit: Some(PIDS_LIMIT),
        ulimits: Some(ulimits(NOFILE_LIMIT)),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: None,
        privileged: None,
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        readonly_rootfs: None,
        runtime: None,
        log_config: Some(log_config()),
        ..host
    });
    config
}

/// Most processes one add-on server may run (Postgres forks one per connection).
pub const SERVICE_PIDS_LIMIT: i64 = 512;
/// Open files of one add-on server process (Redis wants 32 above its 10000 clients).
pub const SERVICE_NOFILE_LIMIT: i64 = 16384;

/// The policy of the platform's own add-on servers (Postgres, Redis): the
/// image's service user (never root: the images set `USER`), `memory_mb`
/// of memory and no swap, pids and open-file limits, every capability
/// dropped, no privilege escalation, bounded output. They run no tenant
/// code, but hold tenant data, so they get no more than app processes do.
pub fn confine_service(memory_mb: i32, mut config: ContainerConfig<String>) -> ContainerConfig<String> {
    let memory = i64::from(memory_mb) * 1024 * 1024;
    let host = config.host_config.take().unwrap_or_default();
    config.user = None;
    config.host_config = Some(HostConfig {
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(SERVICE_PIDS_LIMIT),
        ulimits: Some(ulimits(SERVICE_NOFILE_LIMIT)),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: None,
        privileged: None,
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        log_config: Some(log_config()),
        ..host
    });
    config
}

/// `nofile`, soft = hard (a process cannot raise it).
pub(super) fn ulimits(nofile: i64) -> Vec<ResourcesUlimits> {
    vec![ResourcesUlimits { name: Some("nofile".into()), soft: Some(nofile), hard: Some(nofile) }]
}

/// Mount options of `/tmp`: bounded, no device files, no setuid, no exec.
fn tmp_options() -> String {
    format!("size={TMP_SIZE_MB}m,mode=1777,nosuid,nodev,noexec")
}

/// The writable app directory: an anonymous volume (no name, so removing
/// the container with `v` removes it) that the engine fills with the
/// image's `/app` when the container starts.
fn app_dir_mount(node: &str) -> Mount {
    let labels = HashMap::from([
        (super::label::MANAGED.to_string(), APP_DIR_VOLUME.to_string()),
        (super::label::NODE.to_string(), node.to_string()),
    ]);
    Mount {
        target: Some(APP_DIR.to_string()),
        source: None,
        typ: Some(MountTypeEnum::VOLUME),
        read_only: Some(false),
        volume_options: Some(MountVolumeOptions { no_copy: Some(false), labels: Some(labels), ..Default::default() }),
        ..Default::default()
    }
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
                readonly_rootfs: Some(false),
                runtime: Some("weak".into()),
                ulimits: Some(vec![]),
                network_mode: Some("paas-n1-shop".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let confined = confine(&Sandbox::default(), Size::Small, asked);
        assert_eq!(confined.user.as_deref(), Some(APP_USER));
        let host = confined.host_config.unwrap();
        assert_eq!((host.privileged, host.cap_add), (None, None));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.memory, Some(256 * 1024 * 1024));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.runtime, None, "the engine's default runtime unless the node sets one");
        assert_eq!(host.ulimits.map(|u| u.len()), Some(1));
        assert_eq!(host.network_mode.as_deref(), Some("paas-n1-shop"), "the rest is the caller's");
    }

    #[test]
    fn limits_follow_the_size() {
        for size in [Size::Small, Size::Standard, Size::Large] {
            let host = confine(&Sandbox::default(), size, ContainerConfig::default()).host_config.unwrap();
            let memory = i64::from(size.memory_mb()) << 20;
            assert_eq!((host.memory, host.memory_swap), (Some(memory), Some(memory)), "{size:?}: no swap");
            assert_eq!(host.nano_cpus, Some(i64::from(size.cpu_millis()) * 1_000_000));
            assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
        }
    }

    #[test]
    fn app_containers_write_only_to_the_app_directory_tmp_and_volumes() {
        let asked = ContainerConfig {
            labels: Some(HashMap::from([(super::super::label::NODE.to_string(), "n1".to_string())])),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount { target: Some("/app/instance".into()), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let host = confine(&Sandbox::default(), Size::Small, asked).host_config.unwrap();
        assert_eq!(host.readonly_rootfs, Some(true));
        let tmp = &host.tmpfs.expect("a tmpfs")["/tmp"];
        for option in ["size=64m", "nosuid", "nodev", "noexec"] {
            assert!(tmp.split(',').any(|o| o == option), "{option} in {tmp}");
        }
        let mounts = host.mounts.expect("mounts");
        let targets: Vec<_> = mounts.iter().map(|m| m.target.as_deref().unwrap()).collect();
        assert_eq!(targets, ["/app", "/app/instance"], "the app's volume stays, over the app directory");
        let app = &mounts[0];
        assert_eq!((app.typ, app.source.as_deref()), (Some(MountTypeEnum::VOLUME), None), "anonymous");
        let options = app.volume_options.as_ref().unwrap();
        assert_eq!(options.no_copy, Some(false), "filled from the image");
        assert_eq!(options.labels.as_ref().unwrap()[super::super::label::NODE], "n1");
        let limits: Vec<_> =
            host.ulimits.unwrap().into_iter().map(|u| (u.name.unwrap(), u.soft.unwrap(), u.hard.unwrap())).collect();
        assert_eq!(limits, [("nofile".into(), NOFILE_LIMIT, NOFILE_LIMIT)]);
    }

    #[test]
    fn the_node_runtime_reaches_app_containers_but_not_builds() {
        let sandbox = Sandbox { runtime: Some("runsc".into()) };
        let app = confine(&sandbox, Size::Small, ContainerConfig::default()).host_config.unwrap();
        assert_eq!(app.runtime.as_deref(), Some("runsc"));
        let build = confine_build(Size::Large, ContainerConfig::default()).host_config.unwrap();
        assert_eq!((build.runtime, build.readonly_rootfs), (None, None), "builds are committed: runc, writable");
        assert!(build.ulimits.is_some() && build.cap_drop.is_some());
    }
}
