//! Add-on plans: what each plan name gives (the one table of them).

use paas_types::addons::{AddonKind, AddonLimits};

/// One plan of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub name: &'static str,
    /// Postgres: its own server container instead of the node's shared one.
    pub dedicated: bool,
    pub connection_limit: Option<i32>,
    pub maxmemory_mb: Option<i32>,
    pub eviction_policy: Option<&'static str>,
    /// Memory of the add-on's own container (Redis, dedicated Postgres).
    pub memory_mb: i32,
}

const fn pg(name: &'static str, dedicated: bool, connections: i32, memory_mb: i32) -> Plan {
    Plan { name, dedicated, connection_limit: Some(connections), maxmemory_mb: None, eviction_policy: None, memory_mb }
}

const fn redis(name: &'static str, maxmemory_mb: i32, policy: &'static str, memory_mb: i32) -> Plan {
    Plan {
        name,
        dedicated: false,
        connection_limit: None,
        maxmemory_mb: Some(maxmemory_mb),
        eviction_policy: Some(policy),
        memory_mb,
    }
}

const POSTGRES: &[Plan] =
    &[pg("hobby", false, 20, 512), pg("standard", false, 60, 512), pg("dedicated", true, 100, 512)];
const REDIS: &[Plan] = &[
    redis("hobby", 25, "noeviction", 64),
    redis("standard", 100, "noeviction", 192),
    redis("cache", 100, "allkeys-lru", 192),
];

/// The plans of a kind; the first is the default.
pub fn plans(kind: AddonKind) -> &'static [Plan] {
    match kind {
        AddonKind::Postgres => POSTGRES,
        AddonKind::Redis => REDIS,
    }
}

/// The named plan of a kind (`None`: the default).
pub fn find(kind: AddonKind, name: Option<&str>) -> Option<Plan> {
    let plans = plans(kind);
    match name {
        None => plans.first().copied(),
        Some(name) => plans.iter().find(|p| p.name == name).copied(),
    }
}

impl Plan {
    pub fn limits(&self) -> AddonLimits {
        AddonLimits {
            connection_limit: self.connection_limit,
            maxmemory_mb: self.maxmemory_mb,
            eviction_policy: self.eviction_policy.map(str::to_string),
            memory_mb: self.memory_mb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_default_and_names_are_unique() {
        for kind in [AddonKind::Postgres, AddonKind::Redis] {
            assert!(find(kind, None).is_some());
            let mut names: Vec<_> = plans(kind).iter().map(|p| p.name).collect();
            names.dedup();
            assert_eq!(names.len(), plans(kind).len());
        }
        assert!(find(AddonKind::Postgres, Some("dedicated")).unwrap().dedicated);
        assert!(find(AddonKind::Redis, Some("dedicated")).is_none());
    }
}
