//! Integration tests of the API: a real server on loopback, a real Postgres.
mod smoke;
