//! Integration tests of the API: the real server on loopback HTTP, on its own
//! database in a throwaway Postgres cluster.

mod accounts;
mod acme;
mod addons;
mod apps;
mod auth;
mod cache;
mod errors;
mod isolation;
mod members;
mod openapi;
mod process_routes;
mod protocol;
mod resources;
mod scopes;
mod secrets;
mod states;
mod throttle;
mod volumes;
