//! `selftest`: exercises the runtime and ends the way the host asks.
//!
//! It allocates from the heap, changes the RIPAS of a buffer to `EMPTY` and back with
//! `RSI_IPA_STATE_SET`, asks for an attestation token, makes every RSI 1.1 call a realm with
//! no auxiliary plane and no device can make (refused by realm-sdk without an SMC when only
//! RSI 1.0 was negotiated; otherwise the RMM's answer), and then, depending on the REC's `x1`
//! at entry: 0 returns normally, 1 executes an undefined instruction, 2 panics, 3 executes
//! `HVC` (which the RMM turns into an undefined-instruction exception), 4 overflows the stack
//! into its guard page (a translation fault). The runtime's exception vectors and panic
//! handler report the last four and switch the realm off. 5 times a SHA-256 of 1 MiB and a
//! 64x64 matrix product with the MMU and caches off (`rt::mmu::with_mmu_off`), then on (best
//! of three each). It first says whether the MMU and caches are on (`SCTLR_EL1`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod payload {
    extern crate alloc;

    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt::Write;

    use realm_sdk::attest::TokenError;
    use realm_sdk::rsi::{
        DevMemFlags, MemPermValue, PermCookie, RipasChangeDestroyed, RsiError, RsiPlaneRun,
        RsiVdevInfo, SysregEncoding, VdevNonces,
    };
    use realm_sdk::rt::{EntryArgs, mmu};
    use realm_sdk::{
        AuxPlaneIndex, Ipa, PermIndex, PlaneIndex, Realm, Ripas, Smc, VdevId, println,
    };

    realm_sdk::entry!(main);

    /// Two granules whose RIPAS the test changes; nothing else lives there.
    #[repr(C, align(4096))]
    struct Scratch([u8; 8192]);
    static mut SCRATCH: Scratch = Scratch([0; 8192]);

    /// Recurses with 4 KiB frames until the stack runs into its guard page.
    #[inline(never)]
    fn overflow(depth: u64) -> u64 {
        let mut frame = [0u8; 4096];
        frame[0] = depth as u8;
        let frame = core::hint::black_box(&mut frame);
        if depth == u64::MAX {
            return frame[0].into();
        }
        overflow(depth + 1) + u64::from(frame[4095])
    }

    fn main(realm: &mut Realm<Smc>, args: EntryArgs) {
        let on_off = |on: bool| if on { "on" } else { "off" };
        println!(
            "MMU: {}, caches {}",
            on_off(mmu::is_enabled()),
            on_off(mmu::caches_enabled())
        );

        let v: Vec<u64> = (0..1000).collect();
        let mut s = String::new();
        let _ = write!(s, "{} items, sum {}", v.len(), v.iter().sum::<u64>());
        println!("heap: {s}");

        let base = Ipa((&raw const SCRATCH).addr() as u64);
        let top = Ipa(base.0 + 8192);
        for ripas in [Ripas::Empty, Ripas::Ram] {
            // The scratch granules hold no live data: nothing reads them while EMPTY (and
            // `set_ripas` unmaps them meanwhile).
            match realm.set_ripas(base, top, ripas, RipasChangeDestroyed::NoChange) {
                Ok(()) => match realm.ripas(base, top) {
                    Ok((now, end)) => println!(
                        "RIPAS: {ripas} requested, now {now} up to +{:#x}",
                        end.0 - base.0
                    ),
                    Err(e) => println!("RIPAS: read failed: {e}"),
                },
                Err(e) => println!("RIPAS: {ripas} refused: {e}"),
            }
        }
        // SAFETY: SCRATCH is RAM and mapped again (by `set_ripas`); nothing else refers to it.
        unsafe { (&raw mut SCRATCH).cast::<u8>().write_volatile(1) };

        let mut buf = [0u8; 64];
        match realm.attestation_token(&realm_sdk::Challenge::for_verifier(b"selftest"), &mut buf) {
            Ok(token) => println!("attestation: {} bytes", token.len()),
            Err(TokenError::Init(e)) => println!("attestation: INIT failed: {e}"),
            Err(e) => println!("attestation: {e}"),
        }

        rsi_1_1(realm, base, top);

        match args.0[1] {
            0 => println!("selftest: done"),
            1 => {
                println!("selftest: undefined instruction");
                // SAFETY: UDF raises an Undefined Instruction exception, which the runtime's
                // vectors report before switching the realm off; it never returns here.
                unsafe { core::arch::asm!("udf #0x42", options(noreturn)) }
            }
            2 => panic!("selftest: deliberate panic"),
            3 => {
                println!("selftest: HVC");
                // SAFETY: a realm may not use HVC; the RMM injects an Undefined Instruction
                // exception, which the runtime reports before switching the realm off.
                unsafe { core::arch::asm!("hvc #0", options(noreturn)) }
            }
            4 => {
                println!(
                    "selftest: stack overflow (guard page at {:#x})",
                    mmu::stack_guard().0
                );
                let depth = overflow(0);
                println!("selftest: the stack held {depth} frames");
            }
            5 => crate::bench::run(),
            other => println!("selftest: unknown ending {other}"),
        }
    }

    /// Every RSI 1.1 call, as a realm with plane 0 only and no device makes it: what TF-RMM
    /// v0.9.0 answers is in `tests/tests/tf_rmm.rs` and the harness's expectations.
    fn rsi_1_1(realm: &mut Realm<Smc>, base: Ipa, top: Ipa) {
        use crate::rsi11::{Done, report};

        println!(
            "rsi11: RSI {} negotiated, {} auxiliary planes",
            realm.version(),
            realm.num_aux_planes()
        );
        let name = |v: Result<MemPermValue, RsiError>| v.map(MemPermValue::name);
        for (call, index) in [
            ("MEM_GET_PERM_VALUE(plane 0, index 0)", PermIndex::DEFAULT),
            ("MEM_GET_PERM_VALUE(plane 0, index 14)", PermIndex::MAX),
        ] {
            report(
                call,
                name(realm.mem_get_perm_value(PlaneIndex::PLANE_0, index)),
            );
        }
        let plane1 = AuxPlaneIndex::PLANE_1;
        let index1 = PermIndex::try_new(1).unwrap_or(PermIndex::MAX);
        report(
            "MEM_GET_PERM_VALUE(plane 1, index 0)",
            name(realm.mem_get_perm_value(plane1.into(), PermIndex::DEFAULT)),
        );
        report(
            "MEM_SET_PERM_VALUE(plane 1, index 1, RW)",
            realm
                .mem_set_perm_value(plane1, index1, MemPermValue::Rw)
                .map(|()| Done),
        );
        // A non-zero cookie on a realm whose planes share one stage-2 tree: refused before
        // any exit to the host.
        report(
            "MEM_SET_PERM_INDEX(scratch, index 1, cookie 1)",
            realm
                .mem_set_perm_index(base, top, index1, PermCookie::from_raw(1))
                .map(|c| c.next.0 - base.0),
        );
        let mut run = RsiPlaneRun::zeroed();
        report(
            "PLANE_ENTER(plane 1)",
            realm.plane_enter(plane1, &mut run).map(|r| r.to_raw()),
        );
        report(
            "PLANE_SYSREG_READ(plane 1, SCTLR_EL1)",
            realm.plane_sysreg_read(plane1, SysregEncoding::SCTLR_EL1),
        );
        report(
            "PLANE_SYSREG_WRITE(plane 1, SCTLR_EL1)",
            realm
                .plane_sysreg_write(plane1, SysregEncoding::SCTLR_EL1, 0)
                .map(|()| Done),
        );
        let vdev = VdevId(0);
        let mut info = RsiVdevInfo::zeroed();
        report(
            "VDEV_GET_INFO(device 0x0)",
            realm.vdev_get_info(vdev, &mut info).map(|()| Done),
        );
        let nonces = VdevNonces::default();
        report(
            "VDEV_DMA_ENABLE(device 0x0)",
            realm
                .vdev_dma_enable(vdev, PlaneIndex::PLANE_0, &nonces)
                .map(|()| Done),
        );
        report(
            "VDEV_DMA_DISABLE(device 0x0)",
            realm.vdev_dma_disable(vdev).map(|()| Done),
        );
        report(
            "VDEV_VALIDATE_MAPPING(device 0x0, scratch)",
            realm
                .vdev_validate_mapping(vdev, base, top, 0, DevMemFlags::EMPTY, &nonces)
                .map(|m| m.next.0 - base.0),
        );
        report("VSMMU_GET_INFO", realm.vsmmu_get_info().map(|()| Done));
        report(
            "ARCH_DEV_ACTIVATE",
            realm.arch_dev_activate().map(|()| Done),
        );
        if realm.version() < realm_sdk::AbiVersion::V1_1 {
            rsi_1_1_sent_anyway(realm.conduit(), base, top);
        }
    }

    /// On RSI 1.0, what the RMM answers if the calls are sent anyway through the free
    /// functions, which do not check the revision: TF-RMM v0.8.0 dispatches some of these
    /// ids (to the same or to older handlers) whatever it offers.
    fn rsi_1_1_sent_anyway(smc: &mut Smc, base: Ipa, top: Ipa) {
        use crate::rsi11::{Done, report};
        use realm_sdk::rsi;

        let nonces = VdevNonces::default();
        report(
            "sent anyway: MEM_GET_PERM_VALUE(plane 0, index 0)",
            rsi::mem_get_perm_value(smc, PlaneIndex::PLANE_0, PermIndex::DEFAULT)
                .map(MemPermValue::name),
        );
        let mut run = RsiPlaneRun::zeroed();
        report(
            "sent anyway: PLANE_ENTER(plane 1)",
            rsi::plane_enter(smc, AuxPlaneIndex::PLANE_1, &mut run).map(|r| r.to_raw()),
        );
        let mut info = RsiVdevInfo::zeroed();
        report(
            "sent anyway: VDEV_GET_INFO(device 0x0)",
            rsi::vdev_get_info(smc, VdevId(0), &mut info).map(|()| Done),
        );
        report(
            "sent anyway: VDEV_DMA_ENABLE(device 0x0)",
            rsi::vdev_dma_enable(smc, VdevId(0), PlaneIndex::PLANE_0, &nonces).map(|()| Done),
        );
        report(
            "sent anyway: VDEV_VALIDATE_MAPPING(device 0x0, scratch)",
            rsi::vdev_validate_mapping(smc, VdevId(0), base, top, 0, DevMemFlags::EMPTY, &nonces)
                .map(|m| m.next.0 - base.0),
        );
        report(
            "sent anyway: VSMMU_GET_INFO",
            rsi::vsmmu_get_info(smc).map(|()| Done),
        );
    }
}

#[cfg(target_os = "none")]
mod rsi11 {
    use core::fmt::Display;

    use realm_sdk::println;
    use realm_sdk::rsi::RsiError;

    /// Prints `call`'s outcome on one line: the value, or the error as a sentence.
    pub fn report<T: Display>(call: &str, result: Result<T, RsiError>) {
        match result {
            Ok(v) => println!("rsi11: {call}: {v}"),
            Err(e) => println!("rsi11: {call}: {e}"),
        }
    }

    /// The outcome of a call without a result.
    pub struct Done;

    impl Display for Done {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("done")
        }
    }
}

/// Compute kernels timed with the MMU and caches off, then on.
#[cfg(target_os = "none")]
mod bench {
    use realm_sdk::println;
    use realm_sdk::rt::mmu;
    use sha2::{Digest, Sha256};

    const DATA_SIZE: usize = 1 << 20;
    const N: usize = 64;

    /// The kernels' memory: statics, so that no heap (and no lock) is needed with the MMU off.
    struct Memory {
        data: [u8; DATA_SIZE],
        a: [[u64; N]; N],
        b: [[u64; N]; N],
        c: [[u64; N]; N],
    }
    static mut MEMORY: Memory = Memory {
        data: [0; DATA_SIZE],
        a: [[0; N]; N],
        b: [[0; N]; N],
        c: [[0; N]; N],
    };

    fn counter() -> u64 {
        let value: u64;
        // SAFETY: reading the virtual counter has no side effect.
        unsafe {
            core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nostack));
        }
        value
    }

    fn frequency() -> u64 {
        let value: u64;
        // SAFETY: reading the counter frequency has no side effect.
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) value, options(nomem, nostack)) };
        value.max(1)
    }

    /// SHA-256 of the data, then the product `c = a * b` (wrapping); returns the digest's
    /// first 8 bytes, the sum of `c`, and the ticks each took.
    fn kernels(memory: &mut Memory) -> (u64, u64, u64, u64) {
        let t0 = counter();
        let digest = Sha256::digest(memory.data.as_slice());
        let t1 = counter();
        for i in 0..N {
            for j in 0..N {
                let mut sum = 0u64;
                for k in 0..N {
                    sum = sum.wrapping_add(memory.a[i][k].wrapping_mul(memory.b[k][j]));
                }
                memory.c[i][j] = sum;
            }
        }
        let t2 = counter();
        let sum = memory
            .c
            .iter()
            .flatten()
            .fold(0u64, |s, &x| s.wrapping_add(x));
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(head), sum, t1 - t0, t2 - t1)
    }

    /// [`kernels`] three times, keeping the shortest times.
    fn best_of_3(memory: &mut Memory) -> (u64, u64, u64, u64) {
        let mut best = kernels(memory);
        for _ in 0..2 {
            let next = kernels(memory);
            best.2 = best.2.min(next.2);
            best.3 = best.3.min(next.3);
        }
        best
    }

    pub(crate) fn run() {
        // SAFETY: MEMORY is used by this function alone, once; the pointer is not null.
        let Some(memory) = (unsafe { (&raw mut MEMORY).as_mut() }) else {
            return;
        };
        // Touch every page first, so that neither run pays for the host populating RAM.
        for (i, byte) in memory.data.iter_mut().enumerate() {
            *byte = (i * 31 + 7) as u8;
        }
        for i in 0..N {
            for j in 0..N {
                memory.a[i][j] = (i * N + j) as u64;
                memory.b[i][j] = (j * N + i + 1) as u64;
            }
        }
        // SAFETY: `kernels` uses no atomics, heap or console and touches only MEMORY (BSS)
        // and its stack; the realm has one CPU.
        let off = unsafe { mmu::with_mmu_off(|| best_of_3(memory)) };
        let on = best_of_3(memory);
        let us = |ticks: u64| ticks * 1_000_000 / frequency();
        println!(
            "bench: same results with the MMU off and on: {}",
            off.0 == on.0 && off.1 == on.1
        );
        println!(
            "bench: SHA-256 of 1 MiB: MMU off {} us, on {} us",
            us(off.2),
            us(on.2)
        );
        println!(
            "bench: 64x64 matrix product: MMU off {} us, on {} us",
            us(off.3),
            us(on.3)
        );
        println!("selftest: done");
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "selftest is a realm payload: build it with `cargo build -p selftest --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
