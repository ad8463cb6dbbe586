//! One level of the wheel: 64 slot lists and a bitmap of which are non-empty.

use crate::slab::{NIL, Slab};

pub(crate) const SLOTS_PER_LEVEL: usize = 64;

/// An intrusive doubly linked list of slab entries, plus a lower bound on their deadlines.
#[derive(Clone, Copy)]
pub(crate) struct SlotList {
    head: u32,
    /// The minimum deadline ever pushed since the list was last empty. Removing the
    /// earliest entry does not raise it (that would cost a scan), so it is a lower bound
    /// that is exact as long as no entry left the list except by emptying it.
    min_deadline: u64,
}

impl SlotList {
    pub(crate) const EMPTY: Self = Self {
        head: NIL,
        min_deadline: u64::MAX,
    };

    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    pub(crate) fn min_deadline(&self) -> u64 {
        self.min_deadline
    }

    pub(crate) fn push<T>(&mut self, slab: &mut Slab<T>, index: u32, list_id: u16) {
        let entry = slab.entry_mut(index);
        entry.prev = NIL;
        entry.next = self.head;
        entry.list = list_id;
        let deadline = entry.deadline;
        if self.head != NIL {
            slab.entry_mut(self.head).prev = index;
        }
        self.head = index;
        self.min_deadline = self.min_deadline.min(deadline);
    }

    /// Unlinks an entry that is on this list.
    pub(crate) fn unlink<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let (prev, next) = {
            let entry = slab.entry(index);
            (entry.prev, entry.next)
        };
        if prev == NIL {
            debug_assert_eq!(self.head, index);
            self.head = next;
        } else {
            slab.entry_mut(prev).next = next;
        }
        if next != NIL {
            slab.entry_mut(next).prev = prev;
        }
        if self.head == NIL {
            self.min_deadline = u64::MAX;
        }
    }

    /// Empties the list, returning its old head; the entries stay chained through `next`.
    pub(crate) fn take(&mut self) -> u32 {
        std::mem::replace(self, Self::EMPTY).head
    }
}

pub(crate) struct Level {
    /// Bit `i` is set exactly when `slots[i]` is non-empty.
    occupied: u64,
    slots: [SlotList; SLOTS_PER_LEVEL],
}

impl Level {
    pub(crate) const EMPTY: Self = Self {
        occupied: 0,
        slots: [SlotList::EMPTY; SLOTS_PER_LEVEL],
    };

    pub(crate) fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    /// The first non-empty slot at index `from` or later.
    pub(crate) fn first_occupied_from(&self, from: usize) -> Option<usize> {
        if from >= SLOTS_PER_LEVEL {
            return None;
        }
        let candidates = self.occupied & (u64::MAX << from);
        (candidates != 0).then(|| candidates.trailing_zeros() as usize)
    }

    pub(crate) fn slot(&self, slot: usize) -> &SlotList {
        &self.slots[slot]
    }

    pub(crate) fn push<T>(&mut self, slab: &mut Slab<T>, slot: usize, index: u32, list_id: u16) {
        self.slots[slot].push(slab, index, list_id);
        self.occupied |= 1 << slot;
    }

    pub(crate) fn unlink<T>(&mut self, slab: &mut Slab<T>, slot: usize, index: u32) {
        self.slots[slot].unlink(slab, index);
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
        }
    }

    pub(crate) fn take(&mut self, slot: usize) -> u32 {
        self.occupied &= !(1 << slot);
        self.slots[slot].take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_occupied_from_respects_the_start_index() {
        let mut level = Level::EMPTY;
        assert_eq!(level.first_occupied_from(0), None);
        level.occupied = (1 << 3) | (1 << 63);
        assert_eq!(level.first_occupied_from(0), Some(3));
        assert_eq!(level.first_occupied_from(3), Some(3));
        assert_eq!(level.first_occupied_from(4), Some(63));
        assert_eq!(level.first_occupied_from(63), Some(63));
        assert_eq!(level.first_occupied_from(64), None);
    }
}
