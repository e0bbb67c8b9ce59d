//! Attested inference in an Arm CCA realm (realm-sdk issue 13): a model that only an
//! approved realm image can decrypt, measured before first use, and answers that a verifier
//! can tie to the model, the image, its own nonce and the very inputs and outputs.
//!
//! | module | what |
//! |---|---|
//! | [`model`] | the quantised model format (`QMLP`) and the int8 MLP kernel |
//! | [`container`] | the encrypted model (`QMC1`, AES-256-GCM) and the model key derived from the key the broker releases |
//! | [`binding`] | the model's measurement (a REM event) and the batch challenge |
//! | [`disk`] | the disk image the host hands the realm (`RIDK`), and its builder |
//! | [`report`] | the lines the realm writes on its console |
//! | [`verify`] | the verifier's checks of one batch |
//!
//! The realm side (`examples/inference`) and the verifier (`cca-token verify-inference`)
//! both use these definitions. `no_std`, no heap (the builders of the `alloc` feature
//! aside), no `unsafe`. The tokens follow DEN0137 RMM 1.0 (realm claims, A7.2) through
//! `cca-token`; the measurement convention is realm-sdk's event log (`cca_abi::eventlog`).
//!
//! The example model is `data/digits/`: a 64-32-10 MLP over scikit-learn's 8x8 digits,
//! trained and quantised by `tools/inference/train_digits.py` (float and int8 accuracy on
//! the 450 held-out digits: 438/450, 97.33 %).

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod binding;
pub mod container;
pub mod disk;
pub mod model;
pub mod report;
pub mod verify;
