//! `rmi-host`: launches a realm on the reference RMM.
//!
//! TF-A enters it as BL33 at NS-EL2. It negotiates RMI, reads the RMM's features, predicts
//! the realm's RIM, builds the realm from the embedded image with rmi-shim's builder
//! (default configuration: 32 MiB of RAM at IPA 0x8000_0000, 39-bit IPA space, SHA-256), runs
//! it (a realm of several RECs, `recs=N` in `REALM_PARAMS`, with REC i on physical CPU i)
//! with the realm's console on this one (its service calls, `cca_abi::hostcall::SERVICE`,
//! relayed over the same UART from the memory the realm shares), tears it down, reports how
//! many granules it delegated and undelegated, and powers the machine off.
//!
//! It also emulates the realm's virtio console and block device (rmi-shim's
//! `builder::virtio`, at the slots of `cca_abi::virtio`): the block device's disk is the
//! 16 MiB window at `cca_abi::virtio::RMI_HOST_DISK_PA`, which the runner fills with
//! `-device loader,file=DISK,addr=0x70000000,force-raw=on` (`realm_run::disk_device`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod host {
    extern crate alloc;

    use alloc::vec;

    use cca_abi::hostcall::{EXIT_STATUS, SERVICE, exit, relay, status};
    use cca_abi::rmi::Generation;
    use cca_abi::smccc::Smc;
    use el2_rt::{console, power_off, println};
    use rmi_shim::builder::vgic::{CpuInterfaceState, VirtualCpuInterface};
    use rmi_shim::builder::{
        BuildError, Host, Populate, RangeSource, Realm, RealmConfig, RunOutcome, SharedMemory,
    };
    use rmi_shim::link::{Link, Rmi, V1, V2};
    use rmi_shim::rmi;

    el2_rt::entry!(main);

    /// The realm image, embedded at build time (`REALM_IMAGE`).
    static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/realm.bin"));

    /// The REC's `x0` and `x1` at entry (`REALM_ENTRY_X0`, `REALM_ENTRY_X1` at build time).
    const ENTRY: [u64; 2] = include!(concat!(env!("OUT_DIR"), "/entry.rs"));

    // The realm parameters beyond the defaults (`REALM_PARAMS` at build time): `SPEC`,
    // `LPA2`, `SVE_VL`, `PMU_COUNTERS`, `IPA_WIDTH`, `RTT_LEVEL_START`, `ENTRY_OFFSET`,
    // `UNMEASURED`, `RAM_SIZE`, `EAGER`, `RECS`.
    include!(concat!(env!("OUT_DIR"), "/params.rs"));

    /// Non-secure DRAM the host delegates from (see `memory.ld`).
    const POOL: (u64, u64) = (0x4400_0000, 0x5c00_0000);

    /// The realm's console, written a line at a time so that the firmware's own log lines
    /// (TF-RMM at `LOG_LEVEL=40` logs every RMI call) fall between the realm's lines, never
    /// inside them.
    struct Console {
        line: alloc::vec::Vec<u8>,
        /// The realm's virtio devices (`mmio_read`, `mmio_write`).
        virtio: rmi_shim::builder::virtio::Devices<'static>,
        /// The CPU running the realm on its own ([`Host::cpu_interface`]).
        cpu: ThisCpu,
    }

    /// Longest line kept before it is written anyway.
    const CONSOLE_LINE_MAX: usize = 8 << 10;

    /// Appends the realm's output to `line`, writing it out at each newline ([`Console::flush`]).
    fn push_output(line: &mut alloc::vec::Vec<u8>, bytes: &[u8]) {
        for &b in bytes {
            line.push(b);
            if b == b'\n' || line.len() >= CONSOLE_LINE_MAX {
                relay::sanitize(line);
                console::write_bytes(line);
                line.clear();
            }
        }
    }

    impl Console {
        /// Writes what is buffered, with control bytes replaced so that it can never pass for
        /// a relay request line.
        fn flush(&mut self) {
            relay::sanitize(&mut self.line);
            console::write_bytes(&self.line);
            self.line.clear();
        }
    }

    /// Largest shared buffer a service call may name.
    const SERVICE_BUFFER_MAX: u64 = 16 << 10;

    impl Host for Console {
        /// The realm's output, a whole line at a time ([`Console::flush`]).
        fn console(&mut self, bytes: &[u8]) {
            push_output(&mut self.line, bytes);
        }

        /// The virtio devices' registers.
        fn mmio_read(&mut self, ipa: u64, size: u8, shared: &mut SharedMemory<'_>) -> Option<u64> {
            self.virtio.read(ipa, size, shared)
        }

        /// The virtio devices' registers; the console's output joins the realm's other output.
        fn mmio_write(
            &mut self,
            ipa: u64,
            size: u8,
            value: u64,
            shared: &mut SharedMemory<'_>,
        ) -> bool {
            let line = &mut self.line;
            self.virtio
                .write(ipa, size, value, shared, &mut |b| push_output(line, b))
        }

        /// Service calls (`cca_abi::hostcall::SERVICE`): the request is copied out of the
        /// realm's shared buffer, relayed over the UART, and the answer copied back.
        ///
        /// The whole buffer (`gprs[3]` bytes at `gprs[1]`) must be shared memory before
        /// anything is relayed, so that an answer is never fetched (a broker nonce spent)
        /// only to be dropped because it cannot be written back. realm-sdk's `share`
        /// touches every page of its window, so the builder has mapped all of it by then.
        fn host_call(&mut self, imm: u16, gprs: &mut [u64; 31], shared: &mut SharedMemory<'_>) {
            if imm == EXIT_STATUS {
                if gprs[0] != exit::SUCCESS {
                    println!(
                        "rmi-host: realm ended: {} (status {})",
                        exit::describe(gprs[0]),
                        gprs[0]
                    );
                }
                return;
            }
            if imm != SERVICE {
                println!("rmi-host: host call with immediate {imm:#x} ignored");
                return;
            }
            let [service, ipa, request_len, size] = [gprs[0], gprs[1], gprs[2], gprs[3]];
            let (code, len) = if size > SERVICE_BUFFER_MAX || request_len > size {
                (status::BAD_BUFFER, 0)
            } else {
                // Both fit in usize: size <= SERVICE_BUFFER_MAX and request_len <= size.
                let mut buffer = vec![0u8; size as usize];
                if shared.read(ipa, &mut buffer).is_err() {
                    (status::BAD_BUFFER, 0)
                } else {
                    let (code, len) =
                        console::relay_service(service, &mut buffer, request_len as usize);
                    match shared.write(ipa, &buffer[..len]) {
                        Ok(()) => (code, len),
                        Err(_) => (status::BAD_BUFFER, 0),
                    }
                }
            };
            gprs[0] = code;
            gprs[1] = len as u64;
        }

        /// This CPU's counter and GIC virtual CPU interface ([`VirtualCpuInterface`]).
        fn cpu_interface(&mut self) -> Option<&mut dyn VirtualCpuInterface> {
            Some(&mut self.cpu)
        }
    }

    /// The realm's virtual timer interrupt: rmi-shim's builder traps the realm's `WFI`, waits
    /// on this CPU's physical counter for the realm's deadline and injects vINTID 27; on RMI
    /// 2.0 through this CPU's `ICH_*_EL2` registers (el2-rt's `gic`).
    ///
    /// The host's own GIC is left as TF-A configured it, with the timer PPIs disabled at the
    /// redistributor, so a realm's timer firing while it runs does not make TF-RMM exit with
    /// `RMI_EXIT_IRQ`. Found by experiment on QEMU, with TF-A v2.14 + TF-RMM v0.8.0 and
    /// TF-A v2.15 + TF-RMM v0.9.0: without `TRAP_WFI` the `timer` example's first 10 ms
    /// sleep had not ended after 60 s on either stack; with it, its three sleeps gave three
    /// `WFI` exits and three `RMI_EXIT_IRQ` exits, the latter being TF-RMM reporting the
    /// timer's change of state on the entry after the host's wait (`runtime/core/run.c`
    /// `rec_run_loop`), not a physical interrupt. The host learns of the timer from
    /// `RmiRecExit.cntv_ctl`/`cntv_cval` and waits on its own counter.
    /// The calling CPU's counter and `ICH_*_EL2` registers: each CPU that runs a REC reaches
    /// its own through this.
    struct ThisCpu;

    impl VirtualCpuInterface for ThisCpu {
        fn counter(&mut self) -> u64 {
            el2_rt::physical_counter()
        }

        fn load(&mut self, state: &CpuInterfaceState) {
            use el2_rt::gic;
            for (n, lr) in state.lrs.iter().enumerate().take(gic::list_registers()) {
                gic::write_list_register(n, *lr);
            }
            for n in 0..gic::active_priority_registers() {
                gic::write_active_priorities(n, state.ap0r[n], state.ap1r[n]);
            }
            gic::write_control(state.vmcr, state.hcr);
        }

        fn save(&mut self, state: &mut CpuInterfaceState) {
            use el2_rt::gic;
            for (n, lr) in state.lrs.iter_mut().enumerate().take(gic::list_registers()) {
                *lr = gic::read_list_register(n);
            }
            for n in 0..gic::active_priority_registers() {
                (state.ap0r[n], state.ap1r[n]) = gic::read_active_priorities(n);
            }
            state.vmcr = gic::read_vmcr();
        }
    }

    fn main() -> ! {
        println!("rmi-host: BL33 at NS-EL2");
        if let Err(e) = launch() {
            println!("rmi-host: error: {e}");
        }
        power_off();
    }

    /// Runs REC `i` on physical CPU `i` ([`Realm::parallel`]); the secondary CPUs are started
    /// with PSCI `CPU_ON` to TF-A ([`el2_rt::smp::on_cpus`]) and are off again when this
    /// returns. Each CPU enters its REC through its own conduit, of the realm's generation.
    fn run_parallel(
        realm: &mut Realm<'_, Smc, RangeSource>,
        console: &mut Console,
        generation: Generation,
    ) -> Result<RunOutcome, BuildError> {
        let parallel = realm.parallel(console)?;
        let cpus = parallel.recs();
        println!("rmi-host: {cpus} RECs, one physical CPU each");
        let failed = spin::Mutex::new(None);
        let cpu = |index: usize| {
            let result = match generation {
                Generation::V1_0 => {
                    parallel.run_rec(index, &mut V1::assume(Smc), Some(&mut ThisCpu))
                }
                Generation::V2_0 => {
                    parallel.run_rec(index, &mut V2::assume(Smc), Some(&mut ThisCpu))
                }
            };
            if let Err(e) = result {
                failed.lock().get_or_insert(e);
            }
        };
        if let Err(e) = el2_rt::smp::on_cpus(cpus, &cpu) {
            println!("rmi-host: cannot start {cpus} CPUs: {e}");
            return Err(BuildError::Config("not enough CPUs for one REC each"));
        }
        let outcome = parallel.finish();
        match failed.into_inner() {
            Some(e) if outcome.is_ok() => Err(e),
            _ => outcome,
        }
    }

    fn launch() -> Result<(), BuildError> {
        if IMAGE.is_empty() {
            return Err(BuildError::Config(
                "no realm image embedded: build with REALM_IMAGE=<flat image>",
            ));
        }
        let (mut link, negotiated) = Link::connect(Smc).map_err(BuildError::Version)?;
        println!(
            "rmi-host: RMI {} (the RMM implements {} to {})",
            negotiated.version, negotiated.lower, negotiated.higher
        );
        if let Link::V1(rmm) = &mut link {
            let f = rmi::features0(rmm)?;
            println!(
                "rmi-host: RMI_FEATURES(0) {:#x}: S2SZ {}, SHA-256 {}, SHA-512 {}, LPA2 {}, SVE {}, PMU {}",
                f.to_raw(),
                f.s2sz,
                f.hash_sha_256,
                f.hash_sha_512,
                f.lpa2,
                f.sve,
                f.pmu
            );
        }
        let generation = link.generation();
        if generation == Generation::V2_0 {
            // RMI 2.0 leaves the ICH_* registers to the host (el2_rt::gic).
            el2_rt::gic::reset_virtual_cpu_interface();
            println!(
                "rmi-host: GICv3 virtual CPU interface cleared ({} list registers)",
                el2_rt::gic::list_registers()
            );
        }
        let mut entry_regs = [0; 8];
        entry_regs[..2].copy_from_slice(&ENTRY);
        let defaults = RealmConfig::default();
        let config = RealmConfig {
            image: IMAGE,
            entry_regs,
            lpa2: LPA2,
            sve_vl: SVE_VL,
            pmu_counters: PMU_COUNTERS,
            ipa_width: IPA_WIDTH.unwrap_or(defaults.ipa_width),
            rtt_level_start: RTT_LEVEL_START,
            entry: ENTRY_OFFSET.map(|offset| defaults.ram_base + offset),
            unmeasured: UNMEASURED,
            ram_size: RAM_SIZE.unwrap_or(defaults.ram_size),
            // The virtio pool of realm-sdk's `virtio` example (32 pages) and a service buffer.
            max_shared_pages: 64,
            populate: if EAGER {
                Populate::Eager
            } else {
                Populate::OnDemand
            },
            recs: RECS.unwrap_or(defaults.recs),
            ..defaults
        };
        if !SPEC.is_empty() {
            println!("rmi-host: realm parameters: {SPEC}");
        }
        let predicted = config
            .predict_rim_for(generation)
            .map_err(|_| BuildError::Config("RIM prediction"))?;
        println!(
            "rmi-host: realm image {} bytes, predicted RIM {predicted}",
            IMAGE.len()
        );
        let mut source = RangeSource::new(POOL.0, POOL.1);
        let mut realm = Realm::build_on(link, &mut source, &config)?;
        let held = realm.granules();
        println!("rmi-host: realm built and activated, {held} granules delegated");
        // SAFETY: the disk window lies in Non-secure DRAM above this program (0x60000000,
        // 64 MiB) and the delegation pool, below the end of QEMU's 2 GiB; nothing else uses
        // it, and this is its only reference.
        let disk = unsafe {
            core::slice::from_raw_parts_mut(
                cca_abi::virtio::RMI_HOST_DISK_PA as *mut u8,
                cca_abi::virtio::DISK_WINDOW as usize,
            )
        };
        let mut console = Console {
            line: alloc::vec::Vec::new(),
            virtio: rmi_shim::builder::virtio::Devices::new(
                config.ipa_width,
                disk,
                b"rmi-host disk",
            ),
            cpu: ThisCpu,
        };
        let outcome = if config.recs > 1 {
            run_parallel(&mut realm, &mut console, generation)
        } else {
            realm.run(&mut console)
        };
        console.flush();
        for (name, e) in ["console", "block"].iter().zip(console.virtio.errors()) {
            if let Some(e) = e {
                println!("rmi-host: virtio {name} stopped: {e}");
            }
        }
        match &outcome {
            Ok(RunOutcome::SystemOff) => println!("rmi-host: realm stopped: PSCI SYSTEM_OFF"),
            Ok(RunOutcome::SystemReset) => {
                println!("rmi-host: realm stopped: PSCI SYSTEM_RESET");
            }
            Ok(RunOutcome::AllRecsOff) => {
                println!("rmi-host: realm stopped: every REC called PSCI CPU_OFF");
            }
            Err(e) => println!("rmi-host: realm stopped: {e}"),
        }
        println!(
            "rmi-host: {} pages of RAM populated on the realm's demand",
            realm.populated()
        );
        let held = realm.granules();
        realm.destroy()?;
        println!(
            "rmi-host: teardown undelegated all {held} granules; {} still out of the pool",
            source.outstanding(POOL.0)
        );
        outcome.map(drop)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "rmi-host is a BL33 for TF-A + TF-RMM: build it with `--target aarch64-unknown-none`"
    );
    std::process::exit(2);
}
