//! The cross-core ring: a bounded, lock-free, single-producer single-consumer queue that
//! carries envelopes from one shard to another (one ring per ordered pair of shards,
//! DESIGN.md §4). Shards never share a lock; this ring is the only way their cores talk, so it
//! is kept small, batched, and tested under `loom` and against a `VecDeque` model.
//!
//! # Shape
//!
//! [`channel`] allocates `capacity` slots (a power of two, fixed at start-up) and returns the
//! two halves. [`Producer`] and [`Consumer`] are `Send` (each is moved to its shard's thread)
//! but neither `Sync` nor `Clone`: there is exactly one of each. Items move by value, so
//! ownership of an envelope passes through the ring. A push on a full ring hands the item
//! back; the ring never blocks and never drops. Teardown drops each item exactly once:
//! pushed-but-uncommitted items die with the [`Producer`] (the consumer never saw them),
//! committed-but-unconsumed ones with whichever half goes last.
//!
//! Two free-running indices (wrapping `usize` counters; slot = index & mask) live on separate
//! 128-byte lines so the producer's stores never invalidate the consumer's line and the
//! reverse:
//!
//! - `tail`: written only by the producer. Slots in `[head, tail)` hold committed items.
//! - `head`: written only by the consumer. Slots in `[tail, head + capacity)` are free.
//!
//! Architecture Invariant: `0 <= tail - head <= capacity` (wrapping), and every slot in
//! `[head, tail)` holds an initialised item that only the consumer may read, every slot
//! outside it is uninitialised or owned by the producer's private, uncommitted batch.
//!
//! # Batching
//!
//! Each half keeps private copies of the indices so that the shared lines are touched once
//! per batch, not once per item. The producer writes slots behind a private tail and makes
//! them visible with one `Release` store in [`Producer::commit`]; it reloads the consumer's
//! head (`Acquire`) only when its cached view says the ring is full. The consumer reads items
//! up to a cached tail, reloads the tail (`Acquire`) only when that cache runs dry, and
//! publishes its head (`Release`) when the cache runs dry, at the end of a
//! [`Consumer::drain`], or every `head_publish_interval` pops (at most a quarter of the ring,
//! at most [`HEAD_PUBLISH_INTERVAL_MAX`]) so a long batch does not starve the producer of
//! space. The `Release`/`Acquire` pairs are what make a slot's contents visible to the reader
//! and its reuse safe for the writer.
//!
//! # Wake-up protocol
//!
//! The consumer's shard sleeps in its event loop; the producer rings a doorbell (eventfd or
//! io_uring `MSG_RING`, not this module's concern) only when [`Producer::commit`] returns
//! `true`, i.e. when the ring went from empty to non-empty as the consumer sees it. The
//! doorbell must be level-triggered (a ring before the consumer sleeps is not lost), as both
//! eventfd and a pending CQE are. The two sides run a Dekker-style handshake:
//!
//! ```text
//! producer (commit)                       consumer (is_empty_for_sleep)
//!   store tail = new_tail (Release)         store head = head_private (Release)
//!   fence(SeqCst)                           fence(SeqCst)
//!   load head                               load tail
//!   wake if head == tail before the batch   sleep if tail == head_private
//! ```
//!
//! The two `SeqCst` fences are totally ordered. If the consumer's fence comes first, the
//! producer's head load sees the consumer's head store (or a later one), so it sees that the
//! consumer had taken everything before this batch and wakes it. If the producer's fence comes
//! first, the consumer's tail load sees the new tail and it does not sleep. Either side sees
//! the other's store; there is no interleaving in which the consumer sleeps on a non-empty
//! ring with no doorbell coming. Two consequences a caller must respect:
//!
//! - The consumer publishes its head lazily, so `commit` may return `false` while the
//!   consumer has in fact taken everything (its head is not yet published). That is safe only
//!   because the consumer always calls [`Consumer::is_empty_for_sleep`] before it sleeps,
//!   which publishes the head and re-checks the tail. A consumer must never sleep on `pop`
//!   or `drain` returning nothing.
//! - `commit` may also return `true` when the consumer is awake and busy (it had just caught
//!   up); the doorbell is then spurious but harmless.
//!
//! # Testing
//!
//! Unit tests and a property test against `VecDeque` run with plain `cargo test`. The `loom`
//! models (tiny ring, every interleaving of the index and fence operations, and the
//! no-lost-wake-up property) run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --lib router::ring::loom_tests
//! ```
//!
//! In the test build under `cfg(loom)` the atomics, `Arc` and `UnsafeCell` below come from
//! `loom` (the `sync` shim; loom is a dev-dependency, so other builds keep `std`'s), and loom
//! also checks that no slot is read while it is written. The models are tiny (a ring of 2 or
//! 8, two or three items) so the whole set runs in well under a minute; the one where the
//! ring fills bounds preemptions at 6, beyond which it takes minutes.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;

use self::sync::{fence, load_exclusive, Arc, AtomicUsize, Ordering, UnsafeCell};

/// The largest ring [`channel`] accepts: 2^20 slots is far beyond any useful batch between two
/// cores (a ring that deep only adds latency) and keeps a ring of pointer-sized envelopes
/// under 8 MiB.
pub const RING_CAPACITY_MAX: usize = 1 << 20;

/// The most items the consumer takes before it publishes its head, so a producer waiting for
/// space sees progress within one small batch even on a large ring.
pub const HEAD_PUBLISH_INTERVAL_MAX: usize = 64;

// Wrapping index arithmetic (`tail - head`) is exact only while the ring is far smaller than
// the index space.
const _: () = assert!(RING_CAPACITY_MAX.is_power_of_two());
const _: () = assert!(RING_CAPACITY_MAX <= usize::MAX / 2);
const _: () = assert!(HEAD_PUBLISH_INTERVAL_MAX >= 1);

/// `std` primitives normally, `loom`'s in the test build under `cfg(loom)`, so the model
/// checker sees every atomic access and every slot access.
mod sync {
    #[cfg(all(test, loom))]
    pub(super) use loom::{
        cell::UnsafeCell,
        sync::{
            atomic::{fence, AtomicUsize, Ordering},
            Arc,
        },
    };
    #[cfg(not(all(test, loom)))]
    pub(super) use std::sync::{
        atomic::{fence, AtomicUsize, Ordering},
        Arc,
    };

    /// `std::cell::UnsafeCell` with loom's closure-based interface, so the ring's code is the
    /// same under both.
    #[cfg(not(all(test, loom)))]
    #[derive(Debug)]
    pub(super) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(all(test, loom)))]
    impl<T> UnsafeCell<T> {
        pub(super) fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        pub(super) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// Reads an atomic that nothing else can reach any more (both halves are gone).
    pub(super) fn load_exclusive(atomic: &mut AtomicUsize) -> usize {
        #[cfg(all(test, loom))]
        {
            atomic.with_mut(|value| *value)
        }
        #[cfg(not(all(test, loom)))]
        {
            *atomic.get_mut()
        }
    }
}

/// Aligns its value to 128 bytes so two of them never share a cache line. 128, not 64,
/// because Intel's adjacent-line prefetcher pulls lines in pairs, and Apple/ARM big cores use
/// 128-byte lines.
#[repr(align(128))]
struct CachePadded<T> {
    value: T,
}

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// The part both halves point at. Dropped when the second half goes, taking any committed
/// items still in the ring with it.
struct Shared<T> {
    /// The consumer's published head: slots before it are free for the producer. Written
    /// only by the consumer; never ahead of `tail`.
    head: CachePadded<AtomicUsize>,
    /// The producer's published tail: slots in `[head, tail)` hold committed items. Written
    /// only by the producer; never more than `capacity` ahead of `head`.
    tail: CachePadded<AtomicUsize>,
    /// `capacity` slots; a slot is initialised exactly while its index is in `[head, tail)`
    /// or in the producer's uncommitted batch.
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// `capacity - 1`; capacity is a power of two, so `index & mask` is the slot.
    mask: usize,
}

// SAFETY: the halves never touch a slot at the same time (the index protocol hands each slot
// from producer to consumer and back with Release/Acquire), and items only move between
// threads, they are never shared, so `T: Send` is enough for both.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; `&Shared` gives access to slots only through the halves' protocol.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// Moves `item` into slot `index`.
    ///
    /// # Safety
    ///
    /// The caller is the producer, slot `index` is free (`index - head < capacity` for a head
    /// loaded with `Acquire`), and it is not yet published.
    unsafe fn write_slot(&self, index: usize, item: T) {
        self.slots[index & self.mask].with_mut(|slot| {
            // SAFETY: per this function's contract nobody else reads or writes this slot now.
            unsafe { (*slot).write(item) };
        });
    }

    /// Moves the item out of slot `index`, leaving it logically uninitialised.
    ///
    /// # Safety
    ///
    /// The slot holds an initialised item that the caller owns exclusively: either the
    /// consumer with `index` in `[head, tail)` (tail loaded with `Acquire`), or the producer
    /// with `index` in its uncommitted batch. The caller never reads it again.
    unsafe fn take_slot(&self, index: usize) -> T {
        self.slots[index & self.mask].with(|slot| {
            // SAFETY: per this function's contract the slot is initialised and ours alone.
            unsafe { (*slot).assume_init_read() }
        })
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both halves are gone (the Arc's drop gives us their final stores): what is in
        // `[head, tail)` was committed and never consumed, and is ours to drop.
        let head = load_exclusive(&mut self.head.value);
        let tail = load_exclusive(&mut self.tail.value);
        let mut index = head;
        while index != tail {
            // SAFETY: `[head, tail)` holds initialised items nobody else can reach; each is
            // taken once because `index` only moves forward.
            drop(unsafe { self.take_slot(index) });
            index = index.wrapping_add(1);
        }
    }
}

/// Creates a ring of `capacity` slots and returns its two halves.
///
/// # Panics
///
/// Unless `capacity` is a power of two in `2..=RING_CAPACITY_MAX`: ring sizes come from
/// configuration validated at start-up, so a bad one here is a bug.
pub fn channel<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    channel_starting_at(capacity, 0)
}

/// [`channel`] with both indices starting at `start_index`, so tests can cross the `usize`
/// wrap-around without pushing 2^64 items.
fn channel_starting_at<T: Send>(capacity: usize, start_index: usize) -> (Producer<T>, Consumer<T>) {
    assert!(
        capacity.is_power_of_two() && (2..=RING_CAPACITY_MAX).contains(&capacity),
        "ring capacity must be a power of two in 2..={RING_CAPACITY_MAX}, got {capacity}"
    );
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded {
            value: AtomicUsize::new(start_index),
        },
        tail: CachePadded {
            value: AtomicUsize::new(start_index),
        },
        slots,
        mask: capacity - 1,
    });
    let producer = Producer {
        shared: Arc::clone(&shared),
        tail_private: start_index,
        tail_published: start_index,
        head_cached: start_index,
        _not_sync: PhantomData,
    };
    let consumer = Consumer {
        shared,
        head_private: start_index,
        head_published: start_index,
        tail_cached: start_index,
        head_publish_interval: (capacity / 4).clamp(1, HEAD_PUBLISH_INTERVAL_MAX),
        _not_sync: PhantomData,
    };
    (producer, consumer)
}

/// The sending half, owned by the producing shard's thread.
pub struct Producer<T> {
    /// The ring, shared with the consumer.
    shared: Arc<Shared<T>>,
    /// Index of the next slot to write. `[tail_published, tail_private)` is the written but
    /// uncommitted batch, owned by the producer alone.
    tail_private: usize,
    /// The value of the last `tail` store; equal to `shared.tail`.
    tail_published: usize,
    /// The consumer's head as last loaded; never ahead of the real head, so free space
    /// computed from it is a lower bound.
    head_cached: usize,
    /// Makes the half `!Sync` while keeping it `Send`: one thread drives it.
    _not_sync: PhantomData<Cell<()>>,
}

impl<T: Send> Producer<T> {
    /// Writes `item` into the next free slot. The consumer does not see it until
    /// [`commit`](Self::commit). On a full ring the item comes back in `Err`; nothing blocks
    /// and nothing is dropped.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.tail_private.wrapping_sub(self.head_cached) == self.shared.capacity() {
            // Acquire pairs with the consumer's Release of its head: its reads of the slots
            // it released happen before we overwrite them.
            self.head_cached = self.shared.head.load(Ordering::Acquire);
            if self.tail_private.wrapping_sub(self.head_cached) == self.shared.capacity() {
                return Err(item);
            }
        }
        // SAFETY: `tail_private - head < capacity` with head loaded by Acquire, so the slot
        // is free, and it is beyond the published tail, so the consumer cannot read it.
        unsafe { self.shared.write_slot(self.tail_private, item) };
        self.tail_private = self.tail_private.wrapping_add(1);
        Ok(())
    }

    /// Publishes every pushed item with one store. Returns `true` when the consumer must be
    /// woken: it had consumed (and published) everything committed before this batch, so it
    /// may be asleep. Returns `false` when there was nothing to commit. See the module docs
    /// for why this cannot lose a wake-up.
    pub fn commit(&mut self) -> bool {
        let tail_before = self.tail_published;
        if self.tail_private == tail_before {
            return false;
        }
        // Release pairs with the consumer's Acquire of the tail: the slot writes above are
        // visible before the items are.
        self.shared.tail.store(self.tail_private, Ordering::Release);
        self.tail_published = self.tail_private;
        // Orders the tail store before the head load against the consumer's mirror image in
        // `is_empty_for_sleep`; Release/Acquire alone would let both loads see stale values.
        fence(Ordering::SeqCst);
        // Acquire because the value also refreshes `head_cached`, which licenses slot reuse.
        self.head_cached = self.shared.head.load(Ordering::Acquire);
        self.head_cached == tail_before
    }

    /// How many more items a push would accept now. A lower bound: the consumer may free
    /// more at any moment.
    pub fn free_slots(&self) -> usize {
        // Relaxed: this is a count, not a licence to write; `push` reloads with Acquire.
        let head = self.shared.head.load(Ordering::Relaxed);
        self.shared.capacity() - self.tail_private.wrapping_sub(head)
    }

    /// How many items were pushed since the last commit.
    pub fn uncommitted_len(&self) -> usize {
        self.tail_private.wrapping_sub(self.tail_published)
    }

    /// The number of slots, fixed at creation.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // The uncommitted batch was never visible to the consumer; it dies with the producer,
        // just as an envelope still in the producer's hands would.
        while self.tail_published != self.tail_private {
            // SAFETY: `[tail_published, tail_private)` holds items written by this producer
            // and never published; `tail_published` moves past each before it is dropped.
            let item = unsafe { self.shared.take_slot(self.tail_published) };
            self.tail_published = self.tail_published.wrapping_add(1);
            drop(item);
        }
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Producer")
            .field("capacity", &self.shared.capacity())
            .field("tail_private", &self.tail_private)
            .field("tail_published", &self.tail_published)
            .field("head_cached", &self.head_cached)
            .finish()
    }
}

/// The receiving half, owned by the consuming shard's thread.
pub struct Consumer<T> {
    /// The ring, shared with the producer.
    shared: Arc<Shared<T>>,
    /// Index of the next slot to read. `[head_published, head_private)` are taken but not
    /// yet released to the producer.
    head_private: usize,
    /// The value of the last `head` store; equal to `shared.head`.
    head_published: usize,
    /// The producer's tail as last loaded; `[head_private, tail_cached)` can be read without
    /// touching the producer's cache line.
    tail_cached: usize,
    /// Publish the head after this many unpublished pops: `capacity / 4`, clamped to
    /// `1..=HEAD_PUBLISH_INTERVAL_MAX`.
    head_publish_interval: usize,
    /// Makes the half `!Sync` while keeping it `Send`: one thread drives it.
    _not_sync: PhantomData<Cell<()>>,
}

impl<T: Send> Consumer<T> {
    /// Takes the oldest committed item. Releases slots to the producer in batches: when its
    /// cached view of the ring runs dry, or after `head_publish_interval` pops.
    pub fn pop(&mut self) -> Option<T> {
        if self.head_private == self.tail_cached {
            self.publish_head();
            // Acquire pairs with the producer's Release of the tail: the slot contents are
            // visible once the index is.
            self.tail_cached = self.shared.tail.load(Ordering::Acquire);
            if self.head_private == self.tail_cached {
                return None;
            }
        }
        // SAFETY: `head_private` is in `[head, tail_cached)`, committed by the producer and
        // not yet taken; it is taken once because `head_private` moves past it.
        let item = unsafe { self.shared.take_slot(self.head_private) };
        self.head_private = self.head_private.wrapping_add(1);
        if self.head_private.wrapping_sub(self.head_published) >= self.head_publish_interval {
            self.publish_head();
        }
        Some(item)
    }

    /// Hands up to `max` items to `f` in order, releases their slots with one store, and
    /// returns how many it handed over. Loads the producer's tail only when fewer than `max`
    /// items are known to be there.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        if self.tail_cached.wrapping_sub(self.head_private) < max {
            // Acquire: as in `pop`.
            self.tail_cached = self.shared.tail.load(Ordering::Acquire);
        }
        let count = self.tail_cached.wrapping_sub(self.head_private).min(max);
        for _ in 0..count {
            // SAFETY: as in `pop`; the index moves past the slot before `f` runs, so a
            // panicking `f` cannot leave a slot both handed out and counted as full.
            let item = unsafe { self.shared.take_slot(self.head_private) };
            self.head_private = self.head_private.wrapping_add(1);
            f(item);
        }
        self.publish_head();
        count
    }

    /// Says whether the consumer may sleep until the producer rings its doorbell: publishes
    /// the head, fences, and reloads the tail (the consumer's half of the handshake in the
    /// module docs). `true` means the ring is empty and any later commit will return `true`
    /// to the producer. `false` means items are waiting: drain them and ask again.
    pub fn is_empty_for_sleep(&mut self) -> bool {
        if self.head_private != self.tail_cached {
            return false;
        }
        self.publish_head();
        // Orders the head store before the tail load against the producer's mirror image in
        // `commit`.
        fence(Ordering::SeqCst);
        // Acquire: the next pop reads slots up to this tail.
        self.tail_cached = self.shared.tail.load(Ordering::Acquire);
        self.tail_cached == self.head_private
    }

    /// How many committed items are waiting now. A lower bound: the producer may commit more.
    pub fn len(&self) -> usize {
        // Relaxed: a count, not a licence to read; pop and drain reload with Acquire.
        let tail = self.shared.tail.load(Ordering::Relaxed);
        tail.wrapping_sub(self.head_private)
    }

    /// Whether no committed item is waiting now. Not a licence to sleep: use
    /// [`is_empty_for_sleep`](Self::is_empty_for_sleep) for that.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of slots, fixed at creation.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }
}

impl<T> Consumer<T> {
    fn publish_head(&mut self) {
        if self.head_private != self.head_published {
            // Release pairs with the producer's Acquire of the head: our reads of the
            // released slots happen before it overwrites them.
            self.shared.head.store(self.head_private, Ordering::Release);
            self.head_published = self.head_private;
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Items we took are gone from the ring; publish that, or the shared drop would drop
        // them a second time.
        self.publish_head();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Consumer")
            .field("capacity", &self.shared.capacity())
            .field("head_private", &self.head_private)
            .field("head_published", &self.head_published)
            .field("tail_cached", &self.tail_cached)
            .finish()
    }
}

/// A compile-time check that the halves are not `Sync`.
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<ringnats::router::ring::Producer<u64>>();
/// ```
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<ringnats::router::ring::Consumer<u64>>();
/// ```
///
/// ```compile_fail
/// let (producer, _consumer) = ringnats::router::ring::channel::<u64>(2);
/// let _second = producer.clone();
/// ```
#[cfg(doctest)]
struct HalvesAreNotSyncOrClone;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicBool;
    use std::thread;
    use std::time::Duration;

    use proptest::prelude::*;

    /// Counts its own drops in a shared counter (no `Rc`, so it is `Send`).
    #[derive(Debug)]
    struct DropCounter {
        drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Drop for DropCounter {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn drop_counters(
        count: usize,
    ) -> (
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
        Vec<DropCounter>,
    ) {
        let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let items = (0..count)
            .map(|_| DropCounter {
                drops: std::sync::Arc::clone(&drops),
            })
            .collect();
        (drops, items)
    }

    #[test]
    fn halves_are_send() {
        fn assert_send<S: Send>() {}
        assert_send::<Producer<Vec<u8>>>();
        assert_send::<Consumer<Vec<u8>>>();
    }

    #[test]
    fn push_pop_keeps_order() {
        let (mut producer, mut consumer) = channel(8);
        for value in 0..5 {
            producer.push(value).unwrap();
        }
        assert!(producer.commit());
        let popped: Vec<i32> = std::iter::from_fn(|| consumer.pop()).collect();
        assert_eq!(popped, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn pushed_items_are_invisible_until_commit() {
        let (mut producer, mut consumer) = channel(4);
        producer.push(7).unwrap();
        assert_eq!(producer.uncommitted_len(), 1);
        assert_eq!(consumer.pop(), None);
        assert!(consumer.is_empty());
        assert!(producer.commit());
        assert_eq!(producer.uncommitted_len(), 0);
        assert_eq!(consumer.len(), 1);
        assert_eq!(consumer.pop(), Some(7));
    }

    #[test]
    fn full_ring_gives_the_item_back() {
        let (mut producer, mut consumer) = channel(4);
        for value in 0..4 {
            producer.push(value).unwrap();
        }
        assert_eq!(producer.free_slots(), 0);
        assert_eq!(producer.push(4), Err(4));
        producer.commit();
        assert_eq!(producer.push(4), Err(4));
        assert_eq!(consumer.drain(1, drop), 1);
        assert_eq!(producer.free_slots(), 1);
        assert_eq!(producer.push(4), Ok(()));
        assert_eq!(producer.push(5), Err(5));
    }

    #[test]
    fn popped_slots_are_released_when_the_batch_runs_dry() {
        let (mut producer, mut consumer) = channel(16);
        for value in 0..3 {
            producer.push(value).unwrap();
        }
        producer.commit();
        // Interval is 16 / 4 = 4: three pops stay unpublished until the cache runs dry.
        assert_eq!(consumer.pop(), Some(0));
        assert_eq!(consumer.pop(), Some(1));
        assert_eq!(consumer.pop(), Some(2));
        assert_eq!(producer.free_slots(), 13);
        assert_eq!(consumer.pop(), None);
        assert_eq!(producer.free_slots(), 16);
    }

    #[test]
    fn commit_wakes_only_on_empty_to_non_empty() {
        let (mut producer, mut consumer) = channel(8);
        assert!(!producer.commit(), "nothing pushed, nothing to wake for");
        producer.push(1).unwrap();
        assert!(producer.commit(), "empty -> non-empty");
        producer.push(2).unwrap();
        assert!(
            !producer.commit(),
            "the consumer has work queued, so it is awake"
        );
        assert_eq!(consumer.drain(usize::MAX, drop), 2);
        assert!(consumer.is_empty_for_sleep());
        producer.push(3).unwrap();
        assert!(producer.commit(), "the consumer may be asleep");
    }

    #[test]
    fn unpublished_head_is_caught_by_the_sleep_check() {
        let (mut producer, mut consumer) = channel(8);
        producer.push(1).unwrap();
        assert!(producer.commit());
        // The consumer took the item but has not published its head yet.
        assert_eq!(consumer.pop(), Some(1));
        producer.push(2).unwrap();
        assert!(
            !producer.commit(),
            "the producer cannot see the consumer caught up"
        );
        // So the consumer must not sleep: its check sees the new item.
        assert!(!consumer.is_empty_for_sleep());
        assert_eq!(consumer.pop(), Some(2));
        assert!(consumer.is_empty_for_sleep());
    }

    #[test]
    fn sleep_check_publishes_the_head() {
        let (mut producer, mut consumer) = channel(8);
        producer.push(1).unwrap();
        assert!(producer.commit());
        // Taken, but below the publish interval, so the producer cannot see it yet.
        assert_eq!(consumer.pop(), Some(1));
        assert!(consumer.is_empty_for_sleep());
        producer.push(2).unwrap();
        assert!(
            producer.commit(),
            "the consumer said it would sleep, so it must be woken"
        );
    }

    #[test]
    fn indices_survive_usize_wrap_around() {
        let (mut producer, mut consumer) = channel_starting_at(4, usize::MAX - 5);
        let mut expected = 0;
        for round in 0..6 {
            for offset in 0..3 {
                producer.push(round * 3 + offset).unwrap();
            }
            producer.commit();
            consumer.drain(usize::MAX, |value| {
                assert_eq!(value, expected);
                expected += 1;
            });
        }
        assert_eq!(expected, 18);
    }

    #[test]
    fn leftover_items_are_dropped_exactly_once() {
        for producer_first in [true, false] {
            let (drops, mut items) = drop_counters(6);
            let (mut producer, mut consumer) = channel_starting_at(8, usize::MAX - 2);
            for item in items.drain(..4) {
                producer.push(item).unwrap();
            }
            producer.commit();
            for item in items.drain(..) {
                producer.push(item).unwrap(); // never committed
            }
            drop(consumer.pop());
            assert_eq!(drops.load(Ordering::Relaxed), 1);
            if producer_first {
                drop(producer);
                assert_eq!(
                    drops.load(Ordering::Relaxed),
                    3,
                    "uncommitted items die with the producer"
                );
                drop(consumer);
            } else {
                drop(consumer);
                drop(producer);
            }
            assert_eq!(drops.load(Ordering::Relaxed), 6);
        }
    }

    #[test]
    fn panicking_drain_callback_drops_nothing_twice() {
        let (drops, items) = drop_counters(4);
        let (mut producer, mut consumer) = channel(4);
        for item in items {
            producer.push(item).unwrap();
        }
        producer.commit();
        let mut seen = 0;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            consumer.drain(usize::MAX, |item| {
                seen += 1;
                if seen == 2 {
                    panic!("callback failed holding {item:?}");
                }
            })
        }));
        assert!(outcome.is_err());
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        drop(consumer);
        drop(producer);
        assert_eq!(drops.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn zero_sized_items_are_counted() {
        let (mut producer, mut consumer) = channel::<()>(4);
        for _ in 0..4 {
            producer.push(()).unwrap();
        }
        assert_eq!(producer.push(()), Err(()));
        producer.commit();
        assert_eq!(consumer.len(), 4);
        assert_eq!(consumer.drain(3, drop), 3);
        assert_eq!(consumer.pop(), Some(()));
        assert_eq!(consumer.pop(), None);
    }

    #[test]
    fn capacity_is_validated() {
        for capacity in [0, 1, 3, 6, RING_CAPACITY_MAX * 2] {
            let outcome = std::panic::catch_unwind(|| channel::<u8>(capacity));
            assert!(outcome.is_err(), "capacity {capacity} was accepted");
        }
        for capacity in [2, 4, RING_CAPACITY_MAX] {
            let (producer, consumer) = channel::<u8>(capacity);
            assert_eq!(
                (producer.capacity(), consumer.capacity()),
                (capacity, capacity)
            );
        }
    }

    #[test]
    fn indices_sit_on_separate_cache_lines() {
        assert_eq!(std::mem::align_of::<CachePadded<AtomicUsize>>(), 128);
        let (producer, _consumer) = channel::<u8>(2);
        let head = &producer.shared.head as *const _ as usize;
        let tail = &producer.shared.tail as *const _ as usize;
        assert!(head.abs_diff(tail) >= 128);
    }

    /// One step of the single-threaded property test.
    #[derive(Debug, Clone)]
    enum Step {
        Push(u32),
        Commit,
        Pop,
        Drain(usize),
        IsEmptyForSleep,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => any::<u32>().prop_map(Step::Push),
            2 => Just(Step::Commit),
            3 => Just(Step::Pop),
            1 => (0usize..10).prop_map(Step::Drain),
            1 => Just(Step::IsEmptyForSleep),
        ]
    }

    /// The ring as a `VecDeque` plus the two counters that make its batching observable:
    /// which pops the producer cannot see yet, and how much the consumer's cache holds.
    struct Model {
        capacity: usize,
        head_publish_interval: usize,
        /// Committed, not yet popped, oldest first.
        committed: VecDeque<u32>,
        /// Pushed, not yet committed.
        uncommitted: Vec<u32>,
        /// Popped, but the head that releases them is not published.
        unreleased: usize,
        /// How many of `committed` the consumer's cached tail covers.
        cached: usize,
    }

    impl Model {
        fn occupied(&self) -> usize {
            self.committed.len() + self.uncommitted.len() + self.unreleased
        }

        fn push(&mut self, value: u32) -> Result<(), u32> {
            if self.occupied() == self.capacity {
                return Err(value);
            }
            self.uncommitted.push(value);
            Ok(())
        }

        fn commit(&mut self) -> bool {
            if self.uncommitted.is_empty() {
                return false;
            }
            let wake = self.committed.is_empty() && self.unreleased == 0;
            self.committed.extend(self.uncommitted.drain(..));
            wake
        }

        fn pop(&mut self) -> Option<u32> {
            if self.cached == 0 {
                self.unreleased = 0;
                self.cached = self.committed.len();
            }
            let value = self.committed.pop_front()?;
            self.cached -= 1;
            self.unreleased += 1;
            if self.unreleased >= self.head_publish_interval {
                self.unreleased = 0;
            }
            Some(value)
        }

        fn drain(&mut self, max: usize) -> Vec<u32> {
            if self.cached < max {
                self.cached = self.committed.len();
            }
            let count = self.cached.min(max);
            self.cached -= count;
            self.unreleased = 0;
            self.committed.drain(..count).collect()
        }

        fn is_empty_for_sleep(&mut self) -> bool {
            if self.cached > 0 {
                return false;
            }
            self.unreleased = 0;
            self.cached = self.committed.len();
            self.committed.is_empty()
        }
    }

    proptest! {
        #[test]
        fn ring_matches_vecdeque_model(
            capacity_log2 in 1u32..7,
            start_near_wrap in any::<bool>(),
            steps in proptest::collection::vec(step(), 0..300),
        ) {
            let capacity = 1usize << capacity_log2;
            let start_index = if start_near_wrap { usize::MAX - 40 } else { 0 };
            let (mut producer, mut consumer) = channel_starting_at(capacity, start_index);
            let mut model = Model {
                capacity,
                head_publish_interval: consumer.head_publish_interval,
                committed: VecDeque::new(),
                uncommitted: Vec::new(),
                unreleased: 0,
                cached: 0,
            };
            for step in steps {
                match step {
                    Step::Push(value) => prop_assert_eq!(producer.push(value), model.push(value)),
                    Step::Commit => prop_assert_eq!(producer.commit(), model.commit()),
                    Step::Pop => prop_assert_eq!(consumer.pop(), model.pop()),
                    Step::Drain(max) => {
                        let mut drained = Vec::new();
                        let count = consumer.drain(max, |value| drained.push(value));
                        prop_assert_eq!(count, drained.len());
                        prop_assert_eq!(drained, model.drain(max));
                    }
                    Step::IsEmptyForSleep => {
                        prop_assert_eq!(consumer.is_empty_for_sleep(), model.is_empty_for_sleep());
                    }
                }
                prop_assert_eq!(consumer.len(), model.committed.len());
                prop_assert_eq!(consumer.is_empty(), model.committed.is_empty());
                prop_assert_eq!(producer.free_slots(), capacity - model.occupied());
                prop_assert_eq!(producer.uncommitted_len(), model.uncommitted.len());
            }
        }
    }

    /// xorshift64: batch sizes for the two-thread test without a `rand` dependency.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    const TWO_THREAD_ITEM_COUNT: u64 = 1_000_000;

    /// The consumer's stand-in for an event loop's wait on its doorbell (an eventfd: a flag
    /// plus park/unpark). Returns `true` on a provably lost wake-up: the producer has finished
    /// everything, including every doorbell it will ever ring, no doorbell is set, and items
    /// are waiting. The park has a timeout only so that a lost wake-up in the middle of the
    /// run ends the wait like a loop's timer would, instead of hanging the test.
    fn wait_for_doorbell(
        doorbell: &AtomicBool,
        producer_done: &AtomicBool,
        consumer: &Consumer<u64>,
    ) -> bool {
        if doorbell.swap(false, Ordering::Acquire) {
            return false;
        }
        if producer_done.load(Ordering::Acquire) {
            return !doorbell.swap(false, Ordering::Acquire) && !consumer.is_empty();
        }
        thread::park_timeout(Duration::from_millis(50));
        doorbell.swap(false, Ordering::Acquire);
        false
    }

    #[test]
    fn two_threads_deliver_every_item_in_order() {
        let (mut producer, mut consumer) = channel::<u64>(64);
        let doorbell = std::sync::Arc::new(AtomicBool::new(false));
        let producer_done = std::sync::Arc::new(AtomicBool::new(false));

        let consumer_thread = {
            let doorbell = std::sync::Arc::clone(&doorbell);
            let producer_done = std::sync::Arc::clone(&producer_done);
            thread::spawn(move || {
                let mut expected = 1;
                let mut lost_wake_ups = 0;
                while expected <= TWO_THREAD_ITEM_COUNT {
                    let drained = consumer.drain(256, |value| {
                        assert_eq!(value, expected);
                        expected += 1;
                    });
                    if drained == 0
                        && consumer.is_empty_for_sleep()
                        && wait_for_doorbell(&doorbell, &producer_done, &consumer)
                    {
                        lost_wake_ups += 1;
                    }
                }
                assert_eq!(consumer.pop(), None);
                lost_wake_ups
            })
        };

        let consumer_handle = consumer_thread.thread().clone();
        let ring_doorbell = || {
            doorbell.store(true, Ordering::Release);
            consumer_handle.unpark();
        };
        let mut random_state = 0x9E37_79B9_7F4A_7C15;
        let mut batch_left = 0;
        for value in 1..=TWO_THREAD_ITEM_COUNT {
            let mut item = value;
            while let Err(returned) = producer.push(item) {
                item = returned;
                if producer.commit() {
                    ring_doorbell();
                }
                thread::yield_now();
            }
            if batch_left == 0 {
                batch_left = next_random(&mut random_state) % 100;
                if producer.commit() {
                    ring_doorbell();
                }
            } else {
                batch_left -= 1;
            }
        }
        if producer.commit() {
            ring_doorbell();
        }
        producer_done.store(true, Ordering::Release);
        consumer_handle.unpark();

        assert_eq!(consumer_thread.join().unwrap(), 0, "lost wake-ups");
    }
}

/// Models explored by `loom` over every interleaving (and every value a weak load may
/// return): see the module docs for the command.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    /// The consumer's doorbell, shaped like an eventfd: a count of rings that only the
    /// producer writes, and the count the consumer has already taken. A count with plain
    /// loads and stores rather than a flag the consumer clears with `swap`, because loom 0.7
    /// can let a store slip between the halves of a `swap` (tokio-rs/loom#254), which shows
    /// up as a false lost wake-up in these models.
    struct Doorbell {
        /// Rings so far; written only by the producer.
        rings: AtomicUsize,
    }

    impl Doorbell {
        fn ring(&self, rings_so_far: &mut usize) {
            *rings_so_far += 1;
            self.rings.store(*rings_so_far, Ordering::Release);
        }

        /// Takes pending rings; `true` if there were any.
        fn take(&self, rings_taken: &mut usize) -> bool {
            let rings = self.rings.load(Ordering::Acquire);
            let pending = rings > *rings_taken;
            *rings_taken = rings;
            pending
        }
    }

    /// The producer's side of a model: pushes `item` (committing and yielding while the ring
    /// is full) and rings the doorbell whenever a commit says so.
    struct ModelProducer {
        producer: Producer<usize>,
        doorbell: Arc<Doorbell>,
        rings_so_far: usize,
    }

    impl ModelProducer {
        fn push_with_retry(&mut self, mut item: usize) {
            while let Err(returned) = self.producer.push(item) {
                item = returned;
                self.commit();
                thread::yield_now();
            }
        }

        fn commit(&mut self) {
            if self.producer.commit() {
                self.doorbell.ring(&mut self.rings_so_far);
            }
        }
    }

    fn model_channel(capacity: usize) -> (ModelProducer, Consumer<usize>, Arc<Doorbell>) {
        let (producer, consumer) = channel::<usize>(capacity);
        let doorbell = Arc::new(Doorbell {
            rings: AtomicUsize::new(0),
        });
        let model_producer = ModelProducer {
            producer,
            doorbell: Arc::clone(&doorbell),
            rings_so_far: 0,
        };
        (model_producer, consumer, doorbell)
    }

    #[test]
    fn tiny_ring_delivers_three_items_in_order() {
        loom::model(|| {
            let (mut producer, mut consumer, _doorbell) = model_channel(2);
            let producer_thread = thread::spawn(move || {
                // Two in one batch, then a third that must wait for a free slot.
                producer.push_with_retry(0);
                producer.push_with_retry(1);
                producer.commit();
                producer.push_with_retry(2);
                producer.commit();
            });
            let mut received = Vec::new();
            while received.len() < 3 {
                match consumer.pop() {
                    Some(value) => received.push(value),
                    None => thread::yield_now(),
                }
            }
            producer_thread.join().unwrap();
            assert_eq!(received, [0, 1, 2]);
            assert_eq!(consumer.pop(), None);
        });
    }

    /// How the consumer takes items in a no-lost-wake-up model.
    #[derive(Clone, Copy)]
    enum Take {
        /// `pop` until `None`: publishes the head when the cache runs dry.
        Pop,
        /// One `pop` at a time: on a ring of 8 or more the head stays unpublished until
        /// `is_empty_for_sleep` publishes it.
        PopOne,
        /// One `drain`: publishes the head once at the end.
        Drain,
    }

    fn take_available(consumer: &mut Consumer<usize>, take: Take, received: &mut Vec<usize>) {
        match take {
            Take::Pop => {
                while let Some(value) = consumer.pop() {
                    received.push(value);
                }
            }
            Take::PopOne => received.extend(consumer.pop()),
            Take::Drain => {
                consumer.drain(usize::MAX, |value| received.push(value));
            }
        }
    }

    /// Producer: `item_count` single-item commits, ringing the doorbell when `commit` says so.
    /// Consumer: takes what it can, asks `is_empty_for_sleep`, and "sleeps" (yields until the
    /// doorbell rings) when told to. Asserts that a sleeping consumer never faces the state in
    /// which the producer has finished, no ring is pending, and a committed item is not yet
    /// received: on a real eventfd that consumer would sleep forever.
    fn no_lost_wake_up(
        capacity: usize,
        item_count: usize,
        take: Take,
        preemption_bound: Option<usize>,
    ) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = preemption_bound;
        builder.check(move || {
            let (mut producer, mut consumer, doorbell) = model_channel(capacity);
            let producer_done = Arc::new(AtomicUsize::new(0));
            let producer_thread = {
                let producer_done = Arc::clone(&producer_done);
                thread::spawn(move || {
                    for item in 0..item_count {
                        producer.push_with_retry(item);
                        producer.commit();
                    }
                    producer_done.store(1, Ordering::Release);
                })
            };
            let mut received = Vec::new();
            let mut rings_taken = 0;
            while received.len() < item_count {
                take_available(&mut consumer, take, &mut received);
                if received.len() == item_count || !consumer.is_empty_for_sleep() {
                    continue;
                }
                // Asleep until the doorbell rings.
                while !doorbell.take(&mut rings_taken) {
                    // Acquire: everything the producer did, every ring included, is visible
                    // once this reads 1.
                    if producer_done.load(Ordering::Acquire) == 1 {
                        assert!(
                            doorbell.take(&mut rings_taken),
                            "lost wake-up: consumer asleep with {} of {item_count} items \
                             received, the producer finished and no ring pending",
                            received.len(),
                        );
                        break;
                    }
                    thread::yield_now();
                }
            }
            producer_thread.join().unwrap();
            assert_eq!(received, (0..item_count).collect::<Vec<_>>());
        });
    }

    #[test]
    fn no_lost_wake_up_with_pop() {
        no_lost_wake_up(2, 2, Take::Pop, None);
    }

    #[test]
    fn no_lost_wake_up_with_lazily_published_head() {
        no_lost_wake_up(8, 2, Take::PopOne, None);
    }

    #[test]
    fn no_lost_wake_up_with_drain() {
        no_lost_wake_up(2, 2, Take::Drain, None);
    }

    #[test]
    fn no_lost_wake_up_when_the_ring_fills() {
        no_lost_wake_up(2, 3, Take::Drain, Some(6));
    }

    #[test]
    fn items_left_at_teardown_are_dropped_exactly_once() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (mut producer, mut consumer) = channel::<Counted>(2);
            let producer_drops = Arc::clone(&drops);
            let producer_thread = thread::spawn(move || {
                for _ in 0..2 {
                    assert!(producer.push(Counted(Arc::clone(&producer_drops))).is_ok());
                    producer.commit();
                }
                // One more, never committed: it dies with the producer, or comes straight
                // back and dies here if the ring is full.
                drop(producer.push(Counted(Arc::clone(&producer_drops))));
            });
            drop(consumer.pop());
            drop(consumer);
            producer_thread.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed), 3);
        });
    }
}
