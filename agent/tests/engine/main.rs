//! End-to-end tests on the real Docker engine: the real API (throwaway
//! Postgres) and real agents in this process, the fixture apps in
//! `fixtures/apps/`, containers reached on ports published on 127.0.0.1.
//! Needs `dockerd` and the base image (`deploy/prereqs.sh`).

mod addons;
mod deploy;
mod nodes;
mod one_off;
mod process_routes;
mod process_state;
mod python_apps;
mod rollout;
mod sandbox;
mod statics;
mod volumes;
