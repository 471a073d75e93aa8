//! Operations: every domain action of the platform, as a plain async
//! function over the pool (or a transaction) and the settings. They check
//! the rules (names, roles, limits), write in one transaction, record the
//! audit event and wake the scheduler. The surfaces (`routes` JSON, `web`
//! HTML, `git`) parse input, call these, and render the result; they never
//! call each other. Errors are `ApiError`s, which each surface renders its
//! own way.

pub mod addons;
pub mod apps;
pub mod builds;
pub mod cache;
pub mod config;
pub mod domains;
pub mod formation;
pub mod invitations;
pub mod logs;
pub mod members;
pub mod nodes;
pub mod process_routes;
pub mod releases;
pub mod rollouts;
pub mod routing;
pub mod runs;
pub mod tokens;
pub mod users;
pub mod volumes;
