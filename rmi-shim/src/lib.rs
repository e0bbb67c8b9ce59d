//! The host side of the Arm CCA Realm Management Interface.
//!
//! Follows the *Realm Management Monitor specification* (Arm DEN0137) RMI 1.0 (1.0-rel0) as
//! the reference RMM, TF-RMM `tf-rmm-v0.8.0`, implements it; the ABI itself (function ids,
//! status codes, structures, register codec, RIM descriptors) lives in [`cca_abi::rmi`] and
//! [`cca_abi::rim`], shared with the software RMM model.
//!
//! - [`rmi`]: one function per RMI command, named after the specification without its
//!   prefix (`rmi::granule_delegate`), with typed arguments and typed errors;
//! - [`rmi2`]: the commands RMI 2.0 (TF-RMM v0.9.0) adds or changes, and drivers for its
//!   stateful operations (`rmi2::rec_create`, `rmi2::rec_destroy`);
//! - [`version`]: `RMI_VERSION` negotiation, including detection of an RMM that only
//!   implements RMI 2.0 (TF-RMM v0.9.0 and later);
//! - [`link`]: conduits that carry the negotiated generation ([`link::Link::connect`]), so
//!   that a command of one generation cannot be issued on the other: it does not compile;
//! - [`rim`]: prediction of a realm's RIM from a description of how the host builds it;
//! - `comid` (feature `std`): a realm's reference values as a CoMID for CoRIM verifiers;
//! - [`builder`]: builds a realm from a flat image (delegate, create, populate, measure,
//!   activate), runs it, and tears it down without leaking a granule.
//!
//! Every call goes through a [`Conduit`](cca_abi::smccc::Conduit) (the `SMC` instruction on
//! hardware, the software RMM model or a fake in tests) wrapped in a [`link`] type.
//!
//! The `std` feature adds the `rim-predict` command-line tool and
//! `rim::FlatImage::predict_parallel`, which hashes DATA contents on several threads.
//!
//! # Example
//!
//! A realm built from an image, run and torn down. The conduit here is the software RMM
//! model (`rmm-model`, as TF-RMM v0.8.0 behaves), whose realms run Rust code in this
//! process; on hardware it is [`Smc`](cca_abi::smccc::Smc) and the realm runs the image.
//! The RMM measures the RIM that [`rim`] predicts, and teardown leaves no granule
//! delegated.
//!
//! ```
//! use std::sync::Arc;
//!
//! use rmi_shim::builder::{Host, RangeSource, Realm, RealmConfig, RunOutcome};
//! use rmm_model::rmi::{Rmm, RmmConfig};
//!
//! // The physical granules the host may delegate, and an RMM that knows them.
//! let pool = (0x1_0000_0000, 0x1_0400_0000);
//! let mut rmm = Rmm::new(RmmConfig { delegable: pool, ..RmmConfig::default() });
//! // What the model's realm does when entered: switch itself off.
//! rmm.set_program(Arc::new(|_rec, conduit| {
//!     realm_sdk::psci::system_off(conduit).expect("SYSTEM_OFF is an exit");
//! }));
//!
//! let image = [0xd5; 10_000];
//! let config = RealmConfig {
//!     image: &image,
//!     ram_size: 4 << 20,
//!     // The model keeps the realm's buffers in this process: a 48-bit IPA space puts
//!     // their addresses in the protected half.
//!     ipa_width: 48,
//!     ..RealmConfig::default()
//! };
//! let predicted = config.predict_rim()?;
//!
//! /// The host's side of the run: the realm's console, RIPAS changes (accepted).
//! struct Console(Vec<u8>);
//! impl Host for Console {
//!     fn console(&mut self, bytes: &[u8]) {
//!         self.0.extend_from_slice(bytes);
//!     }
//! }
//!
//! let mut source = RangeSource::new(pool.0, pool.1);
//! let mut realm = Realm::build(&mut rmm, &mut source, &config)?;
//! let rd = realm.rd().expect("a built realm has an RD").addr();
//! assert_eq!(realm.conduit().rim(rd), Some(predicted));
//! assert_eq!(realm.run(&mut Console(Vec::new()))?, RunOutcome::SystemOff);
//! realm.destroy()?;
//! assert_eq!(rmm.delegated_count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks what a feature or target gates.
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod builder;
#[cfg(feature = "std")]
pub mod comid;
pub mod error;
pub mod link;
pub mod rim;
pub mod rmi;
pub mod rmi2;
pub mod version;

pub use error::{Error, Malformed};
