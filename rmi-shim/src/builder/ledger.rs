//! The ledger of what the realm owns, in creation order: granules delegated (and given back
//! to the source when undelegated), the objects made of them, and shared pages. Teardown
//! undoes it in reverse order, with one retry; `Drop` tears down.

use alloc::vec::Vec;

use cca_abi::rmi::fids::RMI_RTT_DATA_UNMAP;
use cca_abi::rmi::{Generation, Granule, Ipa, RttLevel};
use cca_abi::rmi::{RMI_DATA_DESTROY, RMI_REC_DESTROY};

use crate::link::Link;
use cca_abi::smccc::Conduit;

use super::{BuildError, GRANULE, GranuleSource, Realm};
use crate::error::Error;
use crate::{rmi, rmi2};

/// Something the builder made, in creation order.
#[derive(Clone, Debug)]
pub(super) enum Owned {
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

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    pub(super) fn delegate(&mut self) -> Result<Granule, BuildError> {
        let g = self.source.allocate().ok_or(BuildError::OutOfGranules)?;
        if let Err(e) = self.delegate_granule(g) {
            self.source.release(g);
            return Err(e.into());
        }
        self.owned.push(Owned::Delegated(g));
        Ok(g)
    }

    /// `RMI_GRANULE_DELEGATE` (1.0) or a one-granule `RMI_GRANULE_RANGE_DELEGATE` (2.0).
    fn delegate_granule(&mut self, g: Granule) -> Result<(), Error> {
        match &mut self.link {
            Link::V1(rmm) => rmi::granule_delegate(rmm, g),
            Link::V2(rmm) => {
                rmi2::granule_range_delegate(rmm, g, next_granule(g)?).map_err(Error::from)
            }
        }
    }

    /// `RMI_GRANULE_UNDELEGATE` (1.0) or a one-granule `RMI_GRANULE_RANGE_UNDELEGATE` (2.0).
    fn undelegate_granule(&mut self, g: Granule) -> Result<(), Error> {
        match &mut self.link {
            Link::V1(rmm) => rmi::granule_undelegate(rmm, g),
            Link::V2(rmm) => {
                rmi2::granule_range_undelegate(rmm, g, next_granule(g)?).map_err(Error::from)
            }
        }
    }

    /// Turns the last `n` delegated granules into `object`.
    pub(super) fn adopt(&mut self, n: usize, object: Owned) {
        let at = self.owned.len() - n;
        self.owned.truncate(at);
        self.owned.push(object);
    }

    /// Delegates `n` granules at contiguous addresses aligned to `n` granules.
    pub(super) fn contiguous(&mut self, n: u64) -> Result<Vec<Granule>, BuildError> {
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
            if let Err(e) = self.delegate_granule(g) {
                for &rest in &run[i..] {
                    self.source.release(rest);
                }
                return Err(e.into());
            }
            self.owned.push(Owned::Delegated(g));
        }
        Ok(run)
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

    /// Tears the realm down and undelegates every granule.
    ///
    /// # Errors
    ///
    /// [`BuildError::Leaked`] with the number of granules that stayed delegated.
    pub fn destroy(mut self) -> Result<(), BuildError> {
        self.teardown()
    }

    pub(super) fn undelegate(&mut self, g: Granule) -> bool {
        if self.undelegate_granule(g).is_ok() {
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
            Owned::Rec { rec, aux } if self.generation() == Generation::V2_0 => {
                // RMI 2.0: REC_DESTROY is a stateful operation that gives the auxiliary
                // granules back through an address list (TF-RMM v0.9.0 `runtime/rmi/rec.c`).
                let mut page = alloc::boxed::Box::new(super::ListPage([0; 512]));
                let mut list = rmi2::AddrList::identity(&mut page.0);
                let (back, failed) = match self.v2(RMI_REC_DESTROY) {
                    Ok(rmm) => match rmi2::rec_destroy(rmm, rec, &mut list) {
                        Ok(back) => (back, false),
                        Err(e) => (e.returned, true),
                    },
                    Err(_) => (Vec::new(), true),
                };
                let remaining: Vec<Granule> =
                    aux.iter().copied().filter(|g| !back.contains(g)).collect();
                let left: Vec<Owned> = back
                    .into_iter()
                    .chain((!failed).then_some(rec))
                    .filter(|&g| !self.undelegate(g))
                    .map(Owned::Delegated)
                    .collect();
                self.owned.extend(left);
                failed.then_some(Owned::Rec {
                    rec,
                    aux: remaining,
                })
            }
            Owned::Data { ipa, data } if self.generation() == Generation::V2_0 => {
                let rd = rd?;
                let top = ipa.addr().checked_add(GRANULE).and_then(Ipa::new);
                let rmm = self.v2(RMI_RTT_DATA_UNMAP).ok();
                let unmapped = top
                    .zip(rmm)
                    .map(|(top, rmm)| rmi2::rtt_data_unmap(rmm, rd, ipa, top));
                match unmapped {
                    // Freed (or nothing left mapped there): the granule is DELEGATED again.
                    Some(Ok(u)) if u.granule().is_none_or(|g| g == data) => {
                        (!self.undelegate(data)).then_some(Owned::Delegated(data))
                    }
                    _ => Some(Owned::Data { ipa, data }),
                }
            }
            Owned::Rec { rec, aux } => {
                let destroyed = self.v1(RMI_REC_DESTROY);
                if destroyed
                    .and_then(|rmm| rmi::rec_destroy(rmm, rec))
                    .is_err()
                {
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
                let rd = rd?;
                let destroyed = self.v1(RMI_DATA_DESTROY);
                if destroyed
                    .and_then(|rmm| rmi::data_destroy(rmm, rd, ipa))
                    .is_err()
                {
                    return Some(Owned::Data { ipa, data });
                }
                (!self.undelegate(data)).then_some(Owned::Delegated(data))
            }
            Owned::Rtt { ipa, level, rtt } => {
                if rmi::rtt_destroy(&mut self.link, rd?, ipa, level).is_err() {
                    return Some(Owned::Rtt { ipa, level, rtt });
                }
                (!self.undelegate(rtt)).then_some(Owned::Delegated(rtt))
            }
            Owned::Shared { ipa } => {
                let level = RttLevel::new(3).expect("3");
                if rmi::rtt_unmap_unprotected(&mut self.link, rd?, ipa, level).is_err() {
                    return Some(Owned::Shared { ipa });
                }
                self.shared.retain(|p| p.ipa != ipa.addr());
                None
            }
            Owned::Rd { rd, roots } => {
                if rmi::realm_destroy(&mut self.link, rd).is_err() {
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

    pub(super) fn teardown(&mut self) -> Result<(), BuildError> {
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
            cause: None,
        })
    }
}

impl<C: Conduit, S: GranuleSource> Drop for Realm<'_, C, S> {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// The granule after `g` (the exclusive top of a one-granule range).
fn next_granule(g: Granule) -> Result<Granule, Error> {
    g.addr()
        .checked_add(GRANULE)
        .and_then(Granule::new)
        .ok_or(Error::Malformed {
            fid: cca_abi::rmi::fids::RMI_GRANULE_RANGE_DELEGATE,
            problem: crate::error::Malformed::Output {
                register: 1,
                value: g.addr(),
            },
        })
}
