//! The creation sequence, steps 1 to 7 of the [module documentation](super): version and
//! features, RD and root RTTs, RTTs over RAM, RIPAS, DATA, RECs, activation.

use alloc::boxed::Box;
use alloc::vec::Vec;

use cca_abi::GRANULE_SIZE;
use cca_abi::rmi::{Generation, Granule, Ipa, RmiRecParams, RmiRecParams2, RmiStatus, RttLevel};
use cca_abi::smccc::Conduit;
use zerocopy::FromZeros;

use super::ledger::Owned;
use super::{
    BuildError, GRANULE, GranuleSource, ListPage, Page, Populate, Realm, RealmConfig, page_addr,
    rec_mpidr,
};
use crate::error::Error;
use crate::link::Link;
use crate::{rmi, rmi2};
use cca_abi::rmi::{RMI_REC_AUX_COUNT, RMI_REC_CREATE};

impl<'s, C: Conduit, S: GranuleSource> Realm<'s, C, S> {
    /// Builds and activates the realm described by `config`.
    ///
    /// # Errors
    ///
    /// Any [`BuildError`]; everything made before the failure has been torn down and
    /// undelegated (or [`BuildError::Leaked`] says how much could not be, and carries the
    /// failure that started the teardown).
    pub fn build(
        conduit: C,
        source: &'s mut S,
        config: &RealmConfig<'_>,
    ) -> Result<Self, BuildError> {
        config.check()?;
        let (link, _) = Link::connect(conduit).map_err(BuildError::Version)?;
        Self::build_on(link, source, config)
    }

    /// [`Realm::build`] on a conduit whose generation is already negotiated (by
    /// [`Link::connect`], which also reports what the RMM offers).
    ///
    /// # Errors
    ///
    /// As [`Realm::build`].
    pub fn build_on(
        link: Link<C>,
        source: &'s mut S,
        config: &RealmConfig<'_>,
    ) -> Result<Self, BuildError> {
        config.check()?;
        let alias = 1 << (config.ipa_width - 1);
        let uart_alias = config.uart_ipa.map(|ipa| ipa | alias);
        let mut realm = Self {
            link,
            source,
            owned: Vec::new(),
            rd: None,
            recs: Vec::new(),
            uart_alias,
            ram: (config.ram_base, config.ram_base + config.ram_size),
            ram_alias: (
                config.ram_base | alias,
                (config.ram_base + config.ram_size) | alias,
            ),
            populated: 0,
            reserved: Vec::new(),
            to_undelegate: Vec::new(),
            rtt_start: config.root().0,
            shared: Vec::new(),
            max_shared: config.max_shared_pages,
        };
        match realm.build_steps(config) {
            Ok(()) => Ok(realm),
            Err(e) => match realm.teardown() {
                Ok(()) => Err(e),
                Err(BuildError::Leaked { leaked, .. }) => Err(BuildError::Leaked {
                    leaked,
                    cause: Some(Box::new(e)),
                }),
                Err(other) => Err(other),
            },
        }
    }
}

/// Auxiliary granules TF-RMM v0.9.0 asks for per REC (`MAX_REC_AUX_GRANULES`, the
/// `RMI_OP_MEM_DONATE` request of `RMI_REC_CREATE`: 16 granules, digest §6.5).
const REC_AUX_GRANULES: usize = 16;

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    /// RMI 2.0: the RMM must be activated once per boot before any realm command
    /// (`RMI_RMM_CONFIG_SET` with the only configuration TF-RMM v0.9.0 accepts, all zero,
    /// then `RMI_RMM_ACTIVATE`; `runtime/rmi/granule.c`, `runtime/rmi/activate.c`). Both
    /// answer `RMI_ERROR_GLOBAL` once the RMM is active (an earlier realm of this boot
    /// activated it); `RMI_REALM_ACTIVATE` of RD 0 then tells active (`RMI_ERROR_INPUT`, the
    /// state gate passed) from not (`RMI_ERROR_GLOBAL`).
    fn activate_rmm(&mut self) -> Result<(), BuildError> {
        let config = Box::new(Page([0; GRANULE_SIZE]));
        let global = |e: &Error| matches!(e, Error::Refused { ret, .. } if ret.status == RmiStatus::ErrorGlobal);
        let Link::V2(rmm) = &mut self.link else {
            return Ok(());
        };
        let set = rmi2::rmm_config_set(rmm, page_addr(&*config));
        let activated = set.and_then(|()| rmi2::rmm_activate(rmm));
        match activated {
            Ok(()) => Ok(()),
            Err(e) if global(&e) => {
                let probe = rmi::realm_activate(rmm, Granule::containing(0));
                match probe {
                    Err(Error::Refused { ret, .. }) if ret.status == RmiStatus::ErrorInput => {
                        Ok(())
                    }
                    _ => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn build_steps(&mut self, config: &RealmConfig<'_>) -> Result<(), BuildError> {
        match &mut self.link {
            Link::V1(rmm) => {
                let features = rmi::features0(rmm)?;
                config.check_features(&features)?;
            }
            Link::V2(rmm) => {
                let reg0 = rmi2::features0(rmm)?;
                let reg1 = rmi2::features1(rmm)?;
                config.check_features_v2(&reg0, &reg1)?;
                self.activate_rmm()?;
            }
        }

        // Realm descriptor and root RTTs: the roots must be contiguous and aligned to their
        // total size, so take granules until an aligned run appears.
        let (_, num_root) = config.root();
        let rd = self.delegate()?;
        let roots = self.contiguous(num_root)?;
        // RMI 2.0: what the rest of the build needs, delegated in ranges.
        self.reserve(config.granules_after_roots(REC_AUX_GRANULES))?;
        match &mut self.link {
            Link::V1(rmm) => {
                let params = Box::new(config.realm_params(roots[0].addr()));
                rmi::realm_create(rmm, rd, page_addr(&*params))?;
            }
            Link::V2(rmm) => {
                let params = Box::new(config.realm_params_v2(roots[0].addr()));
                rmi2::realm_create(rmm, rd, page_addr(&*params))?;
            }
        }
        // The delegated RD and roots are now one object.
        self.owned
            .retain(|o| !matches!(o, Owned::Delegated(g) if *g == rd || roots.contains(g)));
        self.owned.push(Owned::Rd {
            rd,
            roots: roots.clone(),
        });
        self.rd = Some(rd);

        // RTTs down to level 2 over RAM, to level 3 over the image's blocks.
        let (base, top) = (config.ram_base, config.ram_base + config.ram_size);
        let rtts: Vec<_> = config.rtts().collect();
        for (level, ipa) in rtts {
            self.create_rtt(rd, Ipa::new(ipa).expect("aligned"), level)?;
        }

        // RIPAS RAM over all of RAM (level-3 entries over the image's blocks, 2 MiB entries
        // beyond); an eager build then makes the level-3 tables beyond.
        let mut at = Ipa::new(base).expect("aligned");
        let end = Ipa::new(top).expect("aligned");
        while at < end {
            at = rmi::rtt_init_ripas(&mut self.link, rd, at, end)?;
        }
        if config.populate == Populate::Eager {
            let rest: Vec<_> = config.rest_rtts().collect();
            for (level, ipa) in rest {
                self.create_rtt(rd, Ipa::new(ipa).expect("aligned"), level)?;
            }
        }

        // The image, measured; the rest of RAM, unknown, now or on the realm's demand.
        let mut src = Box::new(Page([0; GRANULE_SIZE]));
        let granules = match config.populate {
            Populate::Eager => config.ram_size / GRANULE,
            Populate::OnDemand => (config.image.len() as u64).div_ceil(GRANULE),
        };
        for i in 0..granules {
            let ipa = Ipa::new(base + i * GRANULE).expect("aligned");
            let off = (i * GRANULE) as usize;
            if off < config.image.len() {
                let data = self.delegate()?;
                let chunk = &config.image[off..config.image.len().min(off + GRANULE_SIZE)];
                src.0[..chunk.len()].copy_from_slice(chunk);
                src.0[chunk.len()..].fill(0);
                let (src, flags) = (page_addr(&*src), config.measure(off));
                match &mut self.link {
                    Link::V1(rmm) => rmi::data_create(rmm, rd, data, ipa, src, flags)?,
                    // The same registers and measurement (TF-RMM v0.9.0 `runtime/rmi/rtt.c`).
                    Link::V2(rmm) => rmi2::rtt_data_map_init(rmm, rd, data, ipa, src, flags)?,
                }
                self.adopt(1, Owned::Data { ipa, data });
            } else {
                self.create_unknown(rd, ipa)?;
            }
        }

        // RECs, in MPIDR order.
        if self.generation() == Generation::V2_0 {
            for index in 0..config.recs {
                self.create_rec_v2(rd, config, index)?;
            }
            rmi::realm_activate(&mut self.link, rd)?;
            return Ok(());
        }
        let aux_count = rmi::rec_aux_count(self.v1(RMI_REC_AUX_COUNT)?, rd)?;
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
            rmi::rec_create(self.v1(RMI_REC_CREATE)?, rd, rec, page_addr(&*p))?;
            self.adopt(1 + aux_count, Owned::Rec { rec, aux });
            self.recs.push(rec);
        }

        rmi::realm_activate(&mut self.link, rd)?;
        Ok(())
    }

    /// RMI 2.0: creates REC `index` through the stateful `RMI_REC_CREATE`, donating the
    /// auxiliary granules it asks for from the granule source.
    fn create_rec_v2(
        &mut self,
        rd: Granule,
        config: &RealmConfig<'_>,
        index: usize,
    ) -> Result<(), BuildError> {
        let rec = self.delegate()?;
        let measured = config.rec_params(index);
        let mut p = Box::new(RmiRecParams2::new_zeroed());
        p.flags = measured.flags;
        p.mpidr = rec_mpidr(index);
        p.pc = measured.pc;
        p.gprs = measured.gprs;
        let mut page = Box::new(ListPage([0; 512]));
        let mut list = rmi2::AddrList::identity(&mut page.0);
        // The granules the RMM will ask for, delegated first (the supply cannot reach the
        // conduit while the operation uses it) and recorded in the ledger, so that a failure
        // part-way leaves them to undelegate. Spares from an earlier REC are used first.
        let mut pool: Vec<Granule> = self
            .owned
            .iter()
            .filter_map(|o| match o {
                Owned::Delegated(g) if *g != rec => Some(*g),
                _ => None,
            })
            .collect();
        while pool.len() < REC_AUX_GRANULES {
            pool.push(self.delegate()?);
        }
        let mut supply = pool.into_iter();
        let result = rmi2::rec_create(
            self.v2(RMI_REC_CREATE)?,
            rd,
            rec,
            page_addr(&*p),
            &mut || supply.next(),
            &mut list,
        );
        match result {
            Ok(created) => {
                // The RMM holds the REC and `aux`; what it did not take stays in the ledger as
                // plain delegated granules.
                self.owned.retain(
                    |o| !matches!(o, Owned::Delegated(g) if *g == rec || created.aux.contains(g)),
                );
                self.owned.push(Owned::Rec {
                    rec,
                    aux: created.aux,
                });
                self.recs.push(rec);
                Ok(())
            }
            // Everything the host has back is DELEGATED and still in the ledger.
            Err(e) => Err(BuildError::Rmi(e.error)),
        }
    }

    /// Gives the page at `ipa` a zeroed, unmeasured data granule (RMI 1.0
    /// `RMI_DATA_CREATE_UNKNOWN`, RMI 2.0 `RMI_RTT_DATA_MAP`; allowed in any realm state).
    /// The walk must reach a level-3 table: when the RMM reports that it stopped above
    /// (`(RMI_ERROR_RTT, level)` with level < 3: RMI 2.0 on-demand RAM has no level-3 table
    /// until the realm reaches its 2 MiB block), the missing tables are created and the call
    /// repeated.
    pub(super) fn create_unknown(&mut self, rd: Granule, ipa: Ipa) -> Result<(), BuildError> {
        let data = self.delegate()?;
        // At most one table per level below a level-0 root; after that the RMM's answer
        // stands.
        let mut tables = 0;
        loop {
            let created = match &mut self.link {
                Link::V1(rmm) => rmi::data_create_unknown(rmm, rd, data, ipa),
                Link::V2(rmm) => rmi2::rtt_data_map(rmm, rd, ipa, &[data]).map_err(Error::from),
            };
            match created {
                Ok(()) => {
                    // `data` may no longer be the last granule delegated: a table came after.
                    self.owned
                        .retain(|o| !matches!(o, Owned::Delegated(g) if *g == data));
                    self.owned.push(Owned::Data { ipa, data });
                    return Ok(());
                }
                Err(Error::Refused { ret, .. })
                    if ret.status == RmiStatus::ErrorRtt && ret.index < 3 && tables < 3 =>
                {
                    self.create_rtt_below(rd, ipa, ret.index)?;
                    tables += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Creates the RTT one level below `reached`, the level at which the RMM's walk for `ipa`
    /// stopped (`(RMI_ERROR_RTT, reached)`, `reached` < 3), covering `ipa`.
    pub(super) fn create_rtt_below(
        &mut self,
        rd: Granule,
        ipa: Ipa,
        reached: u8,
    ) -> Result<(), BuildError> {
        // `reached` is 0 to 2 (an unsigned level below 3): both levels exist.
        let reached = reached as i8;
        let level = RttLevel::new(reached + 1).expect("1 to 3");
        let block = RttLevel::new(reached).expect("0 to 2").block_size();
        let table = Ipa::new(ipa.addr() - ipa.addr() % block).expect("aligned to a block");
        self.create_rtt(rd, table, level)
    }

    /// Creates the RTT of `level` covering `ipa` (aligned to the entry of the level above).
    pub(super) fn create_rtt(
        &mut self,
        rd: Granule,
        ipa: Ipa,
        level: RttLevel,
    ) -> Result<(), BuildError> {
        let rtt = self.delegate()?;
        rmi::rtt_create(&mut self.link, rd, rtt, ipa, level)?;
        self.adopt(1, Owned::Rtt { ipa, level, rtt });
        Ok(())
    }
}
