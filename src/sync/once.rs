//! [`OnceCell`] and [`SetOnce`]: values set once, in tokio's shapes.
//!
//! Both keep the value in a `std::sync::OnceLock` (lock-free reads once set, and no `unsafe`
//! here). `OnceCell` adds a one-permit [`Semaphore`] so that at most one async initializer
//! runs at a time, the others waiting their turn in order (an initializer that fails,
//! panics or is cancelled gives the turn to the next); once the value is in, the semaphore is
//! closed, which wakes every waiter to read it. `SetOnce` adds a [`Notify`] for
//! [`wait`](SetOnce::wait).
//!
//! Not async-lock's `OnceCell`: its `set` is `async` (tokio's is not, and reports an
//! initialization in progress as an error instead of waiting), and it has no `SetOnce`.

use std::error::Error;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::OnceLock;
use std::task::Poll;

use super::{Notify, Semaphore, TryAcquireError};

/// A value set once, by [`set`](Self::set) or by the first
/// [`get_or_init`](Self::get_or_init) to run its initializer to the end; tokio's `OnceCell`.
///
/// ```
/// use heist::sync::OnceCell;
///
/// static CONFIG: OnceCell<String> = OnceCell::const_new();
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let tasks: Vec<_> = (0..4)
///         .map(|i| heist::spawn(async move {
///             // One initializer runs; the other tasks wait for its value.
///             CONFIG.get_or_init(|| async move { format!("from task {i}") }).await.clone()
///         }))
///         .collect();
///     let mut values = Vec::new();
///     for task in tasks {
///         values.push(task.await.unwrap());
///     }
///     assert!(values.iter().all(|value| value == CONFIG.get().unwrap()));
///     assert!(CONFIG.set("too late".into()).is_err());
/// });
/// ```
pub struct OnceCell<T> {
    value: OnceLock<T>,
    /// One permit: the turn to initialize. Closed once the value is set.
    turn: Semaphore,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        OnceCell {
            value: OnceLock::new(),
            turn: Semaphore::new(1),
        }
    }

    /// [`new`](Self::new), under tokio's name for the `const` constructor (for `static`s).
    pub const fn const_new() -> Self {
        Self::new()
    }

    /// A cell holding `value` if it is `Some`.
    pub fn new_with(value: Option<T>) -> Self {
        let cell = Self::new();
        if let Some(value) = value {
            let _ = cell.value.set(value);
            cell.turn.close();
        }
        cell
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, if set, mutably.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Whether the value is set.
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// Sets the value, unless it is set already or an initializer is running (then `value`
    /// comes back in the error).
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        match self.turn.try_acquire() {
            Ok(permit) => {
                // Our turn, so the value is not set: nobody else sets it without the permit.
                if let Err(value) = self.value.set(value) {
                    return Err(SetError::AlreadyInitializedError(value));
                }
                self.turn.close();
                drop(permit);
                Ok(())
            }
            Err(TryAcquireError::Closed) => Err(SetError::AlreadyInitializedError(value)),
            Err(_) => {
                if self.initialized() {
                    Err(SetError::AlreadyInitializedError(value))
                } else {
                    Err(SetError::InitializingError(value))
                }
            }
        }
    }

    /// The value, after running `init` to set it if it is not set yet. One initializer runs at
    /// a time; the others wait, and use its value. If an initializer is cancelled (its future
    /// dropped) or panics, the next waiter runs its own.
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(init().await) })
            .await
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// [`get_or_init`](Self::get_or_init) with a fallible initializer: an error is returned
    /// and leaves the cell empty, for the next initializer to try.
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.value.get() {
            super::spend_budget().await;
            return Ok(value);
        }
        // Closed (Err) means the value is in.
        let Ok(_turn) = self.turn.acquire().await else {
            return Ok(self.value.get().expect("the turn closes once the value is set"));
        };
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = init().await?;
        let value = match self.value.set(value) {
            Ok(()) => self.value.get().expect("just set"),
            Err(_) => unreachable!("only the turn's holder sets the value"),
        };
        self.turn.close();
        Ok(value)
    }

    /// The value, if set.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty (and ready for a new value).
    pub fn take(&mut self) -> Option<T> {
        let value = self.value.take();
        if value.is_some() {
            self.turn = Semaphore::new(1);
        }
        value
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell").field("value", &self.get()).finish()
    }
}

impl<T: Clone> Clone for OnceCell<T> {
    fn clone(&self) -> Self {
        Self::new_with(self.get().cloned())
    }
}

impl<T> From<T> for OnceCell<T> {
    fn from(value: T) -> Self {
        Self::new_with(Some(value))
    }
}

/// Why [`OnceCell::set`] did not set the value; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError<T> {
    /// The value was set already.
    AlreadyInitializedError(T),
    /// An initializer ([`OnceCell::get_or_init`]) is running.
    InitializingError(T),
}

impl<T> SetError<T> {
    /// Whether the value was set already.
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    /// Whether an initializer was running.
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetError::AlreadyInitializedError(_) => "the value is set already",
            SetError::InitializingError(_) => "the value is being initialized",
        })
    }
}

impl<T: fmt::Debug> Error for SetError<T> {}

/// A value set once by [`set`](Self::set), that tasks can [`wait`](Self::wait) for; tokio's
/// `SetOnce`.
///
/// ```
/// use std::sync::Arc;
/// use heist::sync::SetOnce;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let ready = Arc::new(SetOnce::new());
///     let waiter = {
///         let ready = ready.clone();
///         heist::spawn(async move { *ready.wait().await })
///     };
///     ready.set(42).unwrap();
///     assert_eq!(waiter.await.unwrap(), 42);
///     assert!(ready.set(0).is_err());
/// });
/// ```
pub struct SetOnce<T> {
    value: OnceLock<T>,
    set: Notify,
}

impl<T> SetOnce<T> {
    /// An empty `SetOnce`.
    pub const fn new() -> Self {
        SetOnce {
            value: OnceLock::new(),
            set: Notify::new(),
        }
    }

    /// [`new`](Self::new), under tokio's name for the `const` constructor (for `static`s).
    pub const fn const_new() -> Self {
        Self::new()
    }

    /// A `SetOnce` holding `value` if it is `Some`.
    pub fn new_with(value: Option<T>) -> Self {
        let cell = Self::new();
        if let Some(value) = value {
            let _ = cell.value.set(value);
        }
        cell
    }

    /// Sets the value and wakes the waiters, unless it is set already (then `value` comes back
    /// in the error).
    pub fn set(&self, value: T) -> Result<(), SetOnceError<T>> {
        self.value.set(value).map_err(SetOnceError)?;
        self.set.notify_waiters();
        Ok(())
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Whether the value is set.
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// Waits until the value is set, and returns it. Cancel safe.
    pub async fn wait(&self) -> &T {
        let mut notified = pin!(self.set.notified());
        poll_fn(|cx| {
            super::cooperative(cx, |cx| {
                loop {
                    if let Some(value) = self.value.get() {
                        return Poll::Ready(value);
                    }
                    std::task::ready!(notified.as_mut().poll_unbudgeted(cx));
                    notified.set(self.set.notified());
                }
            })
        })
        .await
    }

    /// The value, if set.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for SetOnce<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for SetOnce<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetOnce").field("value", &self.get()).finish()
    }
}

/// [`SetOnce::set`] found the value set already; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct SetOnceError<T>(pub T);

impl<T> fmt::Display for SetOnceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the value is set already")
    }
}

impl<T: fmt::Debug> Error for SetOnceError<T> {}
