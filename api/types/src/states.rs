//! Lifecycle states of builds, instances and nodes.
//!
//! Each is an enum serialised as the lowercase word the API has always sent,
//! so the wire format is unchanged; the database holds the same words under
//! a `CHECK` constraint of the same set (the API's tests compare the two).
//! With the `sqlx` feature they are stored and read as Postgres `text`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg(feature = "sqlx")]
use crate::text::sqlx_text;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// A word that is not one of a state enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState {
    /// The enum's name, e.g. `BuildStatus`.
    pub kind: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a valid {}", self.value, self.kind)
    }
}

impl std::error::Error for UnknownState {}

/// Defines a state enum with its words, `as_str`, `ALL`, `FromStr`,
/// `Display` and (with the `sqlx` feature) text encoding.
macro_rules! state_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(s: &str) -> Result<Self, UnknownState> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownState { kind: stringify!($name), value: s.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "sqlx")]
        sqlx_text!($name);
    };
}

state_enum! {
    /// Where a build is.
    BuildStatus {
        /// Waiting for an agent to claim it.
        Queued => "queued",
        /// An agent holds its lease and is building.
        Building => "building",
        /// The image exists; the build made a release.
        Succeeded => "succeeded",
        /// It failed, was cancelled or its lease ran out too often.
        Failed => "failed",
    }
}

impl BuildStatus {
    /// Whether the build has ended (succeeded or failed).
    pub fn is_finished(self) -> bool {
        matches!(self, BuildStatus::Succeeded | BuildStatus::Failed)
    }
}

state_enum! {
    /// What the scheduler wants of an instance.
    InstanceGoal {
        Running => "running",
        Stopped => "stopped",
    }
}

state_enum! {
    /// What an instance is doing, as its node last reported it.
    ActualState {
        /// Placed, not yet seen by its node.
        Pending => "pending",
        /// The container runs; a web process has not passed its health check yet.
        Starting => "starting",
        /// Running (and, for web, healthy): it may take traffic.
        Running => "running",
        /// Running but failing its health checks.
        Unhealthy => "unhealthy",
        /// Being stopped.
        Stopping => "stopping",
        Stopped => "stopped",
        /// Its process exited on its own.
        Crashed => "crashed",
        /// Its node stopped reporting.
        Lost => "lost",
    }
}

impl ActualState {
    /// Whether the instance is failing (as opposed to on its way up or down).
    pub fn is_failing(self) -> bool {
        matches!(self, ActualState::Crashed | ActualState::Unhealthy | ActualState::Lost)
    }
}

state_enum! {
    /// Whether a release took over from the one before it.
    ReleaseStatus {
        /// Rolling out: its instances start beside the previous release's.
        Pending => "pending",
        /// Every process type came up healthy: it serves, the previous one stopped.
        Promoted => "promoted",
        /// A process type crashed or never got healthy: the previous release serves.
        Failed => "failed",
    }
}

state_enum! {
    /// Whether a node takes instances.
    NodeState {
        /// Heartbeating: the scheduler places instances here.
        Up => "up",
        /// Missed its heartbeats: its instances moved elsewhere.
        Down => "down",
        /// Keeps what it runs, takes nothing new.
        Draining => "draining",
    }
}

state_enum! {
    /// What an API token may do, in increasing order of rights: each scope
    /// includes the ones before it.
    TokenScope {
        /// Look, never change (GET routes; config values and add-on URLs hidden).
        Read => "read",
        /// Ship and run code: push, builds, releases and rollback, scale,
        /// config, domains, routes, cache purges, one-off processes.
        Deploy => "deploy",
        /// Everything the owner can do (session logins are admin).
        Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_serde_and_from_str() {
        for status in BuildStatus::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<BuildStatus>(&json).unwrap(), *status);
            assert_eq!(status.as_str().parse::<BuildStatus>().unwrap(), *status);
        }
        for status in ReleaseStatus::ALL {
            assert_eq!(status.to_string().parse::<ReleaseStatus>().unwrap(), *status);
        }
        for state in ActualState::ALL {
            assert_eq!(state.to_string().parse::<ActualState>().unwrap(), *state);
        }
        assert_eq!(
            "RUNNING".parse::<InstanceGoal>().unwrap_err().to_string(),
            "\"RUNNING\" is not a valid InstanceGoal"
        );
    }
}
