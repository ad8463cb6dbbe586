//! Ctrl-C on Windows: a console control handler, installed once, counts `CTRL_C_EVENT`s and
//! wakes the tasks waiting for the next one.
//!
//! Windows runs console control handlers on a thread of its own, not inside an interrupted
//! thread as Unix runs signal handlers, so the handler may lock and wake tasks directly.

use crate::context;
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::sync::Mutex;
use std::task::{Poll, Waker};
use windows_sys::Win32::Foundation::{FALSE, TRUE};
use windows_sys::Win32::System::Console::{CTRL_C_EVENT, SetConsoleCtrlHandler};

struct Deliveries {
    installed: bool,
    /// Ctrl-C events seen since the handler was installed.
    count: u64,
    next_waiter: u64,
    waiters: Option<HashMap<u64, Waker>>,
}

static DELIVERIES: Mutex<Deliveries> = Mutex::new(Deliveries {
    installed: false,
    count: 0,
    next_waiter: 0,
    waiters: None,
});

fn deliveries() -> std::sync::MutexGuard<'static, Deliveries> {
    DELIVERIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

unsafe extern "system" fn on_console_event(event: u32) -> i32 {
    if event != CTRL_C_EVENT {
        // Not ours (Ctrl-Break, closing the console...): the next handler, or the default.
        return FALSE;
    }
    let waiters = {
        let mut deliveries = deliveries();
        deliveries.count += 1;
        deliveries.waiters.take()
    };
    for waker in waiters.into_iter().flat_map(HashMap::into_values) {
        waker.wake();
    }
    // Handled: the process is not ended, as on Unix once someone listens for SIGINT.
    TRUE
}

/// Installs the handler (once) and returns how many Ctrl-Cs it has seen so far.
fn listen() -> io::Result<u64> {
    context::current()?;
    let mut deliveries = deliveries();
    if !deliveries.installed {
        // SAFETY: `on_console_event` has the signature of a `PHANDLER_ROUTINE` and, being a
        // plain function, lives as long as the process.
        if unsafe { SetConsoleCtrlHandler(Some(on_console_event), TRUE) } == FALSE {
            return Err(io::Error::last_os_error());
        }
        deliveries.installed = true;
    }
    Ok(deliveries.count)
}

/// Waits for the next Ctrl-C (`CTRL_C_EVENT`) that arrives after this call.
///
/// The console handler is installed when `ctrl_c()` is called, if that happens inside a
/// runtime (otherwise when the future is first polled), so a Ctrl-C between the call and the
/// `.await` is not missed. Once installed, it keeps Ctrl-C from ending the process for the
/// rest of the process's life. Fails outside a runtime.
///
/// Unlike on Unix, the future does not fail when the runtime shuts down: it keeps waiting.
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let early = listen();
    async move {
        let seen = match early {
            Ok(seen) => seen,
            Err(_) => listen()?,
        };
        let id = {
            let mut deliveries = deliveries();
            deliveries.next_waiter += 1;
            deliveries.next_waiter
        };
        let _unregister = Unregister(id);
        poll_fn(|cx| {
            let mut deliveries = deliveries();
            if deliveries.count > seen {
                return Poll::Ready(Ok(()));
            }
            deliveries
                .waiters
                .get_or_insert_with(HashMap::new)
                .insert(id, cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// Forgets a waiter's waker when its future ends or is dropped.
struct Unregister(u64);

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(waiters) = deliveries().waiters.as_mut() {
            waiters.remove(&self.0);
        }
    }
}
