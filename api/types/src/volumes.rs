//! Volumes: a named volume on one node, mounted into every process of an
//! app and into its release-phase container. The REST shapes, and the
//! parsing of a volume's size and mount path shared by the API (which
//! decides) and the CLI (which checks before sending).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::states::NodeState;

/// Size of a volume when none is asked for.
pub const DEFAULT_SIZE_MB: i32 = 1024;
/// Smallest size a volume may ask for.
pub const MIN_SIZE_MB: i32 = 16;
/// Largest size a volume may ask for (1 TiB).
pub const MAX_SIZE_MB: i32 = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateVolumeRequest {
    /// 2-30 characters of a-z, 0-9 and single hyphens, starting with a
    /// letter (like app names); unique within the app.
    #[cfg_attr(feature = "openapi", schema(min_length = 2, max_length = 30, pattern = r"^[a-z](-?[a-z0-9])+$"))]
    pub name: String,
    /// Where the volume appears in the app's containers: `/data`, or a path
    /// under `/data/` or `/app/` whose parts start with a letter, digit,
    /// `_` or `-` (so not `/app` itself, nor `/app/.venv`).
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = r"^(/data(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*|/app(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+)$"
        )
    )]
    pub mount: String,
    /// The size you plan for, in MiB (`512M`, 16M to 99999M) or GiB (`10G`,
    /// 1G to 1024G); default 1G. Docker local volumes have no quota: the size
    /// is checked against the usage the node reports, not enforced by the disk.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^((1[6-9]|[2-9][0-9]|[1-9][0-9]{2,4})M|([1-9][0-9]{0,2}|10[01][0-9]|102[0-4])G)$")
    )]
    pub size: Option<String>,
}

/// A volume as its app's users see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Volume {
    pub name: String,
    /// Mount path inside the app's containers.
    pub mount: String,
    /// The size asked for, in MiB (advisory: see `used_bytes`).
    pub size_mb: i32,
    /// The node that holds the data; the app's instances run there.
    pub node: String,
    pub node_state: NodeState,
    /// What the node last measured the volume to hold, if it has.
    pub used_bytes: Option<i64>,
    /// What is wrong and what to do, when something is (its node is down,
    /// it holds more than its size).
    pub hint: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Why a size was refused, in a sentence with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError(pub String);

impl std::fmt::Display for SizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SizeError {}

/// `512M` or `10G` (MiB or GiB, uppercase, no leading zero) -> MiB:
/// 16M to 99999M, or 1G to 1024G. [`normalize_size`] turns what people type
/// (`10g`, `512MiB`, `2GB`) into this form.
pub fn parse_size_mb(text: &str) -> Result<i32, SizeError> {
    let bad = || SizeError(format!("size {text:?} is not a size: write a number and M or G, e.g. 512M or 10G"));
    let (number, factor, longest) = match text.strip_suffix('M') {
        Some(number) => (number, 1, 5),
        None => (text.strip_suffix('G').ok_or_else(bad)?, 1024, 4),
    };
    let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) && !number.starts_with('0');
    if !digits {
        return Err(bad());
    }
    let out_of_range =
        || SizeError(format!("size {text:?} is out of range: a volume is 16M to 99999M, or 1G to 1024G"));
    if number.len() > longest {
        return Err(out_of_range());
    }
    let mb = number.parse::<i32>().map_err(|_| bad())? * factor;
    if !(MIN_SIZE_MB..=MAX_SIZE_MB).contains(&mb) {
        return Err(out_of_range());
    }
    Ok(mb)
}

/// What people type for a size, in the form [`parse_size_mb`] reads:
/// trimmed, uppercase, without a trailing `B`/`iB` (`512MiB` -> `512M`).
pub fn normalize_size(text: &str) -> String {
    let upper = text.trim().to_ascii_uppercase();
    let unit = upper.strip_suffix("IB").or_else(|| upper.strip_suffix('B')).unwrap_or(&upper);
    unit.to_string()
}

/// Whether `path` may be a mount point: `/data`, or under `/data/` or
/// `/app/` (never `/app`, where the code is), each part starting with a
/// letter, digit, `_` or `-` (no `.`, `..` or hidden directories such as
/// `/app/.venv`), at most 200 bytes. `None` when it may, else why not.
pub fn mount_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!("mount path {path:?} must be absolute, e.g. /app/instance or /data"));
    }
    if path.len() > 200 {
        return Some("mount paths are at most 200 characters".into());
    }
    let parts: Vec<&str> = path[1..].split('/').collect();
    let part_ok = |p: &&str| {
        p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    if !parts.iter().all(part_ok) {
        return Some(format!(
            "mount path {path:?} has an empty, hidden, '.' or '..' part, or characters other than letters, digits, '.', '_' and '-'"
        ));
    }
    match parts[0] {
        "app" if parts.len() == 1 => {
            Some("the mount path cannot be /app itself (the app's code is there): use a directory under it, e.g. /app/instance".into())
        }
        "app" | "data" => None,
        _ => Some(format!("mount path {path:?} must be /data or under /app/ or /data/ (system paths cannot be mounted over)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases = [("16M", 16), ("512M", 512), ("99999M", 99999), ("1G", 1024), ("10G", 10240), ("1024G", 1048576)];
        for (text, mb) in cases {
            assert_eq!(parse_size_mb(text), Ok(mb), "{text}");
        }
        for bad in ["", "G", "12", "1T", "1.5G", "-1G", "010G", "10g", "64MiB", "1 G", " 1G"] {
            let error = parse_size_mb(bad).expect_err(bad);
            assert!(error.0.contains("is not a size"), "{bad}: {error}");
        }
        for big in ["8M", "100000M", "1025G", "100000G", "99999999999G"] {
            let error = parse_size_mb(big).expect_err(big);
            assert!(error.0.contains("out of range"), "{big}: {error}");
        }
        for (typed, sent) in [("10g", "10G"), ("512MiB", "512M"), ("2GB", "2G"), (" 1G ", "1G"), ("1T", "1T")] {
            assert_eq!(normalize_size(typed), sent, "{typed}");
        }
    }

    #[test]
    fn mount_paths() {
        for good in ["/data", "/data/x", "/app/instance", "/app/var/db.d", "/app/_uploads", "/data/a-b/c_d"] {
            assert_eq!(mount_problem(good), None, "{good}");
        }
        let bad = [
            ("app/instance", "absolute"),
            ("/app", "/app itself"),
            ("/app/", "empty"),
            ("/etc", "system paths"),
            ("/", "empty"),
            ("/usr/lib", "system paths"),
            ("/application", "system paths"),
            ("/app/../etc", "'..'"),
            ("/app/./x", "'.'"),
            ("/app/.venv", "hidden"),
            ("/data//x", "empty"),
            ("/data/a b", "characters"),
        ];
        for (path, why) in bad {
            let problem = mount_problem(path).unwrap_or_else(|| panic!("{path} accepted"));
            assert!(problem.contains(why), "{path}: {problem}");
        }
        assert!(mount_problem(&format!("/data/{}", "x".repeat(200))).is_some());
    }
}
