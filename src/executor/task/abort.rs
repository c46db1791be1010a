//! `AbortHandle`: the right to cancel a task, without the right to its output.
//!
//! Invariants:
//! - An `AbortHandle` owns one reference on the task (taken by [`JoinHandle::abort_handle`]
//!   or `clone`, released by `drop`), so the header it reads stays alive however the task
//!   ends and whoever drops the `JoinHandle`; it never touches the stage (future or output).
//! - Aborting goes through the same state transition as [`JoinHandle::abort`]
//!   (`transition_to_notified_and_cancel`): a complete or already cancelled task is left
//!   alone, and a task that is idle gets exactly one queue entry, whose reference the
//!   transition added; the handle's own reference keeps the cell alive while that entry is
//!   published (another M may run and free it at once).
//!
//! [`JoinHandle::abort_handle`]: super::JoinHandle::abort_handle
//! [`JoinHandle::abort`]: super::JoinHandle::abort

use super::core::{drop_reference, Header};
use super::TaskId;
use std::fmt;
use std::ptr::NonNull;

/// Cancels a task without owning its output: a cloneable, shareable companion of its
/// [`JoinHandle`](crate::JoinHandle) (tokio's `AbortHandle`).
///
/// Get one from [`JoinHandle::abort_handle`](crate::JoinHandle::abort_handle) or
/// [`JoinSet::spawn`](crate::task::JoinSet::spawn). Dropping it does nothing to the task.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = gmp::spawn(std::future::pending::<()>());
///     let abort = h.abort_handle();
///     // Cancel from another task while this one awaits the JoinHandle.
///     gmp::spawn(async move { abort.abort() });
///     assert!(h.await.unwrap_err().is_cancelled());
/// });
/// ```
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: an `AbortHandle` reads the header's atomics and id and queues the task through its
// scheduler, all of which are thread-safe; it never touches the future or the output.
unsafe impl Send for AbortHandle {}
// SAFETY: as above: every method takes `&self` and only does atomic operations.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Adopt a reference the caller has already added.
    pub(super) fn from_counted(raw: NonNull<Header>) -> AbortHandle {
        AbortHandle { raw }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference.
        unsafe { self.raw.as_ref() }
    }

    /// Cancel the task, exactly as [`JoinHandle::abort`](crate::JoinHandle::abort) does. A
    /// task that has already finished is left alone (its output, if any, stays for its
    /// `JoinHandle`).
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = gmp::spawn(async { 5 });
    ///     let abort = h.abort_handle();
    ///     while !abort.is_finished() {
    ///         gmp::yield_now().await;
    ///     }
    ///     abort.abort(); // too late: nothing happens
    ///     assert_eq!(h.await.unwrap(), 5);
    /// });
    /// ```
    pub fn abort(&self) {
        abort(self.raw);
    }

    /// True once the task has completed (with output, panic or cancellation).
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = gmp::spawn(std::future::pending::<()>());
    ///     let abort = h.abort_handle();
    ///     assert!(!abort.is_finished());
    ///     abort.abort();
    ///     let _ = h.await;
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id (the same as its `JoinHandle`'s).
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let h = rt.spawn(async {});
    /// assert_eq!(h.abort_handle().id(), h.id());
    /// # rt.block_on(h).unwrap();
    /// ```
    pub fn id(&self) -> TaskId {
        self.header().id
    }
}

/// Cancel the task behind `raw` (a reference the caller holds keeps it alive throughout).
pub(super) fn abort(raw: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let header = unsafe { raw.as_ref() };
    if header.state.transition_to_notified_and_cancel() {
        // SAFETY: the transition made the entry's reference; ours lasts through the call.
        unsafe { (header.vtable.schedule)(raw) };
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: releasing the handle's reference.
        unsafe { drop_reference(self.raw) };
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::AbortHandle;

    #[test]
    fn abort_handle_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + Unpin + 'static>() {}
        check::<AbortHandle>();
    }
}
