//! The wheel: placing entries on levels, finding the next due slot, and cascading.

use std::fmt;

use crate::level::{Level, SLOTS_PER_LEVEL, SlotList};
use crate::slab::{Key, NIL, Slab};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = SLOTS_PER_LEVEL.trailing_zeros();
/// Ticks spanned by all levels together: 64^6 = 2^36.
const WHEEL_SPAN_BITS: u32 = SLOT_BITS * LEVELS as u32;
const WHEEL_SPAN_MASK: u64 = (1 << WHEEL_SPAN_BITS) - 1;
/// List id of the overflow list; level lists are numbered `level * 64 + slot`.
const OVERFLOW_LIST: u16 = (LEVELS * SLOTS_PER_LEVEL) as u16;
/// A batch bigger than this does not keep its buffer alive after `advance` returns.
const RETAINED_BATCH_CAPACITY: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Slot { level: usize, slot: usize },
    Overflow,
}

impl Location {
    /// Where an entry due at `deadline` belongs when the wheel stands at `now`.
    ///
    /// The level is the highest 6-bit digit in which `deadline` and `now` differ, so every
    /// entry on level `k` is due later than every entry on levels below `k`. Overdue
    /// deadlines go to the current level-0 slot, which the next `advance` drains.
    fn for_deadline(now: u64, deadline: u64) -> Self {
        let due = deadline.max(now);
        // Or-ing in the low digit makes "differ only in digit 0" (and "equal") level 0.
        let highest_differing_bit = 63 - ((now ^ due) | (SLOTS_PER_LEVEL as u64 - 1)).leading_zeros();
        let level = (highest_differing_bit / SLOT_BITS) as usize;
        if level >= LEVELS {
            return Self::Overflow;
        }
        Self::Slot {
            level,
            slot: digit(due, level),
        }
    }

    fn from_list_id(list_id: u16) -> Self {
        if list_id == OVERFLOW_LIST {
            return Self::Overflow;
        }
        let list_id = usize::from(list_id);
        Self::Slot {
            level: list_id / SLOTS_PER_LEVEL,
            slot: list_id % SLOTS_PER_LEVEL,
        }
    }

    fn list_id(self) -> u16 {
        match self {
            // At most 5 * 64 + 63, so it fits.
            Self::Slot { level, slot } => (level * SLOTS_PER_LEVEL + slot) as u16,
            Self::Overflow => OVERFLOW_LIST,
        }
    }
}

/// The 6-bit digit of `tick` that selects its slot on `level`.
fn digit(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS as usize * level)) as usize) & (SLOTS_PER_LEVEL - 1)
}

/// A hierarchical timer wheel; see the [crate documentation](crate) for the design.
pub struct Wheel<T> {
    slab: Slab<T>,
    levels: [Level; LEVELS],
    /// Entries due beyond the top level's span: the wheel's "farthest slot".
    overflow: SlotList,
    now: u64,
    /// Reused between `advance` calls so a steady state allocates nothing.
    batch: Vec<(Key, T)>,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("now", &self.now)
            .field("len", &self.len())
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty wheel at tick 0 with room for `capacity` timers before it allocates.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            slab: Slab::with_capacity(capacity),
            levels: [Level::EMPTY; LEVELS],
            overflow: SlotList::EMPTY,
            now: 0,
            batch: Vec::new(),
        }
    }

    /// The tick the wheel has advanced to.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// True when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedules `value` to fire at `deadline`. O(1).
    ///
    /// A `deadline <= now()` fires at the next [`advance`](Self::advance), whatever tick
    /// it advances to. Any `deadline` up to `u64::MAX` is accepted.
    ///
    /// # Panics
    ///
    /// If `u32::MAX - 1` timers are already pending.
    pub fn insert(&mut self, deadline: u64, value: T) -> Key {
        let key = self.slab.insert(deadline, value);
        self.link(key.index);
        key
    }

    /// Cancels the timer, returning its value, or `None` if `key` is stale (the timer
    /// already fired or was removed). O(1).
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let index = self.slab.resolve(key)?;
        self.unlink(index);
        Some(self.slab.free(index))
    }

    /// Moves the timer to `deadline`, keeping its key; `false` if `key` is stale. O(1).
    pub fn reset(&mut self, key: Key, deadline: u64) -> bool {
        let Some(index) = self.slab.resolve(key) else {
            return false;
        };
        self.unlink(index);
        self.slab.entry_mut(index).deadline = deadline;
        self.link(index);
        true
    }

    /// The deadline of a pending timer, or `None` if `key` is stale.
    pub fn deadline(&self, key: Key) -> Option<u64> {
        self.slab
            .resolve(key)
            .map(|index| self.slab.entry(index).deadline)
    }

    /// The value of a pending timer, or `None` if `key` is stale. O(1).
    pub fn get(&self, key: Key) -> Option<&T> {
        self.slab.value(self.slab.resolve(key)?)
    }

    /// The value of a pending timer, for example to replace its waker in place; `None` if
    /// `key` is stale. O(1).
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let index = self.slab.resolve(key)?;
        self.slab.value_mut(index)
    }

    /// A tick no later than the earliest pending deadline, or `None` if nothing is pending.
    /// O(levels).
    ///
    /// It is **exact** except after a cancellation: each slot remembers the smallest
    /// deadline pushed into it and does not raise that on [`remove`](Self::remove) or
    /// [`reset`](Self::reset) (raising it would need a scan of the slot). When the earliest
    /// timer was cancelled from a non-empty slot, the result is the earliest deadline that
    /// slot has held, but never earlier than the slot's first tick. Sleeping until the
    /// result and calling `advance` redistributes that slot and makes the answer exact
    /// again, so a cancellation costs at most one early wake-up per level.
    ///
    /// The result is greater than [`now`](Self::now) unless a timer due at or before
    /// `now()` is pending (inserted with such a deadline since the last `advance`); then it
    /// is at most `now()` and the caller should advance without sleeping.
    pub fn next_deadline(&self) -> Option<u64> {
        let (location, first_tick) = self.earliest_list()?;
        let list = self.list(location);
        Some(match location {
            // Level-0 slots hold a single deadline, except the current slot, whose overdue
            // entries are all due at or before its first tick.
            Location::Slot { level: 0, .. } => {
                debug_assert!(list.min_deadline() <= first_tick);
                list.min_deadline()
            }
            _ => list.min_deadline().max(first_tick),
        })
    }

    /// Advances time to `now` and fires every timer whose deadline is `<= now`.
    ///
    /// All due timers are removed from the wheel first and `fire` is then called once per
    /// timer, with its key (already stale) and value; the order among them is unspecified.
    /// A `now` earlier than [`now()`](Self::now) is treated as `now()`: time never goes
    /// back, but overdue timers still fire.
    ///
    /// Cost: O(occupied slots passed + timers fired + timers cascaded); each timer cascades
    /// at most once per level, and empty stretches of time are skipped via the bitmaps, so
    /// one huge jump costs no more than many small steps.
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(Key, T)) {
        let target = now.max(self.now);
        let mut batch = std::mem::take(&mut self.batch);
        while let Some((location, first_tick)) = self.earliest_list() {
            if first_tick > target {
                break;
            }
            // Stepping to the slot's first tick keeps every not-yet-visited entry where a
            // wheel at this tick would put it, so re-linking below lands on lower levels.
            self.now = first_tick;
            let mut index = match location {
                Location::Slot { level, slot } => self.levels[level].take(slot),
                Location::Overflow => self.overflow.take(),
            };
            while index != NIL {
                let entry = self.slab.entry(index);
                let next = entry.next;
                if entry.deadline <= target {
                    let key = self.slab.key_of(index);
                    batch.push((key, self.slab.free(index)));
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        self.now = target;
        for (key, value) in batch.drain(..) {
            fire(key, value);
        }
        batch.shrink_to(RETAINED_BATCH_CAPACITY);
        self.batch = batch;
    }

    /// The first non-empty list in deadline order, with the first tick it covers.
    ///
    /// Lower levels hold strictly earlier deadlines than higher ones, so the answer is the
    /// first occupied slot (from the current digit on) of the lowest non-empty level.
    fn earliest_list(&self) -> Option<(Location, u64)> {
        for (level_index, level) in self.levels.iter().enumerate() {
            if level.is_empty() {
                continue;
            }
            // Above level 0 the current digit's slot is always empty: entering it cascades it.
            let from = digit(self.now, level_index) + usize::from(level_index > 0);
            let slot = level.first_occupied_from(from);
            debug_assert!(slot.is_some(), "level {level_index} has a slot behind now");
            let Some(slot) = slot else { continue };
            let slot_shift = SLOT_BITS as usize * level_index;
            let level_span_mask = (1u64 << (slot_shift + SLOT_BITS as usize)) - 1;
            let first_tick = (self.now & !level_span_mask) | ((slot as u64) << slot_shift);
            return Some((
                Location::Slot {
                    level: level_index,
                    slot,
                },
                first_tick,
            ));
        }
        if self.overflow.is_empty() {
            return None;
        }
        // An overflow entry is due in a later 2^36-tick block than now, so a next block
        // exists; skipping straight to the block of the earliest deadline keeps a jump
        // across many empty blocks to one visit.
        let next_block = (self.now | WHEEL_SPAN_MASK).checked_add(1);
        debug_assert!(next_block.is_some(), "overflow entry due before now's block ends");
        let earliest_block = self.overflow.min_deadline() & !WHEEL_SPAN_MASK;
        Some((
            Location::Overflow,
            next_block.unwrap_or(u64::MAX).max(earliest_block),
        ))
    }

    fn list(&self, location: Location) -> &SlotList {
        match location {
            Location::Slot { level, slot } => self.levels[level].slot(slot),
            Location::Overflow => &self.overflow,
        }
    }

    fn link(&mut self, index: u32) {
        let location = Location::for_deadline(self.now, self.slab.entry(index).deadline);
        match location {
            Location::Slot { level, slot } => {
                self.levels[level].push(&mut self.slab, slot, index, location.list_id());
            }
            Location::Overflow => self.overflow.push(&mut self.slab, index, OVERFLOW_LIST),
        }
    }

    fn unlink(&mut self, index: u32) {
        match Location::from_list_id(self.slab.entry(index).list) {
            Location::Slot { level, slot } => self.levels[level].unlink(&mut self.slab, slot, index),
            Location::Overflow => self.overflow.unlink(&mut self.slab, index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_levels_follow_the_highest_differing_digit() {
        let at = |now, deadline| Location::for_deadline(now, deadline);
        assert_eq!(at(0, 0), Location::Slot { level: 0, slot: 0 });
        assert_eq!(at(10, 3), Location::Slot { level: 0, slot: 10 });
        assert_eq!(at(0, 63), Location::Slot { level: 0, slot: 63 });
        assert_eq!(at(0, 64), Location::Slot { level: 1, slot: 1 });
        assert_eq!(at(63, 64), Location::Slot { level: 1, slot: 1 });
        assert_eq!(at(0, (1 << 36) - 1), Location::Slot { level: 5, slot: 63 });
        assert_eq!(at(0, 1 << 36), Location::Overflow);
        assert_eq!(at((1 << 36) - 1, 1 << 36), Location::Overflow);
        assert_eq!(at(0, u64::MAX), Location::Overflow);
        assert_eq!(at(u64::MAX - 1, u64::MAX), Location::Slot { level: 0, slot: 63 });
    }

    #[test]
    fn list_ids_round_trip() {
        for level in 0..LEVELS {
            for slot in 0..SLOTS_PER_LEVEL {
                let location = Location::Slot { level, slot };
                assert_eq!(Location::from_list_id(location.list_id()), location);
            }
        }
        assert_eq!(
            Location::from_list_id(Location::Overflow.list_id()),
            Location::Overflow
        );
    }
}
