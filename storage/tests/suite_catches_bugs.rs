//! The conformance suite is only worth running if it fails broken engines: each
//! mutant here wraps the reference engine with one deliberate bug, and the check
//! that guards against that bug must fail on it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use cairn_storage::testing::{self, TestResult};
use cairn_storage::{Backend, MemBackend, Options, Order, ReadView, Result, SpaceUsage, WriteBatch};

/// Which bug a [`Mutant`] has.
trait Bug: Send + Sync + 'static {
    /// Views read the live store instead of a snapshot.
    const LIVE_VIEWS: bool = false;
    /// `sync` does nothing.
    const SYNC_IS_NOOP: bool = false;
    /// Scans ignore the requested order.
    const ALWAYS_FORWARD: bool = false;
    /// Deletes are dropped from batches.
    const DROPS_DELETES: bool = false;
}

struct LiveViews;
impl Bug for LiveViews {
    const LIVE_VIEWS: bool = true;
}
struct NoopSync;
impl Bug for NoopSync {
    const SYNC_IS_NOOP: bool = true;
}
struct AlwaysForward;
impl Bug for AlwaysForward {
    const ALWAYS_FORWARD: bool = true;
}
struct DropsDeletes;
impl Bug for DropsDeletes {
    const DROPS_DELETES: bool = true;
}

struct Mutant<X> {
    inner: MemBackend,
    _bug: std::marker::PhantomData<X>,
}

struct MutantView<'a, X> {
    store: &'a MemBackend,
    frozen: <MemBackend as Backend>::View<'a>,
    _bug: std::marker::PhantomData<X>,
}

impl<X: Bug> MutantView<'_, X> {
    fn view(&self) -> Result<<MemBackend as Backend>::View<'_>> {
        if X::LIVE_VIEWS { self.store.view() } else { Ok(self.frozen.clone()) }
    }
}

impl<X: Bug> ReadView for MutantView<'_, X> {
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.view()?.get(bucket, key)
    }

    fn scan(
        &self,
        bucket: &str,
        start: &[u8],
        end: Option<&[u8]>,
        order: Order,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let order = if X::ALWAYS_FORWARD { Order::Forward } else { order };
        self.view()?.scan(bucket, start, end, order, visit)
    }

    fn buckets(&self) -> Result<Vec<String>> {
        self.view()?.buckets()
    }
}

impl<X: Bug> Backend for Mutant<X> {
    const NAME: &'static str = "mem";
    type View<'a> = MutantView<'a, X>;

    fn open(dir: &Path, options: &Options) -> Result<Self> {
        Ok(Mutant { inner: MemBackend::open(dir, options)?, _bug: std::marker::PhantomData })
    }

    fn view(&self) -> Result<Self::View<'_>> {
        Ok(MutantView { store: &self.inner, frozen: self.inner.view()?, _bug: std::marker::PhantomData })
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        if !X::DROPS_DELETES {
            return self.inner.commit(batch);
        }
        let mut kept = WriteBatch::new();
        for op in batch.into_ops() {
            if let cairn_storage::BatchOp::Put { bucket, key, value } = op {
                kept.put(bucket, key, value)?;
            }
        }
        self.inner.commit(kept)
    }

    fn sync(&self) -> Result<()> {
        if X::SYNC_IS_NOOP { Ok(()) } else { self.inner.sync() }
    }

    fn space(&self) -> Result<SpaceUsage> {
        self.inner.space()
    }

    fn defrag(&self) -> Result<()> {
        self.inner.defrag()
    }
}

/// Runs a check and says whether it failed, by error or by panic.
fn fails(check: fn() -> TestResult) -> bool {
    !matches!(catch_unwind(AssertUnwindSafe(check)), Ok(Ok(())))
}

#[test]
fn live_views_fail_isolation() {
    assert!(fails(testing::snapshot_isolation_with_concurrent_writer::<Mutant<LiveViews>>));
    assert!(fails(testing::random_batches_match_model::<Mutant<LiveViews>>));
    assert!(fails(testing::atomic_batches::<Mutant<LiveViews>>));
}

#[test]
fn noop_sync_fails_durability() {
    assert!(fails(testing::durable_after_sync_and_reopen::<Mutant<NoopSync>>));
    assert!(fails(testing::large_values::<Mutant<NoopSync>>));
}

#[test]
fn ignored_order_fails_scans() {
    assert!(fails(testing::reverse_scans_and_limits::<Mutant<AlwaysForward>>));
    assert!(fails(testing::binary_key_order::<Mutant<AlwaysForward>>));
    assert!(fails(testing::random_batches_match_model::<Mutant<AlwaysForward>>));
}

#[test]
fn dropped_deletes_fail_the_model_and_space_checks() {
    assert!(fails(testing::missing_buckets_and_deletes::<Mutant<DropsDeletes>>));
    assert!(fails(testing::random_batches_match_model::<Mutant<DropsDeletes>>));
    assert!(fails(testing::reclaims_space_after_mass_deletion::<Mutant<DropsDeletes>>));
}

#[test]
fn the_reference_passes_through_the_wrapper() {
    struct NoBug;
    impl Bug for NoBug {}
    assert!(!fails(testing::snapshot_isolation_with_concurrent_writer::<Mutant<NoBug>>));
    assert!(!fails(testing::random_batches_match_model::<Mutant<NoBug>>));
    assert!(!fails(testing::durable_after_sync_and_reopen::<Mutant<NoBug>>));
}
