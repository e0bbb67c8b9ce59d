//! What the EL2 harness and its runners share: the memory map and the RIM of the realm the
//! harness builds. The program itself is `main.rs` (bare metal, `aarch64-unknown-none`).
#![no_std]
#![forbid(unsafe_code)]

pub mod layout;
pub mod measure;
