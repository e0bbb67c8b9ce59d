//! realm-sdk: what a payload needs to run as an Arm CCA realm.
//!
//! It follows the *Realm Management Monitor specification*, Arm DEN0137 RMM 1.0-rel0, and is
//! tested against the reference RMM, TF-RMM v0.8.0 (RSI 1.0), and against an RMM offering
//! RSI 1.0 and 1.1 (TF-RMM v0.9.0), through the software model in `rmm-model`.
//!
//! - [`rsi`]: every RSI 1.0 command, and every RSI 1.1 command TF-RMM v0.9.0 defines
//!   (planes, memory permissions, device assignment), as a typed function over a
//!   [`Conduit`], with [`RsiError`](rsi::RsiError) telling an RMM refusal from a malformed
//!   reply or argument;
//! - [`psci`]: the PSCI calls a realm makes (the RMM forwards them to the host);
//! - [`time`]: a monotonic clock, deadlines and delays from the generic timer, and (with
//!   `rt`) sleeping until a deadline on the virtual timer interrupt;
//! - [`gic`]: the GICv3 CPU interface a realm sees (INTIDs; with `rt`, acknowledge and end);
//! - [`Realm`]: a handle that negotiates the RSI version, reads the realm configuration once
//!   and knows the IPA width, the hash algorithm and the unprotected-alias bit; its RSI 1.1
//!   methods refuse, without calling the RMM, when only RSI 1.0 was negotiated;
//! - `rt` (feature `rt`, `aarch64-unknown-none` only): a bare-metal runtime with entry, an
//!   identity map with the MMU and caches on, stack, BSS, exception vectors, panic handler,
//!   console (host call or PL011) and heap, and `smp` (re-exported as `realm_sdk::smp`): jobs
//!   on the realm's other RECs. It and its macros `entry!` and `println!` are
//!   documented for that target: docs.rs's default page, or
//!   `cargo doc -p realm-sdk --target aarch64-unknown-none --features rt`.
//!
//! # Addresses
//!
//! RSI takes intermediate physical addresses (IPAs). The safe functions here take Rust
//! references and pass their address as the IPA, which is right when virtual and
//! intermediate physical addresses coincide: a realm that runs with the MMU off or with an
//! identity map, as the `rt` runtime does. A kernel with its own translation uses the
//! `unsafe` functions in [`rsi::raw`], which take IPAs.
//!
//! # Example
//!
//! ```
//! use realm_sdk::{Realm, RemIndex};
//! # let mut conduit = rmm_model::sim::Simulator::new(rmm_model::RealmConfig::default());
//! // `conduit` is `cca_abi::smccc::Smc` in a realm; here it is the software RMM model.
//! let mut realm = Realm::new(&mut conduit)?;
//! realm.measurement_extend(RemIndex::REM0, b"boot stage 1")?;
//! let rem = realm.measurement_read(RemIndex::REM0.into())?;
//! assert_eq!(rem.as_bytes().len(), realm.hash_algorithm().digest_len());
//! # Ok::<(), realm_sdk::rsi::RsiError>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly) marks what a feature or target gates.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod addr;
pub mod attest;
pub mod broker;
pub mod gic;
#[cfg(feature = "islet")]
pub mod islet;
pub mod psci;
mod realm;
pub mod rsi;
pub mod seal;
pub mod service;
pub mod time;
#[cfg(feature = "virtio")]
pub mod virtio;

#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
#[allow(
    unsafe_code,
    reason = "the runtime sets up the machine; each block is justified"
)]
pub mod rt;
#[cfg(all(feature = "rt", target_arch = "aarch64", target_os = "none"))]
pub use rt::smp;

#[cfg(any(
    feature = "virtio",
    all(feature = "rt", target_arch = "aarch64", target_os = "none")
))]
extern crate alloc;

pub use addr::{AuxPlaneIndex, Ipa, MeasurementIndex, PermIndex, PlaneIndex, RemIndex, VdevId};
pub use attest::Challenge;
pub use cca_abi::measurement::{HashAlgorithm, Measurement};
pub use cca_abi::smccc::{Conduit, Smc};
pub use cca_abi::{AbiVersion, rsi::Ripas};
pub use realm::{MeasureError, Realm};
