//! The global runtime: Go always has one, so `gmp::spawn` and `gmp::block_on` work outside any
//! runtime too. It starts on first use with default settings and lives for the process.

use super::{Handle, Runtime};
use std::sync::OnceLock;

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

pub(crate) fn global_handle() -> &'static Handle {
    GLOBAL
        .get_or_init(|| {
            Runtime::builder()
                .thread_name("gmp-global")
                .build()
                .unwrap_or_else(|e| panic!("gmp: cannot start the global runtime: {e}"))
        })
        .handle()
}
