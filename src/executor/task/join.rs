//! `JoinHandle` and `JoinError`.

use super::core::{drop_reference, Header};
use super::{AbortHandle, TaskId};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] when the task panicked or was aborted.
/// Dropping it **detaches** the task: it keeps running and its output is dropped.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let h = gmp::spawn(async { 6 * 7 });
///     h.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out of the task, which requires `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the state word and sets the cancel bit.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference.
        unsafe { self.raw.as_ref() }
    }

    /// Cancel the task. A queued or waiting task is dropped by the next M that picks it up; a
    /// running one when its current poll returns. Awaiting the handle then gives a `JoinError`
    /// whose [`is_cancelled`](JoinError::is_cancelled) is true — unless the task finished first.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = gmp::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        super::abort::abort(self.raw);
    }

    /// An [`AbortHandle`] for this task: it can cancel the task from anywhere (it is `Clone`,
    /// `Send` and `Sync`) while this handle is awaited elsewhere.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = gmp::spawn(std::future::pending::<()>());
    ///     let abort = h.abort_handle();
    ///     let waiter = gmp::spawn(async move { h.await.unwrap_err().is_cancelled() });
    ///     abort.abort();
    ///     assert!(waiter.await.unwrap());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle::from_counted(self.raw)
    }

    /// True once the task has completed (with output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.header().id
    }

    /// Poll for the output with `waker`, skipping the cooperative-yield check of `poll` (for
    /// a container such as `JoinSet`, which checks once for the set, not once per handle).
    pub(crate) fn poll_output(&mut self, waker: &Waker) -> Poll<Result<T, JoinError>> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `out` has the type the vtable's `try_read_output` writes for this task.
        unsafe {
            (self.header().vtable.try_read_output)(self.raw, &mut out as *mut _ as *mut (), waker)
        };
        out
    }

    /// Register `waker` to be woken when the task completes, without reading the output;
    /// true when it has already completed (then the waker may never fire). `&mut self`: a
    /// registration is never concurrent with another one or with a poll.
    pub(crate) fn set_join_waker(&mut self, waker: &Waker) -> bool {
        let header = self.header();
        if header.state.load().is_complete() {
            return true;
        }
        header.register_join(waker);
        header.state.load().is_complete()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A leaf future: honour the preempt flag (the task has used up its time slice). (No
        // budget under loom, where the models poll the handle from plain threads.)
        #[cfg(not(loom))]
        std::task::ready!(crate::executor::coop::poll_proceed(cx));
        self.get_mut().poll_output(cx.waker())
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let header = self.header();
        if header.state.drop_join_handle_fast() {
            return;
        }
        let registered = match header.state.unset_join_interested() {
            Ok(registered) => registered,
            Err(registered) => {
                // Complete: the output is ours to drop.
                // SAFETY: COMPLETE with JOIN_INTEREST still set.
                unsafe { (header.vtable.drop_output)(self.raw) };
                registered
            }
        };
        if registered {
            drop(header.take_join());
        }
        // SAFETY: releasing the handle's reference.
        unsafe { drop_reference(self.raw) };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// Why a task produced no output: it panicked or was cancelled.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     let err = gmp::spawn(async { panic!("boom") }).await.unwrap_err();
///     assert!(err.is_panic());
///     let payload = err.into_panic();
///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// });
/// ```
pub struct JoinError {
    id: TaskId,
    repr: Repr,
}

enum Repr {
    Cancelled,
    // A Mutex makes the `Send`-only payload `Sync`, so `JoinError` fits `Box<dyn Error + Send + Sync>`.
    // Boxed: a panic is rare, and every task cell reserves room for a `Result<_, JoinError>`,
    // so the error stays two words (16 B, not 40) and small tasks stay in a smaller size class.
    Panic(Box<Mutex<Box<dyn Any + Send + 'static>>>),
}

impl JoinError {
    pub(crate) fn cancelled(id: TaskId) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: TaskId, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(Box::new(Mutex::new(payload))),
        }
    }

    /// True when the task was aborted or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True when the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload.
    ///
    /// # Panics
    /// When the error is not a panic; use [`try_into_panic`](Self::try_into_panic) to check.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("gmp: JoinError::into_panic called on a cancellation, not a panic")
    }

    /// The panic payload, or the error back when it was a cancellation.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> TaskId {
        self.id
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = p.downcast_ref::<&'static str>() {
            Some((*s).to_string())
        } else {
            p.downcast_ref::<String>().cloned()
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => {
                    write!(f, "task {} panicked with message {:?}", self.id, msg)?;
                    hint(f, &msg)
                }
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => {
                    write!(f, "JoinError::Panic({}, {:?}, ...)", self.id, msg)?;
                    hint(f, &msg)
                }
                None => write!(f, "JoinError::Panic({}, ...)", self.id),
            },
        }
    }
}

/// A tokio "no runtime" panic gets one more line: how to run tokio code on gmp.
fn hint(f: &mut fmt::Formatter<'_>, msg: &str) -> fmt::Result {
    #[cfg(not(loom))]
    if let Some(hint) = crate::executor::tokio_bridge::panic_hint(msg) {
        return write!(f, "\n{hint}");
    }
    #[cfg(loom)]
    let _ = (f, msg);
    Ok(())
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn join_error_is_two_words() {
        // Every task cell reserves room for a `Result<Output, JoinError>`.
        assert_eq!(std::mem::size_of::<super::JoinError>(), 16);
        assert_eq!(std::mem::size_of::<Result<(), super::JoinError>>(), 16);
    }
}
