//! `selftest`: exercises the runtime and ends the way the host asks.
//!
//! It allocates from the heap, changes the RIPAS of a buffer to `EMPTY` and back with
//! `RSI_IPA_STATE_SET`, asks for an attestation token, makes every RSI 1.1 call a realm with
//! no auxiliary plane and no device can make (refused by realm-sdk without an SMC when only
//! RSI 1.0 was negotiated; otherwise the RMM's answer), and then, depending on the REC's `x1`
//! at entry: 0 returns normally, 1 executes an undefined instruction, 2 panics, 3 executes
//! `HVC` (which the RMM turns into an undefined-instruction exception). The runtime's
//! exception vectors and panic handler report the last three and switch the realm off.
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
    use realm_sdk::rt::EntryArgs;
    use realm_sdk::{
        AuxPlaneIndex, Ipa, PermIndex, PlaneIndex, Realm, Ripas, Smc, VdevId, println,
    };

    realm_sdk::entry!(main);

    /// Two granules whose RIPAS the test changes; nothing else lives there.
    #[repr(C, align(4096))]
    struct Scratch([u8; 8192]);
    static mut SCRATCH: Scratch = Scratch([0; 8192]);

    fn main(realm: &mut Realm<Smc>, args: EntryArgs) {
        let v: Vec<u64> = (0..1000).collect();
        let mut s = String::new();
        let _ = write!(s, "{} items, sum {}", v.len(), v.iter().sum::<u64>());
        println!("heap: {s}");

        let base = Ipa((&raw const SCRATCH).addr() as u64);
        let top = Ipa(base.0 + 8192);
        for ripas in [Ripas::Empty, Ripas::Ram] {
            // The scratch granules hold no live data: nothing reads them while EMPTY.
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

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "selftest is a realm payload: build it with `cargo build -p selftest --target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
