//! sysmon: the monitor thread that holds no P (Go's `sysmon`).
//!
//! Not running yet: the sysmon issue adds retake (syscall handoff for `spawn_blocking`),
//! time-slice preemption flags, stuck-P rescue and the netpoll fallback.
