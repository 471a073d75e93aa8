//! Container sizes: the one place that maps a size to its memory, CPU and
//! default worker count.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::states::UnknownState;
#[cfg(feature = "sqlx")]
use crate::text::sqlx_text;

/// Container size of a process type; sets its memory and CPU limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Standard,
    Large,
}

impl Size {
    /// Every size, smallest first.
    pub const ALL: &'static [Size] = &[Size::Small, Size::Standard, Size::Large];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Standard => "standard",
            Size::Large => "large",
        }
    }

    /// Memory limit of one container of this size.
    pub fn memory_mb(self) -> i32 {
        match self {
            Size::Small => 256,
            Size::Standard => 512,
            Size::Large => 1024,
        }
    }

    /// CPU limit, in thousandths of a core.
    pub fn cpu_millis(self) -> i32 {
        match self {
            Size::Small => 250,
            Size::Standard => 500,
            Size::Large => 1000,
        }
    }

    /// Gunicorn workers that fit the size, the default `WEB_CONCURRENCY`.
    pub fn web_concurrency(self) -> i32 {
        match self {
            Size::Small => 1,
            Size::Standard => 2,
            Size::Large => 4,
        }
    }

    /// The workers an instance runs with, as the router caps it: its
    /// `WEB_CONCURRENCY` config var when set, else the size's default.
    /// `None` (no cap) when the config var is not a positive number.
    pub fn effective_web_concurrency(self, configured: Option<&str>) -> Option<u32> {
        match configured {
            Some(value) => value.trim().parse::<u32>().ok().filter(|n| *n > 0),
            None => u32::try_from(self.web_concurrency()).ok(),
        }
    }

    pub fn parse(s: &str) -> Option<Size> {
        match s {
            "small" => Some(Size::Small),
            "standard" => Some(Size::Standard),
            "large" => Some(Size::Large),
            _ => None,
        }
    }
}

impl std::str::FromStr for Size {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, UnknownState> {
        Size::parse(s).ok_or_else(|| UnknownState { kind: "Size", value: s.to_string() })
    }
}

#[cfg(feature = "sqlx")]
sqlx_text!(Size);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_concurrency_is_the_config_var_else_the_size_default() {
        assert_eq!(Size::Standard.effective_web_concurrency(None), Some(2));
        assert_eq!(Size::Large.effective_web_concurrency(None), Some(4));
        assert_eq!(Size::Small.effective_web_concurrency(Some("3")), Some(3));
        assert_eq!(Size::Small.effective_web_concurrency(Some(" 8 ")), Some(8));
        assert_eq!(Size::Small.effective_web_concurrency(Some("0")), None, "0 is no worker count: no cap");
        assert_eq!(Size::Small.effective_web_concurrency(Some("many")), None);
    }
}
