//! `task_local!`: values that belong to a future rather than to a thread.
//!
//! A task-local key is a thread-local slot. [`LocalKey::scope`] wraps a future that owns the
//! value; each poll of that future moves the value into the slot, polls, and moves it back out
//! (a guard restores it even if the poll panics), so the value is visible to whatever runs
//! inside those polls and to nothing else, whichever thread polls the future next. Scopes nest:
//! an inner scope moves the outer value aside for the length of its own polls.
//! [`LocalKey::sync_scope`] does the same around one closure call.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys: `task_local! { static NAME: Type; }`, each a [`LocalKey`].
///
/// ```
/// heist_executor::task_local! {
///     static REQUEST_ID: u64;
/// }
///
/// let runtime = heist_executor::Runtime::new().unwrap();
/// runtime.block_on(REQUEST_ID.scope(7, async {
///     assert_eq!(REQUEST_ID.get(), 7);
///     heist_executor::yield_now().await;
///     REQUEST_ID.with(|id| assert_eq!(*id, 7));
/// }));
/// assert!(REQUEST_ID.try_with(|_| ()).is_err(), "gone outside the scope");
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_key {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = {
            ::std::thread_local! {
                static SLOT: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::LocalKey::__new(&SLOT)
        };
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
pub struct LocalKey<T: 'static> {
    slot: &'static std::thread::LocalKey<RefCell<Option<T>>>,
}

/// Returned by [`LocalKey::try_with`] outside the key's scope.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set: read it inside LocalKey::scope (or sync_scope) of this key")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(slot: &'static std::thread::LocalKey<RefCell<Option<T>>>) -> Self {
        LocalKey { slot }
    }

    /// Runs `future` with `value` set for this key during each of its polls; the value is
    /// dropped with the future.
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(future),
        }
    }

    /// Calls `f` with `value` set for this key.
    ///
    /// ```
    /// heist_executor::task_local!(static DEPTH: u32);
    ///
    /// let seen = DEPTH.sync_scope(1, || DEPTH.sync_scope(2, || DEPTH.get()) + DEPTH.get());
    /// assert_eq!(seen, 3);
    /// ```
    ///
    /// # Panics
    /// Inside [`with`](Self::with) of the same key, which holds the value borrowed.
    #[track_caller]
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut value = Some(value);
        let _swapped = self.swap_in(&mut value);
        f()
    }

    /// Calls `f` with the value in scope.
    ///
    /// # Panics
    /// Outside a scope of this key; [`try_with`](Self::try_with) returns an error instead.
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(result) => result,
            Err(error) => panic!("{error}"),
        }
    }

    /// Calls `f` with the value in scope, or returns an error outside a scope of this key.
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        self.slot
            .try_with(|slot| {
                let slot = slot.borrow();
                slot.as_ref().map(f).ok_or(AccessError(()))
            })
            .unwrap_or(Err(AccessError(())))
    }

    /// Moves `value` into the slot (and the slot's old value into `value`) until the guard
    /// is dropped, which swaps them back.
    #[track_caller]
    fn swap_in<'a>(&'static self, value: &'a mut Option<T>) -> Swapped<'a, T> {
        self.swap(value);
        Swapped { key: self, value }
    }

    #[track_caller]
    fn swap(&'static self, value: &mut Option<T>) {
        let swapped = self.slot.try_with(|slot| {
            let mut slot = slot.try_borrow_mut().unwrap_or_else(|_| {
                panic!(
                    "a task-local scope was entered inside LocalKey::with of the same key, \
                     which holds the value borrowed: enter the scope outside the closure"
                )
            });
            std::mem::swap(&mut *slot, value);
        });
        if swapped.is_err() {
            panic!(
                "a task-local scope was entered while the thread is exiting (its thread-locals \
                 are being destroyed): use task-local values before the thread ends"
            );
        }
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the value in scope.
    ///
    /// # Panics
    /// Outside a scope of this key.
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

struct Swapped<'a, T: 'static> {
    key: &'static LocalKey<T>,
    value: &'a mut Option<T>,
}

impl<T: 'static> Drop for Swapped<'_, T> {
    fn drop(&mut self) {
        // Cannot fail: the swap in succeeded on this thread, and any `with` borrow taken
        // inside the scope has ended.
        let _ = self.key.slot.try_with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut() {
                std::mem::swap(&mut *slot, self.value);
            }
        });
    }
}

/// The future of [`LocalKey::scope`].
#[must_use = "futures do nothing unless polled"]
pub struct TaskLocalFuture<T: 'static, F> {
    key: &'static LocalKey<T>,
    value: Option<T>,
    /// `None` once done: dropped inside the scope.
    future: Option<F>,
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture").finish_non_exhaustive()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is pinned structurally: never moved, only dropped in place (here
        // and in `drop`); `key` and `value` are not pinned (`value` moves in and out).
        let this = unsafe { self.get_unchecked_mut() };
        let key = this.key;
        let _swapped = key.swap_in(&mut this.value);
        let Some(future) = this.future.as_mut() else {
            panic!("a task-local scope's future was polled after it completed");
        };
        // SAFETY: as above.
        let poll = unsafe { Pin::new_unchecked(future) }.poll(cx);
        if poll.is_ready() {
            // In place, inside the scope: its destructor sees the value.
            this.future = None;
        }
        poll
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        if self.future.is_none() {
            return;
        }
        // Dropped inside the scope, as it was polled, unless the slot cannot be reached (a
        // thread exiting, or a `with` of this key around the drop): then outside it.
        let reachable = self
            .key
            .slot
            .try_with(|slot| slot.try_borrow_mut().is_ok())
            .unwrap_or(false);
        if reachable {
            let key = self.key;
            let _swapped = key.swap_in(&mut self.value);
            self.future = None;
        } else {
            self.future = None;
        }
    }
}
