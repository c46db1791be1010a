//! [`Ready`]: the readiness a wait observed (tokio's type of the same name).
//!
//! A `Ready` is a copy of what the reactor's poller recorded for the directions waited on
//! (`reactor::io_source::Readiness::ready` translates its bits).
//!
//! Invariant: as in tokio, a hang-up counts as readiness of its direction —
//! [`is_readable`](Ready::is_readable) is true after `READ_CLOSED` too (a read then returns
//! end-of-file at once instead of waiting), and [`is_writable`](Ready::is_writable) after
//! `WRITE_CLOSED` (a write then fails at once).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Sub};

mod bits {
    pub(super) const READABLE: usize = 1;
    pub(super) const WRITABLE: usize = 1 << 1;
    pub(super) const READ_CLOSED: usize = 1 << 2;
    pub(super) const WRITE_CLOSED: usize = 1 << 3;
    pub(super) const ERROR: usize = 1 << 4;
}

/// What was ready when a wait for readiness finished.
///
/// Returned by `ready(interest).await` on gmp's sockets and by
/// [`AsyncFdReadyGuard::ready`](crate::io::AsyncFdReadyGuard::ready).
///
/// ```
/// use gmp::io::Ready;
///
/// let r = Ready::READABLE | Ready::WRITE_CLOSED;
/// assert!(r.is_readable() && r.is_writable() && r.is_write_closed());
/// assert!(!r.is_read_closed() && !r.is_error());
/// assert!((r - Ready::READABLE - Ready::WRITE_CLOSED).is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ready(usize);

impl Ready {
    /// Nothing ready.
    pub const EMPTY: Ready = Ready(0);
    /// Readable: data (or a connection) is waiting.
    pub const READABLE: Ready = Ready(bits::READABLE);
    /// Writable: the socket can take more bytes.
    pub const WRITABLE: Ready = Ready(bits::WRITABLE);
    /// The read direction closed: the peer shut down its write side or hung up.
    pub const READ_CLOSED: Ready = Ready(bits::READ_CLOSED);
    /// The write direction closed: the peer is gone, writes fail.
    pub const WRITE_CLOSED: Ready = Ready(bits::WRITE_CLOSED);
    /// An error is pending on the source (read it with `take_error`), or the source was
    /// deregistered or its runtime shut down while a task waited.
    pub const ERROR: Ready = Ready(bits::ERROR);
    /// Every readiness bit.
    pub const ALL: Ready = Ready(
        bits::READABLE | bits::WRITABLE | bits::READ_CLOSED | bits::WRITE_CLOSED | bits::ERROR,
    );

    /// Nothing is ready.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Readable, or the read direction closed (a read will not wait).
    pub fn is_readable(self) -> bool {
        self.0 & (bits::READABLE | bits::READ_CLOSED) != 0
    }

    /// Writable, or the write direction closed (a write will not wait).
    pub fn is_writable(self) -> bool {
        self.0 & (bits::WRITABLE | bits::WRITE_CLOSED) != 0
    }

    /// The read direction closed.
    pub fn is_read_closed(self) -> bool {
        self.0 & bits::READ_CLOSED != 0
    }

    /// The write direction closed.
    pub fn is_write_closed(self) -> bool {
        self.0 & bits::WRITE_CLOSED != 0
    }

    /// An error is pending (see [`ERROR`](Ready::ERROR)).
    pub fn is_error(self) -> bool {
        self.0 & bits::ERROR != 0
    }
}

impl BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl BitAnd for Ready {
    type Output = Ready;

    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl Sub for Ready {
    type Output = Ready;

    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("is_readable", &self.is_readable())
            .field("is_writable", &self.is_writable())
            .field("is_read_closed", &self.is_read_closed())
            .field("is_write_closed", &self.is_write_closed())
            .field("is_error", &self.is_error())
            .finish()
    }
}
