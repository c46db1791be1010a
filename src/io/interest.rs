//! [`Interest`]: which readiness a caller waits for (tokio's type of the same name).
//!
//! Invariant: an `Interest` is never empty — every constructor yields READABLE, WRITABLE or
//! both ([`remove`](Interest::remove) returns `None` rather than an empty one), because the
//! reactor cannot register a source for nothing.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

const READABLE: u8 = 1;
const WRITABLE: u8 = 1 << 1;

/// Readiness to wait for: [`READABLE`](Interest::READABLE), [`WRITABLE`](Interest::WRITABLE),
/// or both (`Interest::READABLE | Interest::WRITABLE`).
///
/// Used by [`AsyncFd::with_interest`](crate::io::AsyncFd::with_interest) (what to register
/// with the reactor) and by `ready`/`try_io` on gmp's sockets (what to wait for).
///
/// ```
/// use gmp::io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    /// Interest in reading: data to read, a pending connection to accept, or end-of-file.
    pub const READABLE: Interest = Interest(READABLE);
    /// Interest in writing: room in the send buffer, or a finished `connect`.
    pub const WRITABLE: Interest = Interest(WRITABLE);

    /// Whether this includes [`READABLE`](Interest::READABLE).
    pub const fn is_readable(self) -> bool {
        self.0 & READABLE != 0
    }

    /// Whether this includes [`WRITABLE`](Interest::WRITABLE).
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE != 0
    }

    /// The union of `self` and `other` (also available as `|`).
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// `self` without `other`, or `None` when nothing would be left.
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match self.0 & !other.0 {
            0 => None,
            bits => Some(Interest(bits)),
        }
    }

    /// The same interest for mio's registry.
    pub(crate) fn to_mio(self) -> mio::Interest {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE,
        }
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (false, true) => f.write_str("WRITABLE"),
            _ => f.write_str("READABLE"),
        }
    }
}
