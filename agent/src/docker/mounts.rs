//! How a container sees the app's volumes: named Docker volumes at their
//! mount paths.

use bollard::models::{Mount, MountTypeEnum, MountVolumeOptions};
use paas_types::agent::VolumeMount;

/// Docker mounts of `mounts`: named volumes, starting empty (what the image
/// has at the path is hidden, never copied into the volume).
pub fn docker_mounts(mounts: &[VolumeMount]) -> Option<Vec<Mount>> {
    (!mounts.is_empty()).then(|| {
        mounts
            .iter()
            .map(|m| Mount {
                target: Some(m.target.clone()),
                source: Some(m.volume.clone()),
                typ: Some(MountTypeEnum::VOLUME),
                read_only: Some(false),
                volume_options: Some(MountVolumeOptions { no_copy: Some(true), ..Default::default() }),
                ..Default::default()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_named_volumes_that_start_empty() {
        assert!(docker_mounts(&[]).is_none());
        let mounts = docker_mounts(&[VolumeMount { volume: "v".into(), target: "/app/instance".into() }]).unwrap();
        assert_eq!(mounts[0].typ, Some(MountTypeEnum::VOLUME));
        assert_eq!(mounts[0].target.as_deref(), Some("/app/instance"));
        assert_eq!(mounts[0].volume_options.as_ref().unwrap().no_copy, Some(true));
    }
}
