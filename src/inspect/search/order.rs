//! The ordered hand-over from the scanning threads to the one thread that emits matches: one
//! bounded queue per unit of work, opened when a thread starts the unit and at most a window
//! of units ahead of the emitter, which drains them in unit (address) order. Output is sorted
//! and memory bounded; a thread blocked on a later unit's full queue waits for earlier units,
//! which other threads are scanning or have finished, so this cannot deadlock.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex, MutexGuard};

/// How many items may wait, per unit, between a scanning thread and the emitter.
const QUEUE: usize = 1024;

/// The queues, one per unit.
pub(super) struct Queues<T> {
    state: Mutex<QueueState<T>>,
    ready: Condvar,
    window: usize,
}

struct QueueState<T> {
    slots: Vec<Option<Receiver<T>>>,
    consumed: usize,
    closed: bool,
}

impl<T> Queues<T> {
    /// Queues for `units` units, at most `window` of them open ahead of the emitter.
    pub(super) fn new(units: usize, window: usize) -> Queues<T> {
        Queues {
            state: Mutex::new(QueueState {
                slots: (0..units).map(|_| None).collect(),
                consumed: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            window,
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until unit `i` is within the window, then creates its queue; `None` once closed.
    /// Dropping the sender ends the unit for the emitter.
    pub(super) fn open(&self, i: usize) -> Option<SyncSender<T>> {
        let mut st = self.lock();
        while !st.closed && i >= st.consumed + self.window {
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.closed {
            return None;
        }
        let (tx, rx) = sync_channel(QUEUE);
        st.slots[i] = Some(rx);
        self.ready.notify_all();
        Some(tx)
    }

    /// Waits for unit `i`'s queue.
    pub(super) fn take(&self, i: usize) -> Receiver<T> {
        let mut st = self.lock();
        loop {
            if let Some(rx) = st.slots[i].take() {
                return rx;
            }
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The emitter has drained the first `n` units.
    pub(super) fn consumed(&self, n: usize) {
        self.lock().consumed = n;
        self.ready.notify_all();
    }

    /// The emitter stops: unblocks threads waiting on the window or on queues nobody will read.
    pub(super) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.slots.clear();
        self.ready.notify_all();
    }
}
