//! Conduits that carry the RMI generation they negotiated, so that a command of one
//! generation cannot be issued on the other.
//!
//! RMI 1.0 (TF-RMM v0.8.0) and RMI 2.0 (TF-RMM v0.9.0) share most function numbers but not
//! all meanings: `…151` is `RMI_GRANULE_DELEGATE` in 1.0 and unknown in 2.0, `…153` is 1.0's
//! `RMI_DATA_CREATE` and 2.0's `RMI_RTT_DATA_MAP_INIT`, and `RMI_REALM_CREATE` and
//! `RMI_REC_CREATE` take different structures (`docs/rmi-2.0-tf-rmm-v0.9.0.md`). The typed
//! calls therefore ask for a conduit that proves which generation the RMM agreed to:
//!
//! | Bound | Calls | Wrapper that has it |
//! |---|---|---|
//! | [`Rmi`] | commands whose number, arguments and results are the same in both generations (`rmi::rtt_create`, `rmi::rec_enter`, ...) | [`V1`], [`V2`], [`Link`] |
//! | [`RmiV1`] | RMI 1.0 only (`rmi::granule_delegate`, `rmi::data_create`, `rmi::rec_create`, ...) | [`V1`] |
//! | [`RmiV2`] | RMI 2.0 only (everything in [`crate::rmi2`] but `version`) | [`V2`] |
//!
//! [`Link::connect`] negotiates (1.0 first, 2.0 when the RMM offers only that) and hands back
//! the matching wrapper; [`V1::connect`] and [`V2::connect`] insist on one generation. The
//! traits are sealed: a plain [`Conduit`] has none of them.
//!
//! ```compile_fail,E0277
//! # use cca_abi::rmi::Granule;
//! # use cca_abi::smccc::{Conduit, Regs};
//! # struct Fake;
//! # impl Conduit for Fake { fn call(&mut self, r: Regs) -> Regs { r } }
//! // RMI_GRANULE_DELEGATE does not exist in RMI 2.0: this does not compile.
//! let mut rmm = rmi_shim::link::V2::assume(Fake);
//! let _ = rmi_shim::rmi::granule_delegate(&mut rmm, Granule::containing(0x8800_0000));
//! ```
//!
//! ```compile_fail,E0277
//! # use cca_abi::rmi::Granule;
//! # use cca_abi::smccc::{Conduit, Regs};
//! # struct Fake;
//! # impl Conduit for Fake { fn call(&mut self, r: Regs) -> Regs { r } }
//! // Neither does an RMI 2.0 command on a conduit that negotiated nothing.
//! let g = Granule::containing(0x8800_0000);
//! let _ = rmi_shim::rmi2::granule_range_delegate(&mut Fake, g, g);
//! ```
//!
//! ```
//! # use cca_abi::rmi::Granule;
//! # use cca_abi::smccc::{Conduit, Regs};
//! # struct Fake;
//! # impl Conduit for Fake { fn call(&mut self, mut r: Regs) -> Regs { r[0] = 0; r } }
//! // The same calls on the right generation compile.
//! let g = Granule::containing(0x8800_0000);
//! let mut v1 = rmi_shim::link::V1::assume(Fake);
//! rmi_shim::rmi::granule_delegate(&mut v1, g).unwrap();
//! let mut v2 = rmi_shim::link::V2::assume(Fake);
//! rmi_shim::rmi2::rmm_activate(&mut v2).unwrap();
//! // Commands common to both take either, or a `Link`.
//! rmi_shim::rmi::realm_activate(&mut v2, g).unwrap();
//! ```

use cca_abi::rmi::Generation;
use cca_abi::smccc::{Conduit, Regs};

use crate::rmi2;
use crate::version::{self, Negotiated, VersionError};

mod sealed {
    pub trait Sealed {}
}

/// A conduit to an RMM whose RMI generation was negotiated: enough for the commands that are
/// the same in RMI 1.0 and 2.0.
pub trait Rmi: Conduit + sealed::Sealed {
    /// The generation negotiated.
    fn generation(&self) -> Generation;
}

/// A conduit to an RMM that agreed to RMI 1.0 (TF-RMM v0.8.0).
pub trait RmiV1: Rmi {}

/// A conduit to an RMM that agreed to RMI 2.0 (TF-RMM v0.9.0).
pub trait RmiV2: Rmi {}

/// A conduit on which RMI 1.0 was negotiated.
#[derive(Debug)]
pub struct V1<C>(C);

/// A conduit on which RMI 2.0 was negotiated.
#[derive(Debug)]
pub struct V2<C>(C);

macro_rules! wrapper {
    ($name:ident, $generation:expr, $marker:ident, $what:literal) => {
        impl<C: Conduit> $name<C> {
            #[doc = concat!("Wraps `conduit` without asking the RMM: the caller knows it speaks ", $what, ".")]
            ///
            /// Nothing unsafe follows from a wrong guess: the RMM answers commands it does not
            /// implement with `SMC_UNKNOWN` ([`crate::Error::NotImplemented`]). Meant for
            /// tests and for hosts that negotiated by other means.
            pub const fn assume(conduit: C) -> Self {
                Self(conduit)
            }

            /// The conduit, for calls the typed API does not cover.
            pub fn inner(&mut self) -> &mut C {
                &mut self.0
            }

            /// Gives the conduit back.
            pub fn into_inner(self) -> C {
                self.0
            }
        }

        /// The conduit's own state (a test model's counters, say) stays reachable.
        impl<C> core::ops::Deref for $name<C> {
            type Target = C;
            fn deref(&self) -> &C {
                &self.0
            }
        }

        impl<C> core::ops::DerefMut for $name<C> {
            fn deref_mut(&mut self) -> &mut C {
                &mut self.0
            }
        }

        impl<C: Conduit> Conduit for $name<C> {
            fn call(&mut self, regs: Regs) -> Regs {
                self.0.call(regs)
            }
        }

        impl<C: Conduit> sealed::Sealed for $name<C> {}

        impl<C: Conduit> Rmi for $name<C> {
            fn generation(&self) -> Generation {
                $generation
            }
        }

        impl<C: Conduit> $marker for $name<C> {}
    };
}

wrapper!(V1, Generation::V1_0, RmiV1, "RMI 1.0");
wrapper!(V2, Generation::V2_0, RmiV2, "RMI 2.0");

impl<C: Conduit> V1<C> {
    /// Negotiates RMI 1.0 ([`version::negotiate`]).
    ///
    /// # Errors
    ///
    /// What [`version::negotiate`] reports, [`VersionError::Rmi2Only`] among them.
    pub fn connect(mut conduit: C) -> Result<(Self, Negotiated), VersionError> {
        let negotiated = version::negotiate(&mut conduit)?;
        Ok((Self(conduit), negotiated))
    }
}

impl<C: Conduit> V2<C> {
    /// Negotiates RMI 2.0 ([`rmi2::version`]).
    ///
    /// # Errors
    ///
    /// What [`rmi2::version`] reports, [`VersionError::NotRmi2`] among them.
    pub fn connect(mut conduit: C) -> Result<(Self, Negotiated), VersionError> {
        let negotiated = rmi2::version(&mut conduit)?;
        Ok((Self(conduit), negotiated))
    }
}

impl<T: Rmi + ?Sized> sealed::Sealed for &mut T {}

impl<T: Rmi + ?Sized> Rmi for &mut T {
    fn generation(&self) -> Generation {
        (**self).generation()
    }
}

impl<T: RmiV1 + ?Sized> RmiV1 for &mut T {}

impl<T: RmiV2 + ?Sized> RmiV2 for &mut T {}

/// A conduit on which one of the two generations was negotiated.
#[derive(Debug)]
pub enum Link<C> {
    /// RMI 1.0.
    V1(V1<C>),
    /// RMI 2.0.
    V2(V2<C>),
}

impl<C: Conduit> Link<C> {
    /// Negotiates the generation: RMI 1.0 when the RMM offers it, else RMI 2.0 when the RMM
    /// offers only that (TF-RMM v0.9.0 answers a 1.0 request with `RMI_ERROR_INPUT` and
    /// lower = higher = 2.0, cca-abi.md §9).
    ///
    /// # Errors
    ///
    /// [`VersionError`]: no RMM, an RMM that offers neither generation, or a malformed reply.
    pub fn connect(mut conduit: C) -> Result<(Self, Negotiated), VersionError> {
        match version::negotiate(&mut conduit) {
            Ok(negotiated) => Ok((Self::V1(V1(conduit)), negotiated)),
            Err(VersionError::Rmi2Only { .. }) => {
                let (v2, negotiated) = V2::connect(conduit)?;
                Ok((Self::V2(v2), negotiated))
            }
            Err(e) => Err(e),
        }
    }

    /// The conduit, for calls the typed API does not cover.
    pub fn inner(&mut self) -> &mut C {
        match self {
            Self::V1(c) => c.inner(),
            Self::V2(c) => c.inner(),
        }
    }
}

impl<C: Conduit> Conduit for Link<C> {
    fn call(&mut self, regs: Regs) -> Regs {
        self.inner().call(regs)
    }
}

impl<C: Conduit> sealed::Sealed for Link<C> {}

impl<C: Conduit> Rmi for Link<C> {
    fn generation(&self) -> Generation {
        match self {
            Self::V1(_) => Generation::V1_0,
            Self::V2(_) => Generation::V2_0,
        }
    }
}
