//! The realm builder: from a flat image and a [`RealmConfig`] to a running realm, and back
//! to nothing delegated, on an RMM of either RMI generation: 1.0 (TF-RMM v0.8.0) or 2.0
//! (TF-RMM v0.9.0; `docs/rmi-2.0-tf-rmm-v0.9.0.md`).
//!
//! [`Realm::build`] issues, in this order (the order the RIM depends on, see [`crate::rim`]):
//!
//! 1. `RMI_VERSION` asking for 1.0, then 2.0 if the RMM offers only that; `RMI_FEATURES`
//!    (register 0; 2.0: 0 and 1), checked against the configuration; 2.0: the RMM's own
//!    `RMI_RMM_CONFIG_SET` and `RMI_RMM_ACTIVATE`, once per boot;
//! 2. delegation of the RD and the root RTTs (1.0 `RMI_GRANULE_DELEGATE`, 2.0
//!    `RMI_GRANULE_RANGE_DELEGATE`), `RMI_REALM_CREATE` (2.0: no VMID);
//! 3. `RMI_RTT_CREATE` down to level 2 over realm RAM and down to level 3 over the 2 MiB
//!    blocks that hold the image (RMI 2.0: the RTT granules delegated as one range first);
//! 4. `RMI_RTT_INIT_RIPAS` over all of realm RAM (RIPAS RAM): 4 KiB entries over the image's
//!    blocks, 2 MiB entries beyond (RMI 1.0 measures one descriptor per entry, 2.0 none;
//!    [`crate::rim::builder_ripas`]);
//! 5. the image, measured, from the start of RAM (the last granule zero-padded: 1.0
//!    `RMI_DATA_CREATE`, 2.0 `RMI_RTT_DATA_MAP_INIT`; ranges of it unmeasured if configured).
//!    The rest of RAM gets its granules (1.0 `RMI_DATA_CREATE_UNKNOWN`, 2.0
//!    `RMI_RTT_DATA_MAP`, unmeasured) when the realm first reaches a page
//!    ([`Populate::OnDemand`], the default: the REC exits with a translation fault and the
//!    run loop creates the level-3 table and the granule), or now ([`Populate::Eager`], with
//!    the level-3 tables beyond the image);
//! 6. the RECs (REC 0 RUNNABLE with the entry registers, the others started by PSCI
//!    `CPU_ON`): 1.0 `RMI_REC_AUX_COUNT` and `RMI_REC_CREATE` with the auxiliary granules;
//!    2.0 the stateful `RMI_REC_CREATE`, donating the auxiliary granules it asks for
//!    ([`crate::rmi2::rec_create`]);
//! 7. `RMI_REALM_ACTIVATE`.
//!
//! The run loop is the same for both generations: the exits it handles (sync, IRQ, FIQ,
//! PSCI, RIPAS change, host call) keep their numbers and the fields of `RmiRecRun` it uses
//! keep their offsets. Teardown undoes each step the generation's way (2.0:
//! `RMI_RTT_DATA_UNMAP`, the stateful `RMI_REC_DESTROY` that gives the auxiliary granules
//! back, `RMI_GRANULE_RANGE_UNDELEGATE`).
//!
//! While the realm runs, its EL1 virtual timer interrupt is delivered through the virtual
//! GIC when the [`Host`] provides the CPU's counter and interface ([`vgic`]): `WFI` traps to
//! the host, which waits for the realm's timer and injects vINTID 27.
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

// One module per concern. Where each RMI command is issued (the calls that differ between
// RMI generations): `build`: VERSION, FEATURES, REALM_CREATE, RTT_CREATE, RTT_INIT_RIPAS,
// DATA_CREATE(_UNKNOWN), REC_AUX_COUNT, REC_CREATE, REALM_ACTIVATE; `ledger`: GRANULE_DELEGATE,
// GRANULE_UNDELEGATE and every destroy (DATA, RTT, REC, REALM, RTT_UNMAP_UNPROTECTED);
// `run`: REC_ENTER and the exit reasons, PSCI_COMPLETE, RTT_SET_RIPAS; `shared`:
// RTT_READ_ENTRY, RTT_MAP_UNPROTECTED; `vgic`: the GIC and timer fields of REC_ENTER/exit
// (RMI 1.0) or the ICH_*_EL2 registers around it (2.0).
mod build;
mod config;
mod ledger;
mod run;
mod shared;
mod source;
pub mod vgic;
#[cfg(feature = "virtio")]
pub mod virtio;

pub use config::{BuildError, Populate, RealmConfig};
pub use run::{Host, Parallel, RecRunner, RipasDecision, RunOutcome};
pub use shared::{NotShared, SharedMemory};
pub use source::{GranuleSource, RangeSource};

use alloc::vec::Vec;

use cca_abi::GRANULE_SIZE;
use cca_abi::rmi::{Generation, Granule};
use cca_abi::smccc::Conduit;

use crate::error::Error;
use crate::link::{Link, Rmi, V1, V2};
use ledger::Owned;
use shared::SharedPage;

const GRANULE: u64 = GRANULE_SIZE as u64;

/// A 4 KiB non-secure page the builder passes to the RMM by address.
#[repr(C, align(4096))]
struct Page([u8; GRANULE_SIZE]);

/// A 4 KiB non-secure page of RMI 2.0 address-list entries (`RMI_OP_MEM_DONATE`,
/// `RMI_OP_MEM_RECLAIM`), page aligned so that a whole list fits.
#[repr(C, align(4096))]
struct ListPage([u64; 512]);

fn page_addr<T>(p: &T) -> Granule {
    Granule::containing(core::ptr::from_ref(p).expose_provenance() as u64)
}

/// A realm the builder made; tears itself down when dropped.
pub struct Realm<'s, C: Conduit, S: GranuleSource> {
    /// The conduit, with the RMI generation the RMM agreed to.
    link: Link<C>,
    source: &'s mut S,
    owned: Vec<Owned>,
    rd: Option<Granule>,
    recs: Vec<Granule>,
    uart_alias: Option<u64>,
    /// Realm RAM: `[base, top)`.
    ram: (u64, u64),
    /// The unprotected alias of realm RAM: `[base, top)`.
    ram_alias: (u64, u64),
    /// Data granules created on the realm's demand so far.
    populated: usize,
    /// RMI 2.0: granules delegated ahead ([`Realm::reserve`]), handed out lowest first.
    reserved: Vec<Granule>,
    /// RMI 2.0: granules teardown will undelegate in ranges at the end of its pass.
    to_undelegate: Vec<Granule>,
    rtt_start: i8,
    shared: Vec<SharedPage>,
    max_shared: usize,
}

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    /// The RD.
    #[must_use]
    pub fn rd(&self) -> Option<Granule> {
        self.rd
    }

    /// Data granules created so far on the realm's demand ([`Populate::OnDemand`]).
    #[must_use]
    pub fn populated(&self) -> usize {
        self.populated
    }

    /// The RMI generation the realm was built with.
    #[must_use]
    pub fn generation(&self) -> Generation {
        self.link.generation()
    }

    /// The conduit, with the generation it negotiated, for calls the builder does not wrap.
    pub fn link(&mut self) -> &mut Link<C> {
        &mut self.link
    }

    /// The conduit, for raw calls.
    pub fn conduit(&mut self) -> &mut C {
        self.link.inner()
    }

    /// The RMI 1.0 conduit, for a step only RMI 1.0 has (`fid`); the steps are chosen by
    /// generation, so on RMI 2.0 this is the RMM not implementing `fid`.
    fn v1(&mut self, fid: u32) -> Result<&mut V1<C>, Error> {
        match &mut self.link {
            Link::V1(rmm) => Ok(rmm),
            Link::V2(_) => Err(Error::NotImplemented { fid }),
        }
    }

    /// The RMI 2.0 conduit, for a step only RMI 2.0 has (`fid`).
    fn v2(&mut self, fid: u32) -> Result<&mut V2<C>, Error> {
        match &mut self.link {
            Link::V2(rmm) => Ok(rmm),
            Link::V1(_) => Err(Error::NotImplemented { fid }),
        }
    }
}

/// The MPIDR of REC `index` (TF-RMM `rec.h`: Aff0\[3:0\], Aff1, Aff2, Aff3).
#[must_use]
pub const fn rec_mpidr(index: usize) -> u64 {
    let i = index as u64;
    (i & 0xf) | ((i >> 4) & 0xff) << 8 | ((i >> 12) & 0xff) << 16 | ((i >> 20) & 0xff) << 32
}
