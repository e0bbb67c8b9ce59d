//! The realm builder: from a flat image and a [`RealmConfig`] to a running realm, and back
//! to nothing delegated.
//!
//! [`Realm::build`] issues, in this order (the order the RIM depends on, see [`crate::rim`]):
//!
//! 1. `RMI_VERSION` (an RMI 2.0-only RMM is refused) and `RMI_FEATURES(0)`;
//! 2. `RMI_GRANULE_DELEGATE` of the RD and the root RTTs, `RMI_REALM_CREATE`;
//! 3. `RMI_RTT_CREATE` down to level 3 over realm RAM;
//! 4. `RMI_RTT_INIT_RIPAS` over all of realm RAM (RIPAS RAM, one measured entry per 4 KiB);
//! 5. `RMI_DATA_CREATE` with `MEASURE_CONTENT` of every 4 KiB of the image from the start of
//!    RAM (the last zero-padded), then `RMI_DATA_CREATE_UNKNOWN` for the rest of RAM;
//! 6. `RMI_REC_AUX_COUNT`, then per REC its granules and `RMI_REC_CREATE` (REC 0 RUNNABLE
//!    with the entry registers, the others started by PSCI `CPU_ON`);
//! 7. `RMI_REALM_ACTIVATE`.
//!
//! While the realm runs, a data abort in the unprotected alias of its RAM (a realm reaching
//! memory it shared, after setting its RIPAS to `EMPTY`) is answered by mapping a zeroed
//! host page there (`RMI_RTT_CREATE` as needed, `RMI_RTT_MAP_UNPROTECTED`); [`Host`]
//! reaches those pages through [`SharedMemory`] during host calls.
//!
//! Every granule the builder delegates is recorded as it goes. [`Realm::destroy`] (and `Drop`)
//! tears everything down in reverse creation order and undelegates every granule; a command
//! that fails during teardown is retried once after the others, so a single transient
//! failure leaks nothing. A build that fails part-way tears down what it made before
//! returning the error.
//!
//! Addresses: non-secure pages the builder hands the RMM (parameters, DATA sources,
//! `RmiRecRun`) are the builder's own allocations, passed at their address: the host runs
//! with the MMU off or an identity map (as rmi-shim's bare-metal host does), or against the
//! in-process model.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use cca_abi::hostcall::{CONSOLE_WRITE, CONSOLE_WRITE_MAX};
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rim::{MeasuredRealmParams, MeasuredRecParams};
use cca_abi::rmi::{
    Granule, Ipa, RecCreateFlags, RecEnterFlags, RmiDataMeasureContent, RmiExitReason,
    RmiRealmParams, RmiRecParams, RmiRecRun, RttLevel,
};
use cca_abi::rsi::Ripas;
use cca_abi::smccc::{Conduit, unpack_bytes};
use cca_abi::{GRANULE_SIZE, rmi as abi};
use zerocopy::FromZeros;

use crate::error::Error;
use crate::rim::{self, PredictError, RealmBuild, RipasRange};
use crate::rmi;
use crate::version::{self, VersionError};

const GRANULE: u64 = GRANULE_SIZE as u64;

/// Where the builder gets granules to delegate (physical memory the host owns and may give
/// to the realm world).
pub trait GranuleSource {
    /// A free 4 KiB granule, or `None` when memory runs out.
    fn allocate(&mut self) -> Option<Granule>;
    /// Gives back a granule that is Non-secure again.
    fn release(&mut self, granule: Granule);
}

/// A [`GranuleSource`] over a range of physical addresses.
#[derive(Clone, Debug)]
pub struct RangeSource {
    next: u64,
    top: u64,
    free: Vec<Granule>,
}

impl RangeSource {
    /// Granules from `[base, top)` (rounded inwards to granules).
    #[must_use]
    pub fn new(base: u64, top: u64) -> Self {
        Self {
            next: base.next_multiple_of(GRANULE),
            top: top & !(GRANULE - 1),
            free: Vec::new(),
        }
    }

    /// Number of granules handed out and not released.
    #[must_use]
    pub fn outstanding(&self, base: u64) -> u64 {
        (self.next - base.next_multiple_of(GRANULE)) / GRANULE - self.free.len() as u64
    }
}

impl GranuleSource for RangeSource {
    fn allocate(&mut self) -> Option<Granule> {
        if let Some(g) = self.free.pop() {
            return Some(g);
        }
        if self.next >= self.top {
            return None;
        }
        let g = Granule::new(self.next);
        self.next += GRANULE;
        g
    }

    fn release(&mut self, granule: Granule) {
        self.free.push(granule);
    }
}

/// What the realm is made of.
#[derive(Clone, Debug)]
pub struct RealmConfig<'a> {
    /// The flat image, loaded at the start of realm RAM and entered at its first byte.
    pub image: &'a [u8],
    /// IPA of realm RAM (granule aligned; the `REALM_RAM` origin of the payload's board file).
    pub ram_base: u64,
    /// Bytes of realm RAM (a multiple of 2 MiB), at least the image.
    pub ram_size: u64,
    /// IPA width in bits (`s2sz`), 32 to 48.
    pub ipa_width: u32,
    /// Hash algorithm of the RIM and REMs.
    pub hash: HashAlgorithm,
    /// Realm Personalization Value (not measured).
    pub rpv: [u8; 64],
    /// `num_bps` and `num_wps` of `RmiRealmParams` (TF-RMM requires 1 up to `RMI_FEATURES`).
    pub debug: (u32, u32),
    /// VMID, unique among live realms.
    pub vmid: u16,
    /// Number of RECs (REC 0 starts; the others wait for PSCI `CPU_ON`).
    pub recs: usize,
    /// `x0..x7` of REC 0 at entry (realm-sdk's runtime: `x0` bit 0 selects the PL011
    /// console, `x1..x3` go to `main`).
    pub entry_regs: [u64; 8],
    /// IPA (protected alias) of the UART the host emulates at the unprotected alias, if any.
    pub uart_ipa: Option<u64>,
    /// Most host pages the builder maps behind the unprotected alias of RAM on the realm's
    /// demand (shared buffers); a fault beyond is an unhandled exit.
    pub max_shared_pages: usize,
}

impl Default for RealmConfig<'_> {
    /// The layout of `linker/qemu-virt-realm.ld`: 32 MiB of RAM at IPA 0x8000_0000, a 39-bit
    /// IPA space, SHA-256, one REC, the QEMU virt UART, no image.
    fn default() -> Self {
        Self {
            image: &[],
            ram_base: 0x8000_0000,
            ram_size: 32 << 20,
            ipa_width: 39,
            hash: HashAlgorithm::Sha256,
            rpv: [0; 64],
            debug: (1, 1),
            vmid: 1,
            recs: 1,
            entry_regs: [0; 8],
            uart_ipa: Some(0x0900_0000),
            max_shared_pages: 16,
        }
    }
}

/// Why a realm could not be built, run or torn down.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum BuildError {
    /// The configuration is not one the RMM can build.
    Config(&'static str),
    /// The RMM does not speak RMI 1.0.
    Version(VersionError),
    /// The granule source ran out.
    OutOfGranules,
    /// An RMI command failed.
    Rmi(Error),
    /// The realm stopped in a way the host cannot handle (an exit it does not know, an
    /// SError, an unexpected abort).
    UnhandledExit {
        /// `RmiRecExit.exit_reason`.
        reason: u64,
        /// `RmiRecExit.esr`.
        esr: u64,
    },
    /// Teardown could not destroy or undelegate `leaked` granules.
    Leaked {
        /// Granules still delegated.
        leaked: usize,
    },
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        Self::Rmi(e)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(what) => write!(f, "invalid realm configuration: {what}"),
            Self::Version(e) => write!(f, "RMI version: {e:?}"),
            Self::OutOfGranules => f.write_str("no granules left to delegate"),
            Self::Rmi(e) => write!(f, "RMI call failed: {e:?}"),
            Self::UnhandledExit { reason, esr } => {
                write!(f, "unhandled REC exit: reason {reason}, ESR {esr:#x}")
            }
            Self::Leaked { leaked } => write!(f, "teardown left {leaked} granules delegated"),
        }
    }
}

impl core::error::Error for BuildError {}

impl RealmConfig<'_> {
    fn check(&self) -> Result<(), BuildError> {
        let c = |ok: bool, what| {
            if ok {
                Ok(())
            } else {
                Err(BuildError::Config(what))
            }
        };
        c(
            (32..=48).contains(&self.ipa_width),
            "ipa_width must be 32 to 48",
        )?;
        c(
            self.ram_base.is_multiple_of(2 << 20),
            "ram_base must be 2 MiB aligned",
        )?;
        c(
            self.ram_size > 0 && self.ram_size.is_multiple_of(2 << 20),
            "ram_size must be a multiple of 2 MiB",
        )?;
        let top = self
            .ram_base
            .checked_add(self.ram_size)
            .ok_or(BuildError::Config("RAM overflows"))?;
        c(
            top <= 1 << (self.ipa_width - 1),
            "RAM must lie in the protected half of the IPA space",
        )?;
        c(
            self.image.len() as u64 <= self.ram_size,
            "the image is larger than RAM",
        )?;
        c(!self.image.is_empty(), "the image is empty")?;
        c(self.recs >= 1 && self.recs <= 16, "1 to 16 RECs")
    }

    /// Level of the root RTT and how many are concatenated: one table at the level whose
    /// tables cover `ipa_width` bits (TF-RMM requires the count to match exactly).
    fn root(&self) -> (i8, u64) {
        if self.ipa_width <= 39 {
            (1, 1 << self.ipa_width.saturating_sub(39))
        } else {
            (0, 1 << self.ipa_width.saturating_sub(48))
        }
    }

    fn measured_params(&self) -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags0: 0,
            s2sz: self.ipa_width,
            sve_vl: 0,
            num_bps: self.debug.0,
            num_wps: self.debug.1,
            pmu_num_ctrs: 0,
            hash_algo: self.hash,
        }
    }

    fn rec_params(&self, index: usize) -> MeasuredRecParams {
        let runnable = index == 0;
        MeasuredRecParams {
            flags: if runnable {
                RecCreateFlags::RUNNABLE.to_raw()
            } else {
                0
            },
            pc: self.ram_base,
            gprs: if runnable { self.entry_regs } else { [0; 8] },
        }
    }

    /// The RIM the RMM will compute for this realm ([`crate::rim::predict`] of the build
    /// sequence in the module documentation).
    ///
    /// # Errors
    ///
    /// [`PredictError`] for a layout the RMM would refuse.
    pub fn predict_rim(&self) -> Result<Measurement, PredictError> {
        let range = RipasRange {
            base: Ipa::new(self.ram_base).ok_or(PredictError::AddressOverflow)?,
            top: Ipa::new(self.ram_base + self.ram_size).ok_or(PredictError::AddressOverflow)?,
            level: RttLevel::new(3).expect("level 3"),
        };
        let (chunks, tail) = self.image.as_chunks::<GRANULE_SIZE>();
        let mut last = [0u8; GRANULE_SIZE];
        last[..tail.len()].copy_from_slice(tail);
        let mut data = Vec::with_capacity(chunks.len() + 1);
        for (i, content) in chunks
            .iter()
            .chain((!tail.is_empty()).then_some(&last))
            .enumerate()
        {
            data.push(rim::DataGranule {
                ipa: Ipa::new(self.ram_base + i as u64 * GRANULE)
                    .ok_or(PredictError::AddressOverflow)?,
                flags: RmiDataMeasureContent::MeasureContent,
                content,
            });
        }
        let recs: Vec<MeasuredRecParams> = (0..self.recs).map(|i| self.rec_params(i)).collect();
        rim::predict(&RealmBuild {
            params: self.measured_params(),
            ripas: &[range],
            data: &data,
            recs: &recs,
        })
    }
}

/// Something the builder made, in creation order.
#[derive(Clone, Debug)]
enum Owned {
    Delegated(Granule),
    Rd {
        rd: Granule,
        roots: Vec<Granule>,
    },
    Rtt {
        ipa: Ipa,
        level: RttLevel,
        rtt: Granule,
    },
    Data {
        ipa: Ipa,
        data: Granule,
    },
    Rec {
        rec: Granule,
        aux: Vec<Granule>,
    },
    /// A host page mapped at an unprotected IPA (no granule delegated).
    Shared {
        ipa: Ipa,
    },
}

/// A 4 KiB non-secure page the builder passes to the RMM by address.
#[repr(C, align(4096))]
struct Page([u8; GRANULE_SIZE]);

fn page_addr<T>(p: &T) -> Granule {
    Granule::containing(core::ptr::from_ref(p).expose_provenance() as u64)
}

/// How a run ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RunOutcome {
    /// The realm called PSCI `SYSTEM_OFF`.
    SystemOff,
    /// The realm called PSCI `SYSTEM_RESET`.
    SystemReset,
    /// Every REC called PSCI `CPU_OFF`.
    AllRecsOff,
}

/// The host's answer to a RIPAS change request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RipasDecision {
    /// Change the range (as far as the host's RTTs reach).
    Accept,
    /// Refuse (only meaningful for a request for RAM).
    Reject,
}

/// The host's policies while a realm runs.
pub trait Host {
    /// Console output from the realm (host-call console or emulated PL011).
    fn console(&mut self, bytes: &[u8]);

    /// A host call other than the console; `gprs` hold the realm's registers and become the
    /// reply; `shared` reaches the memory the realm shares with the host. The default
    /// answers nothing (the registers go back unchanged).
    fn host_call(&mut self, imm: u16, gprs: &mut [u64; 31], shared: &mut SharedMemory<'_>) {
        let _ = (imm, gprs, shared);
    }

    /// A RIPAS change request. The default accepts.
    fn ripas_change(&mut self, base: u64, top: u64, ripas: Ripas) -> RipasDecision {
        let _ = (base, top, ripas);
        RipasDecision::Accept
    }
}

/// A host page the builder mapped behind an unprotected IPA.
struct SharedPage {
    ipa: u64,
    page: Box<Page>,
}

/// An address outside the memory the realm shares with the host.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct NotShared {
    /// The first unprotected IPA of the range that is not mapped.
    pub ipa: u64,
}

/// The pages the realm shares with the host, by their unprotected IPA: what a [`Host`]
/// reads requests from and writes answers to. The realm is stopped while the host uses
/// them; everything in them is the realm's (or the host's) untrusted input.
pub struct SharedMemory<'a> {
    pages: &'a mut [SharedPage],
}

impl SharedMemory<'_> {
    /// Checks that `[ipa, ipa + len)` is mapped and splits it at page boundaries: for each
    /// piece, the page's index, the offset in the page, the offset in the range and the
    /// length.
    fn pieces(&self, ipa: u64, len: usize) -> Result<Vec<(usize, usize, usize, usize)>, NotShared> {
        let mut pieces = Vec::new();
        let mut done = 0;
        while done < len {
            let at = ipa.checked_add(done as u64).ok_or(NotShared { ipa })?;
            let page_ipa = at & !(GRANULE - 1);
            let index = self
                .pages
                .iter()
                .position(|p| p.ipa == page_ipa)
                .ok_or(NotShared { ipa: at })?;
            let offset = (at - page_ipa) as usize;
            let n = (GRANULE_SIZE - offset).min(len - done);
            pieces.push((index, offset, done, n));
            done += n;
        }
        Ok(pieces)
    }

    /// Copies `[ipa, ipa + buf.len())` into `buf`.
    ///
    /// # Errors
    ///
    /// [`NotShared`] if part of the range is not shared (nothing is copied).
    pub fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), NotShared> {
        for (index, offset, at, n) in self.pieces(ipa, buf.len())? {
            buf[at..at + n].copy_from_slice(&self.pages[index].page.0[offset..offset + n]);
        }
        Ok(())
    }

    /// Copies `data` to `[ipa, ipa + data.len())`.
    ///
    /// # Errors
    ///
    /// [`NotShared`] if part of the range is not shared (nothing is written).
    pub fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), NotShared> {
        for (index, offset, at, n) in self.pieces(ipa, data.len())? {
            self.pages[index].page.0[offset..offset + n].copy_from_slice(&data[at..at + n]);
        }
        Ok(())
    }
}

/// Stage 2 attributes of a shared page: MemAttr[4:2] = 0b110, normal write-back memory
/// under `HCR_EL2.FWB` as TF-RMM sets it (`S2TTE_MEMATTR_FWB_NORMAL_WB`,
/// `lib/s2tt/src/s2tt_pvt_defs.h`), and S2AP[7:6] = 0b11, read/write. These are the only
/// bits besides the address a host may set (`host_ns_s2tte_is_valid`, `lib/s2tt/src/s2tt.c`).
const SHARED_PAGE_ATTRS: u64 = (0b110 << 2) | (0b11 << 6);

/// A realm the builder made; tears itself down when dropped.
pub struct Realm<'s, C: Conduit, S: GranuleSource> {
    conduit: C,
    source: &'s mut S,
    owned: Vec<Owned>,
    rd: Option<Granule>,
    recs: Vec<Granule>,
    uart_alias: Option<u64>,
    /// The unprotected alias of realm RAM: `[base, top)`.
    ram_alias: (u64, u64),
    rtt_start: i8,
    shared: Vec<SharedPage>,
    max_shared: usize,
}

impl<'s, C: Conduit, S: GranuleSource> Realm<'s, C, S> {
    /// Builds and activates the realm described by `config`.
    ///
    /// # Errors
    ///
    /// Any [`BuildError`]; everything made before the failure has been torn down and
    /// undelegated (or [`BuildError::Leaked`] says how much could not be).
    pub fn build(
        conduit: C,
        source: &'s mut S,
        config: &RealmConfig<'_>,
    ) -> Result<Self, BuildError> {
        config.check()?;
        let alias = 1 << (config.ipa_width - 1);
        let uart_alias = config.uart_ipa.map(|ipa| ipa | alias);
        let mut realm = Self {
            conduit,
            source,
            owned: Vec::new(),
            rd: None,
            recs: Vec::new(),
            uart_alias,
            ram_alias: (
                config.ram_base | alias,
                (config.ram_base + config.ram_size) | alias,
            ),
            rtt_start: config.root().0,
            shared: Vec::new(),
            max_shared: config.max_shared_pages,
        };
        match realm.build_steps(config) {
            Ok(()) => Ok(realm),
            Err(e) => match realm.teardown() {
                Ok(()) => Err(e),
                Err(leak) => Err(leak),
            },
        }
    }

    fn delegate(&mut self) -> Result<Granule, BuildError> {
        let g = self.source.allocate().ok_or(BuildError::OutOfGranules)?;
        if let Err(e) = rmi::granule_delegate(&mut self.conduit, g) {
            self.source.release(g);
            return Err(e.into());
        }
        self.owned.push(Owned::Delegated(g));
        Ok(g)
    }

    /// Turns the last `n` delegated granules into `object`.
    fn adopt(&mut self, n: usize, object: Owned) {
        let at = self.owned.len() - n;
        self.owned.truncate(at);
        self.owned.push(object);
    }

    fn build_steps(&mut self, config: &RealmConfig<'_>) -> Result<(), BuildError> {
        version::negotiate(&mut self.conduit).map_err(BuildError::Version)?;
        let features = rmi::features0(&mut self.conduit)?;
        if !features.supports_hash(config.hash) {
            return Err(BuildError::Config(
                "the RMM does not support this hash algorithm",
            ));
        }
        if u32::from(features.s2sz) < config.ipa_width {
            return Err(BuildError::Config(
                "the RMM does not support this IPA width",
            ));
        }

        // Realm descriptor and root RTTs: the roots must be contiguous and aligned to their
        // total size, so take granules until an aligned run appears.
        let (level, num_root) = config.root();
        let rd = self.delegate()?;
        let roots = self.contiguous(num_root)?;
        let mut params = Box::new(RmiRealmParams::new_zeroed());
        let measured = config.measured_params();
        params.flags0 = measured.flags0;
        params.s2sz = measured.s2sz;
        params.num_bps = measured.num_bps;
        params.num_wps = measured.num_wps;
        params.hash_algo = config.hash.encoding();
        params.rpv = config.rpv;
        params.vmid = config.vmid;
        params.rtt_base = roots[0].addr();
        params.rtt_level_start = i64::from(level);
        params.rtt_num_start = num_root as u32;
        rmi::realm_create(&mut self.conduit, rd, page_addr(&*params))?;
        // The delegated RD and roots are now one object.
        self.owned
            .retain(|o| !matches!(o, Owned::Delegated(g) if *g == rd || roots.contains(g)));
        self.owned.push(Owned::Rd {
            rd,
            roots: roots.clone(),
        });
        self.rd = Some(rd);

        // RTTs down to level 3 over RAM.
        let (base, top) = (config.ram_base, config.ram_base + config.ram_size);
        for l in (level + 1)..=3 {
            let level = RttLevel::new(l).expect("1 to 3");
            let step = RttLevel::new(l - 1).expect("0 to 2").block_size();
            let mut ipa = base - base % step;
            while ipa < top {
                self.create_rtt(rd, Ipa::new(ipa).expect("aligned"), level)?;
                ipa += step;
            }
        }

        // RIPAS RAM over all of RAM.
        let mut at = Ipa::new(base).expect("aligned");
        let end = Ipa::new(top).expect("aligned");
        while at < end {
            at = rmi::rtt_init_ripas(&mut self.conduit, rd, at, end)?;
        }

        // The image, measured; the rest of RAM, unknown.
        let mut src = Box::new(Page([0; GRANULE_SIZE]));
        for i in 0..config.ram_size / GRANULE {
            let ipa = Ipa::new(base + i * GRANULE).expect("aligned");
            let data = self.delegate()?;
            let off = (i * GRANULE) as usize;
            if off < config.image.len() {
                let chunk = &config.image[off..config.image.len().min(off + GRANULE_SIZE)];
                src.0[..chunk.len()].copy_from_slice(chunk);
                src.0[chunk.len()..].fill(0);
                rmi::data_create(
                    &mut self.conduit,
                    rd,
                    data,
                    ipa,
                    page_addr(&*src),
                    RmiDataMeasureContent::MeasureContent,
                )?;
            } else {
                rmi::data_create_unknown(&mut self.conduit, rd, data, ipa)?;
            }
            self.adopt(1, Owned::Data { ipa, data });
        }

        // RECs, in MPIDR order.
        let aux_count = rmi::rec_aux_count(&mut self.conduit, rd)?;
        for index in 0..config.recs {
            let rec = self.delegate()?;
            let mut aux = Vec::with_capacity(aux_count);
            for _ in 0..aux_count {
                aux.push(self.delegate()?);
            }
            let measured = config.rec_params(index);
            let mut p = Box::new(RmiRecParams::new_zeroed());
            p.flags = measured.flags;
            p.mpidr = rec_mpidr(index);
            p.pc = measured.pc;
            p.gprs = measured.gprs;
            p.num_aux = aux_count as u64;
            for (slot, g) in p.aux.iter_mut().zip(&aux) {
                *slot = g.addr();
            }
            rmi::rec_create(&mut self.conduit, rd, rec, page_addr(&*p))?;
            self.adopt(1 + aux_count, Owned::Rec { rec, aux });
            self.recs.push(rec);
        }

        rmi::realm_activate(&mut self.conduit, rd)?;
        Ok(())
    }

    /// Creates the RTT of `level` covering `ipa` (aligned to the entry of the level above).
    fn create_rtt(&mut self, rd: Granule, ipa: Ipa, level: RttLevel) -> Result<(), BuildError> {
        let rtt = self.delegate()?;
        rmi::rtt_create(&mut self.conduit, rd, rtt, ipa, level)?;
        self.adopt(1, Owned::Rtt { ipa, level, rtt });
        Ok(())
    }

    /// The page of a data abort in the unprotected alias of RAM that is not mapped yet.
    fn shared_fault(&self, exit: &abi::RmiRecExit) -> Option<u64> {
        const ESR_EC_DABT_LOWER: u64 = 0x24;
        let ipa = (exit.hpfar >> 4) << 12;
        ((exit.esr >> 26) == ESR_EC_DABT_LOWER
            && (self.ram_alias.0..self.ram_alias.1).contains(&ipa)
            && !self.shared.iter().any(|p| p.ipa == ipa))
        .then_some(ipa)
    }

    /// Maps a zeroed host page at the unprotected `ipa`, creating the RTTs down to level 3.
    fn map_shared(&mut self, rd: Granule, ipa: u64) -> Result<(), BuildError> {
        let at = Ipa::new(ipa).ok_or(BuildError::Config("unaligned shared page"))?;
        for l in (self.rtt_start + 1)..=3 {
            let parent = RttLevel::new(l - 1).expect("0 to 2");
            let base = Ipa::new(ipa - ipa % parent.block_size()).expect("aligned");
            // RTT_CREATE cannot tell "exists" from other failures (both are RMI_ERROR_RTT
            // at the parent's level): look first.
            let entry = rmi::rtt_read_entry(&mut self.conduit, rd, base, parent)?;
            if entry.level == parent && entry.state == abi::RmiRttEntryState::Table {
                continue;
            }
            self.create_rtt(rd, base, RttLevel::new(l).expect("1 to 3"))?;
        }
        let page = Box::new(Page([0; GRANULE_SIZE]));
        let desc = page_addr(&*page).addr() | SHARED_PAGE_ATTRS;
        rmi::rtt_map_unprotected(
            &mut self.conduit,
            rd,
            at,
            RttLevel::new(3).expect("3"),
            desc,
        )?;
        self.owned.push(Owned::Shared { ipa: at });
        self.shared.push(SharedPage { ipa, page });
        Ok(())
    }

    /// Delegates `n` granules at contiguous addresses aligned to `n` granules.
    fn contiguous(&mut self, n: u64) -> Result<Vec<Granule>, BuildError> {
        let mut spare = Vec::new();
        let result = loop {
            let Some(g) = self.source.allocate() else {
                break Err(BuildError::OutOfGranules);
            };
            if g.addr() % (n * GRANULE) != 0 {
                spare.push(g);
                continue;
            }
            let mut run = alloc::vec![g];
            while (run.len() as u64) < n {
                match self.source.allocate() {
                    Some(next) if next.addr() == run[run.len() - 1].addr() + GRANULE => {
                        run.push(next)
                    }
                    Some(other) => {
                        spare.append(&mut run);
                        spare.push(other);
                        break;
                    }
                    None => break,
                }
            }
            if run.len() as u64 == n {
                break Ok(run);
            }
            if run.is_empty() {
                continue;
            }
            spare.extend(run);
            break Err(BuildError::OutOfGranules);
        };
        for g in spare {
            self.source.release(g);
        }
        let run = result?;
        for (i, &g) in run.iter().enumerate() {
            if let Err(e) = rmi::granule_delegate(&mut self.conduit, g) {
                for &rest in &run[i..] {
                    self.source.release(rest);
                }
                return Err(e.into());
            }
            self.owned.push(Owned::Delegated(g));
        }
        Ok(run)
    }

    /// The RD.
    #[must_use]
    pub fn rd(&self) -> Option<Granule> {
        self.rd
    }

    /// Number of granules the realm holds.
    #[must_use]
    pub fn granules(&self) -> usize {
        self.owned
            .iter()
            .map(|o| match o {
                Owned::Delegated(_) | Owned::Rtt { .. } | Owned::Data { .. } => 1,
                Owned::Rd { roots, .. } => 1 + roots.len(),
                Owned::Rec { aux, .. } => 1 + aux.len(),
                Owned::Shared { .. } => 0,
            })
            .sum()
    }

    /// The conduit, for calls the builder does not wrap.
    pub fn conduit(&mut self) -> &mut C {
        &mut self.conduit
    }

    /// Runs the realm until it switches itself off (or every REC is off), answering its
    /// exits with `host`: console host calls and the emulated UART, RIPAS changes, PSCI
    /// `CPU_ON` / `AFFINITY_INFO` (completed with `RMI_PSCI_COMPLETE`), interrupts.
    ///
    /// # Errors
    ///
    /// [`BuildError::Rmi`] if an RMI command fails, [`BuildError::UnhandledExit`] for an
    /// exit the host cannot handle.
    pub fn run(&mut self, host: &mut impl Host) -> Result<RunOutcome, BuildError> {
        let rd = self
            .rd
            .ok_or(BuildError::Config("the realm was not built"))?;
        let mut run = Box::new(RmiRecRun::new_zeroed());
        let mut runnable: Vec<bool> = (0..self.recs.len()).map(|i| i == 0).collect();
        let mut current = 0;
        loop {
            let rec = self.recs[current];
            rmi::rec_enter(&mut self.conduit, rec, page_addr(&*run))?;
            run.enter.flags = 0;
            run.enter.gprs = [0; 31];
            let exit = &run.exit;
            match RmiExitReason::from_raw(exit.exit_reason.into()) {
                RmiExitReason::HostCall => {
                    let mut gprs = exit.gprs;
                    if exit.imm == CONSOLE_WRITE {
                        let n = (gprs[0] as usize).min(CONSOLE_WRITE_MAX);
                        let mut bytes = [0u8; CONSOLE_WRITE_MAX];
                        unpack_bytes(&gprs[1..], &mut bytes[..n]);
                        host.console(&bytes[..n]);
                        gprs[0] = n as u64;
                    } else {
                        let mut shared = SharedMemory {
                            pages: &mut self.shared,
                        };
                        host.host_call(exit.imm, &mut gprs, &mut shared);
                    }
                    run.enter.gprs = gprs;
                }
                RmiExitReason::Sync => match self.shared_fault(&run.exit) {
                    Some(ipa) if self.shared.len() < self.max_shared => {
                        self.map_shared(rd, ipa)?;
                    }
                    _ => self.emulate_mmio(&mut run, host)?,
                },
                RmiExitReason::Irq | RmiExitReason::Fiq => {}
                RmiExitReason::RipasChange => {
                    let (base, top) = (exit.ripas_base, exit.ripas_top);
                    let ripas = Ripas::from_raw(exit.ripas_value.into()).unwrap_or(Ripas::Empty);
                    match host.ripas_change(base, top, ripas) {
                        RipasDecision::Accept => self.set_ripas(rd, rec, base, top)?,
                        RipasDecision::Reject => {
                            run.enter.flags = RecEnterFlags::RIPAS_RESPONSE.to_raw()
                        }
                    }
                }
                RmiExitReason::Psci => {
                    let fid = exit.gprs[0] as u32;
                    match fid {
                        0x8400_0008 => return Ok(RunOutcome::SystemOff),
                        0x8400_0009 => return Ok(RunOutcome::SystemReset),
                        0x8400_0002 => {
                            runnable[current] = false;
                            if !runnable.contains(&true) {
                                return Ok(RunOutcome::AllRecsOff);
                            }
                        }
                        0x8400_0003 | 0xC400_0003 | 0x8400_0004 | 0xC400_0004 => {
                            let target = exit.gprs[1];
                            let index = (0..self.recs.len()).find(|&i| rec_mpidr(i) == target);
                            let Some(index) = index else {
                                return Err(BuildError::UnhandledExit {
                                    reason: 3,
                                    esr: u64::from(fid),
                                });
                            };
                            rmi::psci_complete(
                                &mut self.conduit,
                                rec,
                                self.recs[index],
                                rmi::PsciCompleteStatus::Success,
                            )?;
                            if fid & 0xff == 0x03 {
                                runnable[index] = true;
                            }
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(BuildError::UnhandledExit {
                        reason: other.to_raw(),
                        esr: exit.esr,
                    });
                }
            }
            // Round-robin over the runnable RECs.
            current = (1..=runnable.len())
                .map(|k| (current + k) % runnable.len())
                .find(|&i| runnable[i])
                .unwrap_or(current);
        }
    }

    fn set_ripas(
        &mut self,
        rd: Granule,
        rec: Granule,
        base: u64,
        top: u64,
    ) -> Result<(), BuildError> {
        let (Some(mut at), Some(end)) = (Ipa::new(base), Ipa::new(top)) else {
            return Ok(());
        };
        while at < end {
            match rmi::rtt_set_ripas(&mut self.conduit, rd, rec, at, end) {
                Ok(next) => at = next,
                // Outside the RTTs the host built: the realm gets the partial progress.
                Err(Error::Refused { ret, .. }) if ret.status == abi::RmiStatus::ErrorRtt => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Emulates a data abort at the UART's unprotected alias (a PL011: writes to `UARTDR`
    /// print, reads return 0, so `UARTFR` reports an empty, idle FIFO).
    fn emulate_mmio(
        &mut self,
        run: &mut RmiRecRun,
        host: &mut impl Host,
    ) -> Result<(), BuildError> {
        const ESR_EC_DABT_LOWER: u64 = 0x24;
        const ESR_ISV: u64 = 1 << 24;
        const ESR_WNR: u64 = 1 << 6;
        let esr = run.exit.esr;
        let ipa = ((run.exit.hpfar >> 4) << 12) | (run.exit.far & 0xfff);
        let unhandled = BuildError::UnhandledExit { reason: 0, esr };
        let uart = self.uart_alias.ok_or(unhandled)?;
        if (esr >> 26) != ESR_EC_DABT_LOWER
            || esr & ESR_ISV == 0
            || !(uart..uart + 0x1000).contains(&ipa)
        {
            return Err(unhandled);
        }
        if esr & ESR_WNR != 0 {
            if ipa == uart {
                host.console(&[run.exit.gprs[0] as u8]);
            }
        } else {
            run.enter.gprs[0] = 0;
        }
        run.enter.flags = RecEnterFlags::EMUL_MMIO.to_raw();
        Ok(())
    }

    /// Tears the realm down and undelegates every granule.
    ///
    /// # Errors
    ///
    /// [`BuildError::Leaked`] with the number of granules that stayed delegated.
    pub fn destroy(mut self) -> Result<(), BuildError> {
        self.teardown()
    }

    fn undelegate(&mut self, g: Granule) -> bool {
        if rmi::granule_undelegate(&mut self.conduit, g).is_ok() {
            self.source.release(g);
            true
        } else {
            false
        }
    }

    /// Undoes `o`; returns what is left of it if a command failed.
    fn undo(&mut self, o: Owned) -> Option<Owned> {
        let rd = self.rd;
        match o {
            Owned::Delegated(g) => (!self.undelegate(g)).then_some(Owned::Delegated(g)),
            Owned::Rec { rec, aux } => {
                if rmi::rec_destroy(&mut self.conduit, rec).is_err() {
                    return Some(Owned::Rec { rec, aux });
                }
                let left: Vec<Owned> = core::iter::once(rec)
                    .chain(aux)
                    .filter(|&g| !self.undelegate(g))
                    .map(Owned::Delegated)
                    .collect();
                self.owned.extend(left);
                None
            }
            Owned::Data { ipa, data } => {
                if rmi::data_destroy(&mut self.conduit, rd?, ipa).is_err() {
                    return Some(Owned::Data { ipa, data });
                }
                (!self.undelegate(data)).then_some(Owned::Delegated(data))
            }
            Owned::Rtt { ipa, level, rtt } => {
                if rmi::rtt_destroy(&mut self.conduit, rd?, ipa, level).is_err() {
                    return Some(Owned::Rtt { ipa, level, rtt });
                }
                (!self.undelegate(rtt)).then_some(Owned::Delegated(rtt))
            }
            Owned::Shared { ipa } => {
                let level = RttLevel::new(3).expect("3");
                if rmi::rtt_unmap_unprotected(&mut self.conduit, rd?, ipa, level).is_err() {
                    return Some(Owned::Shared { ipa });
                }
                self.shared.retain(|p| p.ipa != ipa.addr());
                None
            }
            Owned::Rd { rd, roots } => {
                if rmi::realm_destroy(&mut self.conduit, rd).is_err() {
                    return Some(Owned::Rd { rd, roots });
                }
                self.rd = None;
                let left: Vec<Owned> = core::iter::once(rd)
                    .chain(roots)
                    .filter(|&g| !self.undelegate(g))
                    .map(Owned::Delegated)
                    .collect();
                self.owned.extend(left);
                None
            }
        }
    }

    fn teardown(&mut self) -> Result<(), BuildError> {
        self.recs.clear();
        // Two passes in reverse creation order: the second retries what failed in the first.
        for _ in 0..2 {
            let objects = core::mem::take(&mut self.owned);
            let mut failed = Vec::new();
            for o in objects.into_iter().rev() {
                if let Some(left) = self.undo(o) {
                    failed.push(left);
                }
            }
            // Keep creation order for the next pass.
            failed.reverse();
            let spill = core::mem::take(&mut self.owned);
            self.owned = failed;
            self.owned.extend(spill);
            if self.owned.is_empty() {
                return Ok(());
            }
        }
        // Pages still mapped into the (unusable) realm stay allocated: never reused.
        for p in self.shared.drain(..) {
            core::mem::forget(p.page);
        }
        Err(BuildError::Leaked {
            leaked: self.granules(),
        })
    }
}

impl<C: Conduit, S: GranuleSource> Drop for Realm<'_, C, S> {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// The MPIDR of REC `index` (TF-RMM `rec.h`: Aff0[3:0], Aff1, Aff2, Aff3).
#[must_use]
pub const fn rec_mpidr(index: usize) -> u64 {
    let i = index as u64;
    (i & 0xf) | ((i >> 4) & 0xff) << 8 | ((i >> 12) & 0xff) << 16 | ((i >> 20) & 0xff) << 32
}
