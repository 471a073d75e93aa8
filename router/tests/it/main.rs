//! Router integration tests: real HTTP over loopback to real backend servers,
//! with an in-test stand-in for the API's route-table endpoint.

mod api_down;
mod cache;
mod routing;
mod slow_client;
mod smuggling;
mod statics;
mod support;
mod websocket;
