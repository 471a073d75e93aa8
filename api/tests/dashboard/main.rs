//! Tests of the dashboard: plain HTTP for isolation, CSRF and cookies, and a
//! real headless Chromium (Debian's `chromium` + `chromium-driver`) for the
//! developer's flow. Each test runs the real API on its own database.

mod addons;
mod browser;
mod http;
mod invitations;
mod support;
mod volumes;
