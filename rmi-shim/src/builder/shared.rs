//! Memory the realm shares with the host: host pages mapped behind the unprotected alias of
//! realm RAM on the realm's demand, and [`SharedMemory`], through which a host reaches them.

use alloc::boxed::Box;
use alloc::vec::Vec;

use cca_abi::rmi::{Granule, Ipa, RttLevel};
use cca_abi::smccc::Conduit;
use cca_abi::{GRANULE_SIZE, rmi as abi};

use super::ledger::Owned;
use super::{BuildError, GRANULE, GranuleSource, Page, Realm, page_addr};
use crate::rmi;

/// A host page the builder mapped behind an unprotected IPA.
pub(super) struct SharedPage {
    pub(super) ipa: u64,
    pub(super) page: Box<Page>,
}

/// An address outside the memory the realm shares with the host.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct NotShared {
    /// The first unprotected IPA of the range that is not mapped.
    pub ipa: u64,
}

/// The pages the realm shares with the host, by their unprotected IPA: what a [`Host`](super::Host)
/// reads requests from and writes answers to. The realm is stopped while the host uses
/// them; everything in them is the realm's (or the host's) untrusted input.
pub struct SharedMemory<'a> {
    pub(super) pages: &'a mut [SharedPage],
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

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    /// The page of a data abort in the unprotected alias of RAM that is not mapped yet.
    pub(super) fn shared_fault(&self, exit: &abi::RmiRecExit) -> Option<u64> {
        const ESR_EC_DABT_LOWER: u64 = 0x24;
        let ipa = (exit.hpfar >> 4) << 12;
        ((exit.esr >> 26) == ESR_EC_DABT_LOWER
            && (self.ram_alias.0..self.ram_alias.1).contains(&ipa)
            && !self.shared.iter().any(|p| p.ipa == ipa))
        .then_some(ipa)
    }

    /// Maps a zeroed host page at the unprotected `ipa`, creating the RTTs down to level 3.
    pub(super) fn map_shared(&mut self, rd: Granule, ipa: u64) -> Result<(), BuildError> {
        let at = Ipa::new(ipa).ok_or(BuildError::Config("unaligned shared page"))?;
        for l in (self.rtt_start + 1)..=3 {
            let parent = RttLevel::new(l - 1).expect("0 to 2");
            let base = Ipa::new(ipa - ipa % parent.block_size()).expect("aligned");
            // RTT_CREATE cannot tell "exists" from other failures (both are RMI_ERROR_RTT
            // at the parent's level): look first.
            let entry = rmi::rtt_read_entry(&mut self.link, rd, base, parent)?;
            if entry.level == parent && entry.state == abi::RmiRttEntryState::Table {
                continue;
            }
            self.create_rtt(rd, base, RttLevel::new(l).expect("1 to 3"))?;
        }
        let page = Box::new(Page([0; GRANULE_SIZE]));
        let desc = page_addr(&*page).addr() | SHARED_PAGE_ATTRS;
        rmi::rtt_map_unprotected(&mut self.link, rd, at, RttLevel::new(3).expect("3"), desc)?;
        self.owned.push(Owned::Shared { ipa: at });
        self.shared.push(SharedPage { ipa, page });
        Ok(())
    }
}
