//! End-to-end tests live in `tests/`; test support is the `sentinel-testkit` crate in
//! `tests/support/`. This library is empty on purpose.
#![forbid(unsafe_code)]
