//! Several CPUs (RECs) in one realm: start work on another REC, join it.
//!
//! ```ignore
//! use realm_sdk::smp;
//! let recs = smp::rec_count();
//! let handle = smp::start(1, || (0..1000u64).sum::<u64>())?;
//! let sum = handle.join()?;
//! ```
//!
//! # How a REC is started
//!
//! [`start`] allocates the REC's stack from the heap, 4 KiB aligned, with a guard page below
//! it (unmapped through [`mmu::release`], so an overflow faults like the primary's) and an
//! exception stack above it; it arms the REC's *launch slot* (a static in BSS) with the
//! job, the stacks and the primary's translation registers (`MAIR_EL1`, `TCR_EL1`,
//! `TTBR0_EL1`, `SCTLR_EL1`: the map [`mmu`] built, used as is), writes the slot back to
//! the point of coherency, and calls PSCI `CPU_ON` with the slot's address as context id.
//!
//! The RMM starts the REC at the runtime's secondary entry with the MMU off and `x0` =
//! context id (TF-RMM v0.8.0 and v0.9.0 `runtime/rsi/psci.c`, `complete_psci_cpu_on` and
//! `psci_reset_rec`). The entry does not trust `x0`: it must be the address of one of the
//! slots (in range, slot aligned) and the slot must carry the armed magic, or the REC
//! switches itself off with `CPU_OFF` before touching anything else. Then it loads the
//! translation registers, turns the MMU on, sets `VBAR_EL1`, `CPACR_EL1`, its stack and
//! `TPIDR_EL1` (its per-CPU block) and calls Rust, which claims the slot atomically, checks
//! that the slot was armed for this REC's own MPIDR, runs the job and calls `CPU_OFF`.
//!
//! [`Handle::join`] waits (WFE) for the job's result: an atomic flag in Normal cacheable
//! memory, set with release ordering after the result is stored, then an SEV. Once a
//! millisecond, and once the flag is set, it asks `AFFINITY_INFO`: the call exits to the host,
//! so a host running several RECs on one CPU gets to run the job's REC, and when the RMM
//! reports the REC off its stack is out of use and goes back to the heap (guard page mapped
//! again first). A REC reported off without the flag set went off without its job
//! ([`SmpError::Lost`]).
//!
//! # How many RECs
//!
//! [`rec_count`] asks the RMM with `AFFINITY_INFO` ([`psci::count_recs`] says why that
//! rather than probing with `CPU_ON` or a build-time constant) once, and remembers.
//!
//! # Rules
//!
//! - Jobs are `'static + Send` closures: the primary may go on while they run, and a
//!   [`Handle`] forgotten with `mem::forget` leaves the job nothing borrowed to outlive.
//! - A panic on any REC reports it and switches the whole realm off, as on the primary.
//! - Exceptions on a secondary REC are reported from that REC's own exception stack.
//! - REC 0 is the primary; jobs go to RECs 1 to `rec_count() - 1`, one at a time each.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use cca_abi::smccc::Smc;

use super::mmu::{self, MmuError};
use crate::Ipa;
use crate::psci::{self, AffinityState, MAX_RECS, PsciError};
use crate::time::{Clock, Instant};

/// Size of each secondary REC's stack.
pub const STACK_SIZE: usize = 64 * 1024;
/// Size of each secondary REC's exception stack (as the primary's, `realm.ld`).
pub const EXCEPTION_STACK_SIZE: usize = 16 * 1024;
const GUARD_SIZE: usize = 4096;

/// Per-CPU block that `TPIDR_EL1` points to. The exception vectors read
/// `exception_stack_top` (offset 0) to switch stacks.
#[repr(C)]
pub(super) struct CpuBlock {
    /// Top of this CPU's exception stack (offset 0: read by the vectors).
    pub(super) exception_stack_top: usize,
    /// This CPU's REC index.
    index: usize,
}

/// The primary's per-CPU block; `_start` points `TPIDR_EL1` at it.
#[unsafe(no_mangle)]
static mut __realm_sdk_primary_cpu: CpuBlock = CpuBlock {
    exception_stack_top: 0,
    index: 0,
};

/// The value of [`Slot::magic`] while a slot is armed ("SMPSLOT1").
const ARMED_MAGIC: u64 = u64::from_le_bytes(*b"SMPSLOT1");

/// Slot states.
const FREE: u32 = 0;
const ARMED: u32 = 1;
const RUNNING: u32 = 2;

type Job = Box<dyn FnOnce() + Send>;

/// One REC's launch slot. The first fields are read by the secondary entry with the MMU
/// off (Device memory: plain aligned loads only), at the offsets the assembly is given.
#[repr(C, align(256))]
pub(super) struct Slot {
    pub(super) magic: UnsafeCell<u64>,
    pub(super) mair: UnsafeCell<u64>,
    pub(super) tcr: UnsafeCell<u64>,
    pub(super) ttbr0: UnsafeCell<u64>,
    pub(super) sctlr: UnsafeCell<u64>,
    pub(super) stack_top: UnsafeCell<u64>,
    pub(super) cpu: UnsafeCell<CpuBlock>,
    state: AtomicU32,
    mpidr: UnsafeCell<u64>,
    job: UnsafeCell<Option<Job>>,
}

// SAFETY: the `UnsafeCell` fields are written only by the primary while the slot is FREE
// (it owns the slot: `state` CAS FREE -> ARMED is done before, and the REC is off), and read
// by the secondary only after it moved `state` from ARMED to RUNNING (acquire, pairing with
// the primary's release); the job is taken once, by that secondary.
unsafe impl Sync for Slot {}

impl Slot {
    const fn new() -> Self {
        Self {
            magic: UnsafeCell::new(0),
            mair: UnsafeCell::new(0),
            tcr: UnsafeCell::new(0),
            ttbr0: UnsafeCell::new(0),
            sctlr: UnsafeCell::new(0),
            stack_top: UnsafeCell::new(0),
            cpu: UnsafeCell::new(CpuBlock {
                exception_stack_top: 0,
                index: 0,
            }),
            state: AtomicU32::new(FREE),
            mpidr: UnsafeCell::new(0),
            job: UnsafeCell::new(None),
        }
    }
}

/// Size of a [`Slot`] (a power of two: the entry checks alignment with a mask).
pub(super) const SLOT_SIZE: usize = core::mem::size_of::<Slot>();
const _: () = assert!(SLOT_SIZE.is_power_of_two() && SLOT_SIZE <= 256);
/// Offsets the secondary entry reads.
pub(super) const OFF_MAGIC: usize = core::mem::offset_of!(Slot, magic);
pub(super) const OFF_MAIR: usize = core::mem::offset_of!(Slot, mair);
pub(super) const OFF_TCR: usize = core::mem::offset_of!(Slot, tcr);
pub(super) const OFF_TTBR0: usize = core::mem::offset_of!(Slot, ttbr0);
pub(super) const OFF_SCTLR: usize = core::mem::offset_of!(Slot, sctlr);
pub(super) const OFF_STACK_TOP: usize = core::mem::offset_of!(Slot, stack_top);
pub(super) const OFF_CPU: usize = core::mem::offset_of!(Slot, cpu);
pub(super) const SLOTS_BYTES: usize = SLOT_SIZE * MAX_RECS;
pub(super) const MAGIC: u64 = ARMED_MAGIC;

/// One launch slot per REC index (slot 0, the primary's, is never armed).
#[unsafe(no_mangle)]
static __realm_sdk_launch_slots: [Slot; MAX_RECS] = [const { Slot::new() }; MAX_RECS];

fn slots() -> &'static [Slot; MAX_RECS] {
    &__realm_sdk_launch_slots
}

/// Why a job could not be started.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SmpError {
    /// REC 0 is the caller, or the index is at or past [`rec_count`].
    NoSuchRec {
        /// The index asked for.
        index: usize,
        /// The realm's REC count.
        recs: usize,
    },
    /// A job started on this REC has not been joined yet.
    Busy(usize),
    /// The heap could not hold the REC's stacks.
    NoMemory,
    /// The guard page could not be unmapped.
    Guard(MmuError),
    /// The MMU is not on (the runtime turns it on before `main`).
    MmuOff,
    /// `CPU_ON` failed (the RMM's or the host's answer: `DENIED`, `ALREADY_ON`, ...).
    CpuOn(PsciError),
    /// The REC switched itself off without running the job.
    Lost(usize),
}

impl fmt::Display for SmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchRec { index, recs } => write!(
                f,
                "REC {index} cannot take a job (the realm has {recs} RECs, REC 0 is the caller)"
            ),
            Self::Busy(i) => write!(f, "REC {i} still has a job that was not joined"),
            Self::NoMemory => f.write_str("the heap has no room for another REC's stacks"),
            Self::Guard(e) => write!(f, "the stack guard page could not be unmapped: {e}"),
            Self::MmuOff => f.write_str("the MMU is off: secondary RECs need the primary's map"),
            Self::CpuOn(e) => write!(f, "PSCI CPU_ON failed: {}", psci_name(*e)),
            Self::Lost(i) => write!(f, "REC {i} switched itself off without running its job"),
        }
    }
}

impl core::error::Error for SmpError {}

/// The name of a PSCI error, for messages.
fn psci_name(e: PsciError) -> &'static str {
    match e {
        PsciError::NotSupported => "NOT_SUPPORTED",
        PsciError::InvalidParameters => "INVALID_PARAMETERS",
        PsciError::Denied => "DENIED",
        PsciError::AlreadyOn => "ALREADY_ON",
        PsciError::OnPending => "ON_PENDING",
        PsciError::InternalFailure => "INTERNAL_FAILURE",
        PsciError::NotPresent => "NOT_PRESENT",
        PsciError::Disabled => "DISABLED",
        PsciError::InvalidAddress => "INVALID_ADDRESS",
        _ => "an unknown PSCI error",
    }
}

static REC_COUNT: AtomicUsize = AtomicUsize::new(0);

/// The number of RECs of this realm (1 to [`MAX_RECS`]), asked of the RMM once
/// ([`psci::count_recs`]).
pub fn rec_count() -> usize {
    match REC_COUNT.load(Ordering::Relaxed) {
        0 => {
            let n = psci::count_recs(&mut Smc);
            REC_COUNT.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// The REC index of the calling CPU (0 on the primary).
#[must_use]
pub fn current() -> usize {
    let block: usize;
    // SAFETY: reading TPIDR_EL1 has no side effect.
    unsafe { core::arch::asm!("mrs {}, tpidr_el1", out(reg) block, options(nomem, nostack)) };
    let block = block as *const CpuBlock;
    // SAFETY: the runtime sets TPIDR_EL1 to the primary's block at `_start` and to the
    // slot's block at the secondary entry; neither is written while its CPU runs.
    unsafe { (*block).index }
}

/// One `T` per REC: each CPU reaches its own with [`PerCpu::get`].
#[derive(Debug)]
pub struct PerCpu<T> {
    items: [T; MAX_RECS],
}

impl<T> PerCpu<T> {
    /// One value per REC index.
    pub const fn new(items: [T; MAX_RECS]) -> Self {
        Self { items }
    }

    /// The calling CPU's value.
    pub fn get(&self) -> &T {
        // `current` is below MAX_RECS: a slot index or 0.
        &self.items[current() % MAX_RECS]
    }

    /// REC `index`'s value, if there is such a REC index.
    pub fn of(&self, index: usize) -> Option<&T> {
        self.items.get(index)
    }
}

/// Stacks of one secondary REC: `[guard page | stack | exception stack]`, from the heap.
struct Stacks {
    base: NonNull<u8>,
}

impl Stacks {
    const LAYOUT: Layout =
        match Layout::from_size_align(GUARD_SIZE + STACK_SIZE + EXCEPTION_STACK_SIZE, 4096) {
            Ok(layout) => layout,
            Err(_) => panic!("stack layout"),
        };

    fn new() -> Result<Self, SmpError> {
        // SAFETY: the layout has a non-zero size.
        let base =
            NonNull::new(unsafe { alloc::alloc::alloc(Self::LAYOUT) }).ok_or(SmpError::NoMemory)?;
        if let Err(e) = mmu::release(Ipa(base.addr().get() as u64), GUARD_SIZE) {
            // SAFETY: allocated just above with this layout, never handed out.
            unsafe { alloc::alloc::dealloc(base.as_ptr(), Self::LAYOUT) };
            return Err(SmpError::Guard(e));
        }
        Ok(Self { base })
    }

    fn stack_top(&self) -> usize {
        self.base.addr().get() + GUARD_SIZE + STACK_SIZE
    }

    fn exception_stack_top(&self) -> usize {
        self.stack_top() + EXCEPTION_STACK_SIZE
    }
}

impl Drop for Stacks {
    fn drop(&mut self) {
        // Map the guard page again before the heap hands it out. If that fails the block is
        // leaked rather than given back with a hole in it.
        if mmu::restore(Ipa(self.base.addr().get() as u64), GUARD_SIZE).is_ok() {
            // SAFETY: allocated in `new` with this layout; no CPU uses it any more (the
            // owner joined the REC: AFFINITY_INFO reported it off).
            unsafe { alloc::alloc::dealloc(self.base.as_ptr(), Self::LAYOUT) };
        }
    }
}

/// What a job hands back: its result, and a flag set (release) once it is stored.
struct Packet<R> {
    done: AtomicBool,
    result: UnsafeCell<Option<R>>,
}

// SAFETY: `result` is written once by the job's REC before `done` is set (release) and read
// by the joiner only after it saw `done` (acquire); R crosses CPUs, hence `R: Send`.
unsafe impl<R: Send> Sync for Packet<R> {}

/// A job running on another REC; [`Handle::join`] waits for its result.
///
/// Dropping a handle without joining waits for the job too (its stack cannot be freed
/// earlier).
pub struct Handle<R> {
    index: usize,
    packet: Arc<Packet<R>>,
    stacks: Option<Stacks>,
}

impl<R> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("rec", &self.index).finish()
    }
}

/// Starts `job` on REC `index` (1 to [`rec_count`] - 1) and returns a handle to join it.
///
/// # Errors
///
/// [`SmpError`]: no such REC, a job already there, no memory for the stacks, or `CPU_ON`
/// refused.
pub fn start<R, F>(index: usize, job: F) -> Result<Handle<R>, SmpError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let recs = rec_count();
    if index == 0 || index >= recs {
        return Err(SmpError::NoSuchRec { index, recs });
    }
    if !mmu::is_enabled() {
        return Err(SmpError::MmuOff);
    }
    let slot = &slots()[index];
    if slot
        .state
        .compare_exchange(FREE, ARMED, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(SmpError::Busy(index));
    }
    let stacks = match Stacks::new() {
        Ok(stacks) => stacks,
        Err(e) => {
            slot.state.store(FREE, Ordering::Release);
            return Err(e);
        }
    };
    let packet = Arc::new(Packet {
        done: AtomicBool::new(false),
        result: UnsafeCell::new(None),
    });
    let theirs = Arc::clone(&packet);
    let job: Job = Box::new(move || {
        let r = job();
        // SAFETY: only this job writes `result`, before `done`; see `Packet`.
        unsafe { *theirs.result.get() = Some(r) };
        theirs.done.store(true, Ordering::Release);
        // Wake a joiner waiting in WFE (the store must be visible first).
        // SAFETY: barriers and SEV have no other effect.
        unsafe { core::arch::asm!("dsb ish", "sev", options(nostack)) };
    });
    let mpidr = psci::rec_mpidr(index);
    // SAFETY: the slot is ours (FREE -> ARMED above) and its REC is off (a slot becomes FREE
    // only after AFFINITY_INFO reported it off, or was never started), so nothing reads it.
    unsafe {
        *slot.job.get() = Some(job);
        *slot.mpidr.get() = mpidr;
        *slot.stack_top.get() = stacks.stack_top() as u64;
        *slot.cpu.get() = CpuBlock {
            exception_stack_top: stacks.exception_stack_top(),
            index,
        };
        let (mair, tcr, ttbr0, sctlr) = translation_registers();
        *slot.mair.get() = mair;
        *slot.tcr.get() = tcr;
        *slot.ttbr0.get() = ttbr0;
        *slot.sctlr.get() = sctlr;
        *slot.magic.get() = ARMED_MAGIC;
    }
    // The secondary reads the first fields with its MMU off: from memory, not our caches.
    clean_to_poc(core::ptr::from_ref(slot).addr(), SLOT_SIZE);
    let entry = secondary_entry();
    match psci::cpu_on(
        &mut Smc,
        mpidr,
        entry,
        core::ptr::from_ref(slot).addr() as u64,
    ) {
        Ok(()) => Ok(Handle {
            index,
            packet,
            stacks: Some(stacks),
        }),
        Err(e) => {
            disarm(slot);
            Err(SmpError::CpuOn(e))
        }
    }
}

/// Takes the job back out of a slot whose REC did not start, and frees the slot.
fn disarm(slot: &Slot) {
    // SAFETY: CPU_ON failed, so the REC is not running this slot: the slot is still ours.
    unsafe {
        *slot.magic.get() = 0;
        drop((*slot.job.get()).take());
    }
    clean_to_poc(core::ptr::from_ref(slot).addr(), SLOT_SIZE);
    slot.state.store(FREE, Ordering::Release);
}

impl<R> Handle<R> {
    /// The REC index the job runs on.
    #[must_use]
    pub fn rec(&self) -> usize {
        self.index
    }

    /// Whether the job has finished (its result is ready; its REC may still be switching
    /// itself off).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.packet.done.load(Ordering::Acquire)
    }

    /// Waits for the job, then for its REC to be off, and returns the job's result.
    ///
    /// # Errors
    ///
    /// [`SmpError::Lost`] if the REC switched itself off without running the job (its entry
    /// refused the launch slot: not the slot armed for it).
    pub fn join(mut self) -> Result<R, SmpError> {
        if !self.wait() {
            return Err(SmpError::Lost(self.index));
        }
        // SAFETY: `wait` saw `done` (acquire): the job stored its result and never touches
        // the packet again.
        let result = unsafe { (*self.packet.result.get()).take() };
        // The job stores its result before setting `done`.
        result.ok_or(SmpError::Lost(self.index))
    }

    /// Waits until the job is done and its REC off, then frees the REC's stacks and slot.
    /// Returns whether the job ran (false: the REC went off without it).
    fn wait(&mut self) -> bool {
        if self.stacks.is_none() {
            return self.packet.done.load(Ordering::Acquire);
        }
        let mpidr = psci::rec_mpidr(self.index);
        // Ask about 1000 times a second (at least every 2^16 ticks without a frequency).
        let interval = Clock::read().map_or(1 << 16, |c| (c.hz() / 1000).max(1));
        let done = loop {
            // WFE between checks: the job's REC sends an event (SEV) after setting `done`.
            // Every millisecond ask AFFINITY_INFO instead: the call exits to the host, which
            // lets a host that runs several RECs on one CPU run the job's REC (QEMU does not
            // trap WFE, so TRAP_WFE alone would not), and it tells a REC that went off
            // without the job from one still working.
            let ask_at = Instant::now().ticks().saturating_add(interval);
            while !self.packet.done.load(Ordering::Acquire) && Instant::now().ticks() < ask_at {
                aarch64_cpu::asm::wfe();
            }
            match psci::affinity_info(&mut Smc, mpidr) {
                // The job sets `done` before its REC calls CPU_OFF: read it again now.
                Ok(AffinityState::Off) => break self.packet.done.load(Ordering::Acquire),
                Ok(_) => {}
                // The RMM knew this REC when the job started: an error here is an RMM that
                // breaks its own rules, and freeing the stack would be unsound.
                Err(e) => panic!(
                    "AFFINITY_INFO for REC {} failed: {}",
                    self.index,
                    psci_name(e)
                ),
            }
        };
        let slot = &slots()[self.index];
        if slot.state.load(Ordering::Acquire) == ARMED {
            // The REC never claimed the slot: take the job back.
            disarm(slot);
        } else {
            slot.state.store(FREE, Ordering::Release);
        }
        drop(self.stacks.take());
        done
    }
}

impl<R> Drop for Handle<R> {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

/// The primary's `MAIR_EL1`, `TCR_EL1`, `TTBR0_EL1` and `SCTLR_EL1`.
fn translation_registers() -> (u64, u64, u64, u64) {
    let (mair, tcr, ttbr0, sctlr): (u64, u64, u64, u64);
    // SAFETY: reading EL1 system registers has no side effect.
    unsafe {
        core::arch::asm!(
            "mrs {0}, mair_el1",
            "mrs {1}, tcr_el1",
            "mrs {2}, ttbr0_el1",
            "mrs {3}, sctlr_el1",
            out(reg) mair, out(reg) tcr, out(reg) ttbr0, out(reg) sctlr,
            options(nomem, nostack),
        );
    }
    (mair, tcr, ttbr0, sctlr)
}

/// `DC CVAC` over `[start, start + len)`, then `DSB SY`.
fn clean_to_poc(start: usize, len: usize) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effect.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let line = 4usize << ((ctr >> 16) & 0xf);
    let mut at = start & !(line - 1);
    while at < start + len {
        // SAFETY: cleaning to PoC writes dirty lines back and changes no memory contents.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    // SAFETY: a barrier has no other effect.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

unsafe extern "C" {
    /// The secondary entry (`entry.rs`).
    static __realm_sdk_secondary: u8;
}

fn secondary_entry() -> u64 {
    (&raw const __realm_sdk_secondary).addr() as u64
}

/// Called by the secondary entry, MMU on, on the slot's stack, with the slot the assembly
/// checked (in range, aligned, armed magic).
#[unsafe(no_mangle)]
extern "C" fn __realm_sdk_secondary_start(slot: &'static Slot) -> ! {
    let claimed = slot
        .state
        .compare_exchange(ARMED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
        .is_ok();
    let own = mpidr() & MPIDR_AFF_MASK;
    // SAFETY: read after the acquire above; the primary wrote it before arming.
    if !claimed || unsafe { *slot.mpidr.get() } != own {
        // Not this REC's slot (or not armed): leave it alone.
        off();
    }
    // SAFETY: the slot is ours now (ARMED -> RUNNING); the magic is cleared so that a
    // second entry with the same context id is refused by the assembly check.
    let job = unsafe {
        *slot.magic.get() = 0;
        (*slot.job.get()).take()
    };
    clean_to_poc(core::ptr::from_ref(slot).addr(), SLOT_SIZE);
    if let Some(job) = job {
        job();
    }
    off()
}

/// `MPIDR_EL1` affinity fields: Aff3 \[39:32\], Aff2..Aff0 \[23:0\].
const MPIDR_AFF_MASK: u64 = 0xff_00ff_ffff;

fn mpidr() -> u64 {
    let v: u64;
    // SAFETY: reading MPIDR_EL1 has no side effect.
    unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// `CPU_OFF`; if the RMM refuses, waits forever.
fn off() -> ! {
    let _ = psci::cpu_off(&mut Smc);
    loop {
        aarch64_cpu::asm::wfi();
    }
}
