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
//! - [`rim`]: prediction of a realm's RIM from a description of how the host builds it;
//! - [`builder`]: builds a realm from a flat image (delegate, create, populate, measure,
//!   activate), runs it, and tears it down without leaking a granule.
//!
//! Every call goes through a [`Conduit`](cca_abi::smccc::Conduit): the `SMC` instruction on
//! hardware, the software RMM model or a fake in tests.
//!
//! The `std` feature adds the `rim-predict` command-line tool and
//! `rim::FlatImage::predict_parallel`, which hashes DATA contents on several threads.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks what a feature or target gates.
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod builder;
pub mod error;
pub mod rim;
pub mod rmi;
pub mod rmi2;
pub mod version;

pub use error::{Error, Malformed};
