//! Entry storage: a `Vec` with a free list and per-entry generations.
//!
//! Besides the value, every entry carries the links of the intrusive slot list it sits on,
//! so moving an entry between slots never touches the allocator.

/// A handle to one timer in a [`Wheel`](crate::Wheel).
///
/// Keys are generational: once the timer has fired or been removed, its key stays stale
/// forever, even after the slab reuses the storage for a newer timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// Sentinel for "no entry" in list links and the free list.
pub(crate) const NIL: u32 = u32::MAX;

/// One timer: its deadline, its value, and its place in a slot list.
///
/// For a 16-byte `T` such as [`std::task::Waker`] an entry is **40 bytes**
/// (`Option<Waker>` reuses the waker's non-null niche, and the `u16` list id fills what
/// would otherwise be alignment padding); `entry_size_for_a_waker` measures it.
pub(crate) struct Entry<T> {
    pub(crate) deadline: u64,
    /// Previous entry in the same slot list, or [`NIL`] if this is the head.
    pub(crate) prev: u32,
    /// Next entry in the same slot list; for a vacant entry, the next free index.
    pub(crate) next: u32,
    /// Bumped every time the entry is freed, so keys handed out earlier go stale.
    generation: u32,
    /// Which slot list holds the entry (see `wheel::ListId`).
    pub(crate) list: u16,
    /// `None` exactly when the entry is vacant.
    value: Option<T>,
}

pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            free_head: NIL,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` with unset links; the caller links it into a slot list.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> Key {
        self.len += 1;
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            self.free_head = entry.next;
            entry.deadline = deadline;
            entry.prev = NIL;
            entry.next = NIL;
            entry.value = Some(value);
            return Key {
                index,
                generation: entry.generation,
            };
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&index| index != NIL)
            .expect("heist-timer: more than u32::MAX - 1 timers");
        self.entries.push(Entry {
            deadline,
            prev: NIL,
            next: NIL,
            generation: 0,
            list: 0,
            value: Some(value),
        });
        Key { index, generation: 0 }
    }

    /// Index of the live entry `key` names, or `None` if the key is stale.
    pub(crate) fn resolve(&self, key: Key) -> Option<u32> {
        let entry = self.entries.get(key.index as usize)?;
        (entry.generation == key.generation && entry.value.is_some()).then_some(key.index)
    }

    pub(crate) fn key_of(&self, index: u32) -> Key {
        Key {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Vacates a live entry that is no longer on any list and returns its value.
    pub(crate) fn free(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        let value = entry.value.take().expect("heist-timer: freeing a vacant entry");
        self.len -= 1;
        // Retiring an index whose generation would wrap keeps the "stale keys never match"
        // promise absolute, at the price of one leaked entry per 2^32 reuses of one index.
        if entry.generation < u32::MAX {
            entry.generation += 1;
            entry.next = self.free_head;
            self.free_head = index;
        }
        value
    }

    pub(crate) fn value(&self, index: u32) -> Option<&T> {
        self.entries[index as usize].value.as_ref()
    }

    pub(crate) fn value_mut(&mut self, index: u32) -> Option<&mut T> {
        self.entries[index as usize].value.as_mut()
    }

    pub(crate) fn entry(&self, index: u32) -> &Entry<T> {
        &self.entries[index as usize]
    }

    pub(crate) fn entry_mut(&mut self, index: u32) -> &mut Entry<T> {
        &mut self.entries[index as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_size_for_a_waker() {
        assert_eq!(size_of::<std::task::Waker>(), 16);
        assert_eq!(size_of::<Entry<std::task::Waker>>(), 40);
    }

    #[test]
    fn freed_index_is_reused_with_a_new_generation() {
        let mut slab = Slab::with_capacity(0);
        let first = slab.insert(5, "a");
        assert_eq!(slab.free(first.index), "a");
        assert_eq!(slab.resolve(first), None);
        let second = slab.insert(6, "b");
        assert_eq!(second.index, first.index);
        assert_ne!(second, first);
        assert_eq!(slab.resolve(first), None);
        assert_eq!(slab.resolve(second), Some(second.index));
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn exhausted_generation_retires_the_index() {
        let mut slab = Slab::with_capacity(0);
        let key = slab.insert(0, ());
        slab.entries[key.index as usize].generation = u32::MAX;
        slab.free(key.index);
        let next = slab.insert(0, ());
        assert_ne!(next.index, key.index);
    }
}
