//! The creation sequence, steps 1 to 7 of the [module documentation](super): version and
//! features, RD and root RTTs, RTTs over RAM, RIPAS, DATA, RECs, activation.

use alloc::boxed::Box;
use alloc::vec::Vec;

use cca_abi::GRANULE_SIZE;
use cca_abi::rmi::{Granule, Ipa, RmiDataMeasureContent, RmiRealmParams, RmiRecParams, RttLevel};
use cca_abi::smccc::Conduit;
use zerocopy::FromZeros;

use super::ledger::Owned;
use super::{BuildError, GRANULE, GranuleSource, Page, Realm, RealmConfig, page_addr, rec_mpidr};
use crate::rmi;
use crate::version;

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
}

impl<C: Conduit, S: GranuleSource> Realm<'_, C, S> {
    fn build_steps(&mut self, config: &RealmConfig<'_>) -> Result<(), BuildError> {
        version::negotiate(&mut self.conduit).map_err(BuildError::Version)?;
        let features = rmi::features0(&mut self.conduit)?;
        config.check_features(&features)?;

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
    pub(super) fn create_rtt(
        &mut self,
        rd: Granule,
        ipa: Ipa,
        level: RttLevel,
    ) -> Result<(), BuildError> {
        let rtt = self.delegate()?;
        rmi::rtt_create(&mut self.conduit, rd, rtt, ipa, level)?;
        self.adopt(1, Owned::Rtt { ipa, level, rtt });
        Ok(())
    }
}
