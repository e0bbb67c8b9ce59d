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
        if let Some(g) = self.reserved.pop() {
            self.owned.push(Owned::Delegated(g));
            return Ok(g);
        }
        let g = self.source.allocate().ok_or(BuildError::OutOfGranules)?;
        if let Err(e) = self.delegate_granule(g) {
            self.source.release(g);
            return Err(e.into());
        }
        self.owned.push(Owned::Delegated(g));
        Ok(g)
    }

    /// RMI 2.0: delegates `n` granules ahead with one `RMI_GRANULE_RANGE_DELEGATE` per run of
    /// contiguous granules the source hands out; [`Self::delegate`] takes them first, and
    /// teardown undelegates what was not used. (TF-RMM v0.9.0 still moves one granule per
    /// call, so the driver loops; an RMM that does whole ranges needs one call per run.)
    pub(super) fn reserve(&mut self, n: usize) -> Result<(), BuildError> {
        if self.generation() != Generation::V2_0 {
            return Ok(());
        }
        let taken: Vec<Granule> = (0..n).map_while(|_| self.source.allocate()).collect();
        let mut at = 0;
        let mut failed = None;
        while at < taken.len() && failed.is_none() {
            let run = &taken[at..at + run_length(&taken[at..])];
            let (done, error) = self.range_op(run, Range::Delegate);
            self.reserved.extend_from_slice(&run[..done]);
            at += done;
            failed = error;
        }
        for &g in &taken[at..] {
            self.source.release(g);
        }
        // `delegate` pops: lowest address first.
        self.reserved
            .sort_unstable_by_key(|g| core::cmp::Reverse(g.addr()));
        failed.map_or(Ok(()), |e| Err(e.into()))
    }

    /// RMI 2.0: undelegates the granules teardown collected, one
    /// `RMI_GRANULE_RANGE_UNDELEGATE` per run of contiguous granules, and gives them back to
    /// the source; what the RMM refuses stays in the ledger for the next pass.
    fn flush_undelegations(&mut self) {
        let mut pending = core::mem::take(&mut self.to_undelegate);
        pending.append(&mut self.reserved);
        pending.sort_unstable_by_key(|g| g.addr());
        pending.dedup();
        let mut at = 0;
        while at < pending.len() {
            let run = &pending[at..at + run_length(&pending[at..])];
            let (done, _) = self.range_op(run, Range::Undelegate);
            for &g in &run[..done] {
                self.source.release(g);
            }
            // The refused granule and those after it in the run: still delegated.
            self.owned
                .extend(run[done..].iter().map(|&g| Owned::Delegated(g)));
            at += run.len();
        }
    }

    /// RMI 2.0: `RMI_GRANULE_RANGE_(UN)DELEGATE` over the contiguous granules `run`; how
    /// many from its start were moved, and why it stopped short of the end.
    fn range_op(&mut self, run: &[Granule], op: Range) -> (usize, Option<Error>) {
        let (Some(&first), Some(&last)) = (run.first(), run.last()) else {
            return (0, None);
        };
        let top = match next_granule(last) {
            Ok(top) => top,
            Err(e) => return (0, Some(e)),
        };
        let rmm = match self.v2(op.fid()) {
            Ok(rmm) => rmm,
            Err(e) => return (0, Some(e)),
        };
        let result = match op {
            Range::Delegate => rmi2::granule_range_delegate(rmm, first, top),
            Range::Undelegate => rmi2::granule_range_undelegate(rmm, first, top),
        };
        match result {
            Ok(()) => (run.len(), None),
            Err(e) => (
                ((e.reached - first.addr()) / GRANULE) as usize,
                Some(e.error),
            ),
        }
    }

    /// `RMI_GRANULE_DELEGATE` (1.0) or a one-granule `RMI_GRANULE_RANGE_DELEGATE` (2.0).
    fn delegate_granule(&mut self, g: Granule) -> Result<(), Error> {
        match &mut self.link {
            Link::V1(rmm) => rmi::granule_delegate(rmm, g),
            Link::V2(_) => self.range_op(&[g], Range::Delegate).1.map_or(Ok(()), Err),
        }
    }

    /// `RMI_GRANULE_UNDELEGATE` (1.0) or a one-granule `RMI_GRANULE_RANGE_UNDELEGATE` (2.0).
    fn undelegate_granule(&mut self, g: Granule) -> Result<(), Error> {
        match &mut self.link {
            Link::V1(rmm) => rmi::granule_undelegate(rmm, g),
            Link::V2(_) => self.range_op(&[g], Range::Undelegate).1.map_or(Ok(()), Err),
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
            .sum::<usize>()
            + self.reserved.len()
            + self.to_undelegate.len()
    }

    /// Tears the realm down and undelegates every granule.
    ///
    /// # Errors
    ///
    /// [`BuildError::Leaked`] with the number of granules that stayed delegated.
    pub fn destroy(mut self) -> Result<(), BuildError> {
        self.teardown()
    }

    /// Undelegates `g` and gives it back to the source: at once on RMI 1.0; on RMI 2.0 at the
    /// end of the teardown pass, in ranges ([`Self::flush_undelegations`]).
    pub(super) fn undelegate(&mut self, g: Granule) -> bool {
        if self.generation() == Generation::V2_0 {
            self.to_undelegate.push(g);
            return true;
        }
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
            if self.generation() == Generation::V2_0 {
                // Refusals come back as `Owned::Delegated` in `self.owned`.
                self.flush_undelegations();
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

/// Which way an RMI 2.0 range command moves granules.
#[derive(Clone, Copy)]
enum Range {
    Delegate,
    Undelegate,
}

impl Range {
    const fn fid(self) -> u32 {
        match self {
            Self::Delegate => cca_abi::rmi::fids::RMI_GRANULE_RANGE_DELEGATE,
            Self::Undelegate => cca_abi::rmi::fids::RMI_GRANULE_RANGE_UNDELEGATE,
        }
    }
}

/// How many granules at the start of `granules` follow each other in memory.
fn run_length(granules: &[Granule]) -> usize {
    granules
        .windows(2)
        .take_while(|w| w[0].addr().checked_add(GRANULE) == Some(w[1].addr()))
        .count()
        + usize::from(!granules.is_empty())
}
