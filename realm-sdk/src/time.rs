//! Time from the Armv8 generic timer: a monotonic clock, durations, deadlines and delays.
//!
//! A realm reads the virtual counter `CNTVCT_EL0`, which counts at `CNTFRQ_EL0` ticks per
//! second (Arm ARM D12, the Generic Timer). The conversions are pure functions of a
//! [`Clock`] (the frequency), so they are tested on the host; reading the counter needs the
//! `rt` runtime on AArch64 (`Clock::read`, `Instant::now`, `delay`).
//!
//! With the runtime, a realm can also sleep: `sleep_until` and `sleep` arm the EL1 virtual
//! timer and wait in `WFI` for its interrupt (INTID 27, [`crate::gic`]), which the host
//! delivers through the virtual GIC; `delay` busy-waits instead.
//!
//! What the host can do to time: it decides when a REC runs, so it can stall a realm for as
//! long as it likes, and a delay or a deadline only promises *at least* the time asked for.
//! It cannot make the counter run backwards: the RMM fixes the realm's counter offset. A
//! protocol that must not wait forever on the host bounds its waits with a [`Deadline`].
//! The timer's interrupt is the host's to deliver: it can withhold it (the sleep lasts until
//! the host lets the REC run again), delay it, or inject it early or for no reason; the
//! sleep treats it as a hint and re-reads the counter, so it never ends early
//! ([`TimerEvents`] counts what the handler saw).

use core::time::Duration;

/// The generic timer's frequency: counter ticks per second.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Clock {
    hz: u64,
}

impl Clock {
    /// A clock of `hz` ticks per second; `None` for 0 (a platform that did not program
    /// `CNTFRQ_EL0`).
    #[must_use]
    pub const fn new(hz: u64) -> Option<Self> {
        if hz == 0 { None } else { Some(Self { hz }) }
    }

    /// Ticks per second.
    #[must_use]
    pub const fn hz(&self) -> u64 {
        self.hz
    }

    /// The duration of `ticks` counter ticks (rounded down to a nanosecond).
    #[must_use]
    pub const fn duration(&self, ticks: u64) -> Duration {
        let secs = ticks / self.hz;
        let rest = ticks % self.hz;
        // rest < hz ≤ 2^64, so rest × 10^9 fits in 128 bits and the quotient is < 10^9.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the quotient is below 10^9"
        )]
        let nanos = (rest as u128 * 1_000_000_000 / self.hz as u128) as u32;
        Duration::new(secs, nanos)
    }

    /// The number of ticks that lasts at least `d` (rounded up), saturating at `u64::MAX`.
    #[must_use]
    pub const fn ticks(&self, d: Duration) -> u64 {
        let whole = (d.as_secs() as u128) * (self.hz as u128);
        let part = (d.subsec_nanos() as u128 * self.hz as u128).div_ceil(1_000_000_000);
        let total = whole + part;
        if total > u64::MAX as u128 {
            u64::MAX
        } else {
            #[allow(clippy::cast_possible_truncation, reason = "checked above")]
            {
                total as u64
            }
        }
    }
}

/// A reading of the virtual counter: a point on the realm's monotonic clock.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Instant(u64);

impl Instant {
    /// The instant at counter value `ticks`.
    #[must_use]
    pub const fn from_ticks(ticks: u64) -> Self {
        Self(ticks)
    }

    /// The counter value.
    #[must_use]
    pub const fn ticks(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this is; zero if it is not after it.
    #[must_use]
    pub const fn duration_since(self, earlier: Self, clock: Clock) -> Duration {
        clock.duration(self.0.saturating_sub(earlier.0))
    }

    /// The instant `d` after this one (at least), saturating at the counter's end.
    #[must_use]
    pub const fn after(self, d: Duration, clock: Clock) -> Self {
        Self(self.0.saturating_add(clock.ticks(d)))
    }
}

/// A point in time by which something must have happened.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Deadline {
    at: Instant,
    clock: Clock,
}

impl Deadline {
    /// The deadline `d` after `start`.
    #[must_use]
    pub const fn after(start: Instant, d: Duration, clock: Clock) -> Self {
        Self {
            at: start.after(d, clock),
            clock,
        }
    }

    /// The instant of the deadline.
    #[must_use]
    pub const fn instant(&self) -> Instant {
        self.at
    }

    /// Whether the deadline has passed at `now`.
    #[must_use]
    pub fn expired_at(&self, now: Instant) -> bool {
        now >= self.at
    }

    /// The time left at `now` (zero once passed).
    #[must_use]
    pub const fn remaining_at(&self, now: Instant) -> Duration {
        self.at.duration_since(now, self.clock)
    }
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
mod counter {
    use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0, Readable};

    use super::{Clock, Deadline, Duration, Instant};

    impl Clock {
        /// The frequency `CNTFRQ_EL0` reports; `None` if it is 0.
        #[must_use]
        pub fn read() -> Option<Self> {
            Self::new(CNTFRQ_EL0.get())
        }
    }

    impl Instant {
        /// Reads the virtual counter `CNTVCT_EL0` (after an `ISB`, so that the read is not
        /// taken before earlier instructions).
        #[must_use]
        pub fn now() -> Self {
            aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
            Self(CNTVCT_EL0.get())
        }
    }

    impl Deadline {
        /// The deadline `d` from now, on the generic timer; `None` without a frequency.
        #[must_use]
        pub fn from_now(d: Duration) -> Option<Self> {
            Some(Self::after(Instant::now(), d, Clock::read()?))
        }

        /// Whether the deadline has passed.
        #[must_use]
        pub fn expired(&self) -> bool {
            self.expired_at(Instant::now())
        }
    }

    /// Waits at least `d` (busy, without sleeping: the realm keeps its CPU); returns at
    /// once if the platform has no timer frequency.
    pub fn delay(d: Duration) {
        let Some(deadline) = Deadline::from_now(d) else {
            return;
        };
        while !deadline.expired() {
            core::hint::spin_loop();
        }
    }
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub use counter::delay;

/// What the virtual timer's interrupt handler has seen since the realm started (all CPUs).
///
/// A host may inject the timer's INTID before the timer fires, or any other INTID; the
/// handler tells them apart by the timer's own `CNTV_CTL_EL0.ISTATUS`, so a payload (or a
/// test) can check that it woke on the real thing.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct TimerEvents {
    /// Virtual timer interrupts (INTID 27) taken while the timer was asserted (enabled, its
    /// condition met, not masked).
    pub fired: u64,
    /// INTID 27 taken while the timer was not asserted: injected early by the host, or again
    /// for a fire already taken.
    pub early: u64,
    /// Other INTIDs: nothing in the runtime asked for them; acknowledged and ended.
    pub other: u64,
    /// IRQs taken with nothing to acknowledge (`ICC_IAR1_EL1` returned the spurious INTID
    /// 1023 at once).
    pub spurious: u64,
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
mod sleeping {
    use core::sync::atomic::{AtomicU64, Ordering};

    use aarch64_cpu::asm::barrier::{SY, isb};
    use aarch64_cpu::registers::{CNTV_CTL_EL0, CNTV_CVAL_EL0, DAIF, Readable, Writeable};

    use cca_abi::gic::timer_ctl::{self, ENABLE, IMASK};

    use super::{Deadline, Duration, TimerEvents};
    use crate::gic;

    /// `DAIF.I`.
    const DAIF_I: u64 = 1 << 7;

    static FIRED: AtomicU64 = AtomicU64::new(0);
    static EARLY: AtomicU64 = AtomicU64::new(0);
    static OTHER: AtomicU64 = AtomicU64::new(0);
    static SPURIOUS: AtomicU64 = AtomicU64::new(0);

    /// The counts of [`TimerEvents`] so far.
    #[must_use]
    pub fn timer_events() -> TimerEvents {
        TimerEvents {
            fired: FIRED.load(Ordering::Relaxed),
            early: EARLY.load(Ordering::Relaxed),
            other: OTHER.load(Ordering::Relaxed),
            spurious: SPURIOUS.load(Ordering::Relaxed),
        }
    }

    /// Sleeps until `deadline` has passed: arms the EL1 virtual timer (`CNTV_CVAL_EL0`,
    /// `CNTV_CTL_EL0`), waits in `WFI` and takes the timer's interrupt (INTID 27) through the
    /// runtime's IRQ vector, as often as needed, then disarms the timer. Returns at once if
    /// the deadline has passed.
    ///
    /// The interrupt is a hint: the loop ends only when the counter says the deadline has
    /// passed, so an interrupt the host injects early, a spurious one or a `WFI` that
    /// completes for no reason only cost another round. A host can make the sleep longer
    /// (it decides when the REC runs and when it injects the interrupt), never shorter.
    ///
    /// IRQs stay masked while the deadline is tested and during `WFI`, and are unmasked
    /// only afterwards: an interrupt arriving between the test and the `WFI` still ends the
    /// `WFI` (a pending interrupt is a wake-up event whatever `PSTATE.I`, Arm ARM D1.6.2),
    /// so no wake-up is lost. The caller's `PSTATE.I` is restored on return.
    pub fn sleep_until(deadline: Deadline) {
        gic::enable_group1();
        let daif = DAIF.get();
        DAIF.set(daif | DAIF_I);
        while !deadline.expired() {
            // The compare value first, then the enable: no interrupt from a stale value.
            CNTV_CVAL_EL0.set(deadline.instant().ticks());
            CNTV_CTL_EL0.set(ENABLE);
            isb(SY);
            if !deadline.expired() {
                aarch64_cpu::asm::wfi();
            }
            // Take what is pending (the handler runs on this stack), then mask again.
            DAIF.set(daif & !DAIF_I);
            isb(SY);
            DAIF.set(daif | DAIF_I);
        }
        CNTV_CTL_EL0.set(0);
        isb(SY);
        DAIF.set(daif);
    }

    /// Sleeps at least `d` ([`sleep_until`]); returns at once if the platform has no timer
    /// frequency.
    pub fn sleep(d: Duration) {
        if let Some(deadline) = Deadline::from_now(d) {
            sleep_until(deadline);
        }
    }

    /// The runtime's IRQ handler: acknowledges and ends every pending group-1 interrupt. The
    /// virtual timer's, if its condition holds, is masked at the timer (`IMASK`) so that its
    /// level drops until [`sleep_until`] arms it again.
    pub(crate) fn handle_irq() {
        // Bounded: a host that keeps injecting cannot hold the CPU here for ever.
        for round in 0..16 {
            let intid = gic::acknowledge();
            if intid == gic::INTID_SPURIOUS {
                // Nothing pending: spurious only if nothing was, when the IRQ was taken.
                if round == 0 {
                    SPURIOUS.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            if matches!(gic::kind(intid), gic::IntidKind::Special) {
                // 1020 to 1022 are never returned by ICC_IAR1_EL1 to a non-secure EL1;
                // there is nothing to end.
                OTHER.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if intid == gic::VIRTUAL_TIMER_INTID {
                let ctl = CNTV_CTL_EL0.get();
                // Asserted: enabled, condition met, not masked (masked means this fire was
                // taken already and the host delivered it again).
                if timer_ctl::asserted(ctl) {
                    CNTV_CTL_EL0.set(ctl | IMASK);
                    isb(SY);
                    FIRED.fetch_add(1, Ordering::Relaxed);
                } else {
                    EARLY.fetch_add(1, Ordering::Relaxed);
                }
            } else {
                OTHER.fetch_add(1, Ordering::Relaxed);
            }
            gic::end_of_interrupt(intid);
        }
    }
}

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub(crate) use sleeping::handle_irq;
#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub use sleeping::{sleep, sleep_until, timer_events};

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: Clock = Clock { hz: 62_500_000 };

    /// Durations and ticks convert both ways without overflow, a duration rounding up to
    /// whole ticks so that a wait is never shorter than asked.
    #[test]
    fn conversions() {
        assert_eq!(Clock::new(0), None);
        assert_eq!(QEMU.duration(62_500_000), Duration::from_secs(1));
        assert_eq!(QEMU.duration(1), Duration::from_nanos(16));
        assert_eq!(QEMU.ticks(Duration::from_millis(1)), 62_500);
        assert_eq!(QEMU.ticks(Duration::from_nanos(1)), 1);
        assert_eq!(QEMU.ticks(Duration::from_secs(u64::MAX)), u64::MAX);
        let max = Clock::new(u64::MAX).unwrap();
        assert_eq!(max.duration(u64::MAX), Duration::from_secs(1));
        for ticks in [0, 1, 62_499_999, 62_500_001, u64::MAX] {
            let d = QEMU.duration(ticks);
            assert!(
                QEMU.ticks(d) <= ticks && ticks - QEMU.ticks(d) <= 1,
                "{ticks}"
            );
        }
    }

    /// Instants never go backwards in arithmetic: a deadline saturates, and time since a
    /// later instant is zero.
    #[test]
    fn deadlines() {
        let start = Instant::from_ticks(1000);
        let deadline = Deadline::after(start, Duration::from_micros(10), QEMU);
        assert_eq!(deadline.instant().ticks(), 1000 + 625);
        assert!(!deadline.expired_at(Instant::from_ticks(1624)));
        assert!(deadline.expired_at(Instant::from_ticks(1625)));
        assert_eq!(
            deadline.remaining_at(Instant::from_ticks(1000)),
            Duration::from_micros(10)
        );
        assert_eq!(
            deadline.remaining_at(Instant::from_ticks(5000)),
            Duration::ZERO
        );
        assert_eq!(
            start.duration_since(Instant::from_ticks(2000), QEMU),
            Duration::ZERO
        );
        let end = Instant::from_ticks(u64::MAX - 1).after(Duration::from_secs(1), QEMU);
        assert_eq!(end.ticks(), u64::MAX);
    }
}
