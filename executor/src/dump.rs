//! Task dumps: what every unfinished task of a runtime is doing, read from the owned-task list.
//!
//! Each task records, at no cost beyond its header, where it was spawned (a
//! `&'static Location`), when (milliseconds since the runtime started, a `u32` in what was
//! padding) and how often it was polled (a `u32` the polling thread bumps). A dump walks the
//! owned list one shard at a time under the shard's lock and copies those out with the state.

use crate::task::{Header, Id, OwnedTasks};
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// What a task is doing when the dump reads its state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting for a wake: no thread polls it and it is in no run queue.
    Idle,
    /// Woken (or just spawned, or aborted) and waiting in a run queue for a worker.
    Scheduled,
    /// A thread is polling it right now (a blocking job: running its closure).
    Running,
    /// Finished, and about to leave the list: its output waits for its `JoinHandle`.
    Complete,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
        })
    }
}

/// One task of a [`TaskDump`].
#[derive(Clone, Debug)]
pub struct TaskInfo {
    id: Id,
    location: &'static Location<'static>,
    state: TaskState,
    polls: u32,
    spawned: Duration,
    age: Duration,
}

impl TaskInfo {
    /// The task's id (the one its `JoinHandle` and `JoinError` report).
    pub fn id(&self) -> Id {
        self.id
    }

    /// Where the task was spawned: the caller of `spawn`, `spawn_blocking`, `JoinSet::spawn`
    /// and the like.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What the task was doing when it was read.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Times the task has been polled so far (wrapping at `u32::MAX`); a blocking job counts
    /// one poll once it has started.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// When the task was spawned, counted from the runtime's start, to the millisecond
    /// (saturating after 49 days).
    pub fn spawned_at(&self) -> Duration {
        self.spawned
    }

    /// How long ago the task was spawned, when the dump was taken, to the millisecond.
    pub fn age(&self) -> Duration {
        self.age
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {:<6} {:<9} polls={:<6} age={:.3}s spawned at {}",
            self.id,
            self.state,
            self.polls,
            self.age.as_secs_f64(),
            self.location
        )
    }
}

/// The unfinished tasks of a runtime at one moment: [`Handle::dump`](crate::Handle::dump).
///
/// Tasks are sorted by age, oldest first. Each shard of the task list is read under its lock,
/// so every task appears once, but the shards are read one after the other: a task spawned
/// or finished during the dump may or may not be in it.
///
/// `Display` writes one line per task:
/// `task <id> <state> polls=<n> age=<seconds>s spawned at <file>:<line>:<column>`.
#[derive(Clone, Debug, Default)]
pub struct TaskDump {
    tasks: Vec<TaskInfo>,
}

impl TaskDump {
    pub(crate) fn collect(owned: &OwnedTasks) -> TaskDump {
        let now_ms = owned.now_ms();
        let mut tasks = Vec::new();
        owned.for_each(|header, spawned_ms| tasks.push(info(header, spawned_ms, now_ms)));
        tasks.sort_by(|a: &TaskInfo, b| b.age.cmp(&a.age).then(a.id.cmp(&b.id)));
        TaskDump { tasks }
    }

    /// The tasks, oldest first.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }

    /// Number of tasks in the dump.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task was alive.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for task in &self.tasks {
            writeln!(f, "{task}")?;
        }
        Ok(())
    }
}

fn info(header: &Header, spawned_ms: u32, now_ms: u32) -> TaskInfo {
    let state = header.state.load();
    let state = if state.is_complete() {
        TaskState::Complete
    } else if state.is_running() {
        TaskState::Running
    } else if state.is_notified() {
        TaskState::Scheduled
    } else {
        TaskState::Idle
    };
    TaskInfo {
        id: header.id,
        location: header.location,
        state,
        polls: header.polls.load(Relaxed),
        spawned: Duration::from_millis(spawned_ms.into()),
        age: Duration::from_millis(now_ms.saturating_sub(spawned_ms).into()),
    }
}
