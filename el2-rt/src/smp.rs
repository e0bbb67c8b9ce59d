//! The other physical CPUs: run a function on CPUs 1 to N - 1 while CPU 0 (the boot CPU) runs
//! it too, and wait for all of them ([`on_cpus`]).
//!
//! Secondary CPUs are started with PSCI `CPU_ON` (SMC64, Arm DEN0022 §5.1.4) to the EL3
//! firmware (TF-A), or to QEMU's own PSCI when the machine has no EL3 (QEMU `virt` with
//! `virtualization=on` and no `secure=on` takes PSCI calls by SMC); both start the CPU at
//! NS-EL2 at the runtime's secondary entry with the context id in `x0`, MMU off. The entry
//! takes its stack from the context (each CPU has its own, from the heap), installs the
//! runtime's fault vectors and the `CPTR_EL2` of `_start`, and calls Rust, which runs the
//! function, marks the CPU done and calls `CPU_OFF`. [`on_cpus`] returns once every CPU it
//! started is done and PSCI `AFFINITY_INFO` reports it off, so their stacks can be freed.
//!
//! The context id goes to the firmware and comes back unchanged: the firmware at EL3 is
//! trusted by everything at EL2, so it is used as given.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use cca_abi::smccc::{Conduit, Smc, regs};
use smccc::psci::{PSCI_AFFINITY_INFO_64, PSCI_CPU_OFF, PSCI_CPU_ON_64};

/// Stack of each secondary CPU.
pub const STACK_SIZE: usize = 64 * 1024;
/// CPUs [`on_cpus`] can use (QEMU `virt` gives CPU `i` < 8 the MPIDR `i`, in one cluster).
pub const MAX_CPUS: usize = 8;

/// What one secondary CPU starts with; its address is the `CPU_ON` context id.
#[repr(C)]
struct Start<'f> {
    /// Top of the CPU's stack (offset 0: read by the entry, MMU off).
    stack_top: usize,
    index: usize,
    job: &'f (dyn Fn(usize) + Sync),
    /// [`WAIT`], then [`GO`] once every CPU started, or [`ABORT`] if one could not.
    go: &'f AtomicU8,
    done: AtomicBool,
}

const WAIT: u8 = 0;
const GO: u8 = 1;
const ABORT: u8 = 2;

/// Why [`on_cpus`] could not use a CPU.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CpuError {
    /// More CPUs than [`MAX_CPUS`] were asked for.
    TooMany(usize),
    /// PSCI `CPU_ON` of this CPU failed with this PSCI status.
    CpuOn {
        /// The CPU.
        cpu: usize,
        /// The PSCI status (negative).
        status: i64,
    },
}

impl fmt::Display for CpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany(n) => write!(f, "{n} CPUs asked for, at most {MAX_CPUS} can be used"),
            Self::CpuOn { cpu, status } => {
                write!(f, "PSCI CPU_ON of CPU {cpu} failed with status {status}")
            }
        }
    }
}

/// The MPIDR of CPU `index` on QEMU `virt` (Aff0 = index, below 8).
#[must_use]
pub const fn mpidr(index: usize) -> u64 {
    index as u64
}

fn psci(fid: u32, args: &[u64]) -> i64 {
    // PSCI returns a signed 32-bit value, sign-extended by SMC64.
    #[allow(clippy::cast_possible_truncation, reason = "PSCI results are 32-bit")]
    let ret = Smc.call(regs(fid, args))[0] as i32;
    i64::from(ret)
}

unsafe extern "C" {
    static __el2_rt_secondary: u8;
}

/// Runs `job(i)` on CPU `i` for every `i` below `cpus`: CPU 0 is the caller, the others are
/// started with PSCI `CPU_ON`. No job runs before every CPU is up. Returns when every job
/// has returned and every started CPU is off again.
///
/// # Errors
///
/// [`CpuError`] if a CPU could not be started (the machine has fewer CPUs, say): then no
/// job runs, and the CPUs already started are switched off again before this returns.
pub fn on_cpus(cpus: usize, job: &(dyn Fn(usize) + Sync)) -> Result<(), CpuError> {
    if cpus > MAX_CPUS {
        return Err(CpuError::TooMany(cpus));
    }
    let go = AtomicU8::new(WAIT);
    let mut stacks: Vec<Vec<u128>> = (1..cpus)
        .map(|_| alloc::vec![0u128; STACK_SIZE / 16])
        .collect();
    let starts: Vec<Start<'_>> = stacks
        .iter_mut()
        .enumerate()
        .map(|(i, stack)| Start {
            stack_top: stack.as_mut_ptr_range().end.addr(),
            index: i + 1,
            job,
            go: &go,
            done: AtomicBool::new(false),
        })
        .collect();
    let entry = (&raw const __el2_rt_secondary).addr() as u64;
    let mut result = Ok(());
    let mut started = Vec::new();
    for start in &starts {
        let context = core::ptr::from_ref(start).addr() as u64;
        match psci(PSCI_CPU_ON_64, &[mpidr(start.index), entry, context]) {
            0 => started.push(start),
            status => {
                result = Err(CpuError::CpuOn {
                    cpu: start.index,
                    status,
                });
                break;
            }
        }
    }
    if result.is_ok() {
        go.store(GO, Ordering::Release);
        job(0);
    } else {
        go.store(ABORT, Ordering::Release);
    }
    for start in started {
        while !start.done.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
        // AFFINITY_INFO: 1 = OFF. Until then the CPU may still be on its stack.
        while psci(PSCI_AFFINITY_INFO_64, &[mpidr(start.index), 0]) != 1 {
            core::hint::spin_loop();
        }
    }
    drop(starts);
    drop(stacks);
    result
}

/// Called by the secondary entry on the CPU's own stack.
#[unsafe(no_mangle)]
extern "C" fn __el2_rt_secondary_start(start: &Start<'_>) -> ! {
    let go = loop {
        match start.go.load(Ordering::Acquire) {
            WAIT => core::hint::spin_loop(),
            go => break go,
        }
    };
    if go == GO {
        (start.job)(start.index);
    }
    start.done.store(true, Ordering::Release);
    let _ = psci(PSCI_CPU_OFF, &[]);
    loop {
        aarch64_cpu::asm::wfi();
    }
}
