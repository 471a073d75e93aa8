//! CLI end-to-end tests (see the modules).
