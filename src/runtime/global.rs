//! The global runtime: Go always has one, so `gmp::spawn` and `gmp::block_on` work outside any
//! runtime too. It starts on first use with default settings and lives for the process.

//!
//! Under loom there is none: a runtime outlives no model (its loom objects belong to one
//! execution), so a model builds its own and `global_handle` panics.

use super::Handle;
#[cfg(not(loom))]
use super::Runtime;
#[cfg(not(loom))]
use std::sync::OnceLock;

#[cfg(not(loom))]
static GLOBAL: OnceLock<Runtime> = OnceLock::new();

#[cfg(not(loom))]
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

#[cfg(loom)]
pub(crate) fn global_handle() -> &'static Handle {
    panic!("gmp: no global runtime under loom: build a runtime inside the model and enter it")
}
