//! Label keys on every container (and volume) the agent creates: how a
//! restarted agent finds what is its node's.

pub const MANAGED: &str = "paas.managed";
pub const NODE: &str = "paas.node";
pub const APP: &str = "paas.app";
pub const RELEASE: &str = "paas.release";
pub const PROCESS_TYPE: &str = "paas.process_type";
pub const INSTANCE: &str = "paas.instance";
/// The `paas run` a session container belongs to.
pub const RUN: &str = "paas.run";
