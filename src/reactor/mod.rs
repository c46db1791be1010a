//! The reactor (Go's netpoll), over `mio`.
//!
//! Not wired in yet: the reactor issue adds one `mio::Poll` per runtime, polled without
//! blocking by Ms in `find_runnable` and blocking by the one M with nothing else to do (with
//! the earliest timer as timeout), with `mio::Waker` as `netpoll_break`.
