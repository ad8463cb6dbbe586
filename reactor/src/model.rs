//! What the executor's loom models need to exercise the reactor without real descriptors.

use crate::reactor::Registration;
use crate::source::Direction;
use crate::{Reactor, context};
use std::future::poll_fn;
use std::io;
use std::sync::Arc;

/// A registered source with no descriptor: readable only when a model says so.
#[derive(Debug)]
pub struct ModelSource {
    registration: Registration,
}

impl ModelSource {
    /// Registers a source with the current thread's reactor.
    pub fn new() -> io::Result<ModelSource> {
        let registration = Registration::new_for_model(context::current()?)?;
        Ok(ModelSource { registration })
    }

    /// Registers a source with `reactor`.
    pub fn with_reactor(reactor: Arc<Reactor>) -> io::Result<ModelSource> {
        Ok(ModelSource {
            registration: Registration::new_for_model(reactor)?,
        })
    }

    /// Waits until an event makes the source readable, then consumes the readiness (as a
    /// read that drained the descriptor would).
    pub async fn readable(&self) -> io::Result<()> {
        let mut id = None;
        let ready = poll_fn(|cx| self.registration.poll_ready_listed(Direction::Read, cx, &mut id)).await;
        if let Some(id) = id {
            self.registration.forget(id);
        }
        self.registration.clear(ready?);
        Ok(())
    }

    /// What the OS would do when data arrives: queue a readable event in the stand-in poller.
    pub fn make_readable(&self) {
        self.registration.inject(true, false);
    }

    /// How many events reached this source.
    pub fn ticks(&self) -> usize {
        self.registration.ticks()
    }

    /// The poller key (for assertions).
    pub fn key(&self) -> usize {
        self.registration.key()
    }
}

impl Drop for ModelSource {
    fn drop(&mut self) {
        self.registration.deregister_for_model();
    }
}
