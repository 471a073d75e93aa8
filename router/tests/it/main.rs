//! Router integration tests: real HTTP over loopback to real backend servers,
//! with an in-test stand-in for the API's route-table endpoint.

mod acme_challenge;
mod api_down;
mod cache;
mod h2;
mod process_routes;
mod queueing;
mod routing;
mod slow_client;
mod smuggling;
mod statics;
mod streaming;
mod support;
mod tls;
mod websocket;
