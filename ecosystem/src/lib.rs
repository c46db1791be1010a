//! Empty: this crate exists for its tests (see `tests/`).
