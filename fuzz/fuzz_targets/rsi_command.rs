//! Fuzzes the RSI register codec (`cca_abi::rsi::RsiCommand`): any register file decodes
//! without panicking, and whatever decodes encodes back to a register file that decodes to
//! the same command, with the same function id.
#![no_main]

use cca_abi::rsi::RsiCommand;
use cca_abi::smccc::Regs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut regs: Regs = [0; 18];
    for (reg, chunk) in regs.iter_mut().zip(data.chunks(8)) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        *reg = u64::from_le_bytes(word);
    }
    if let Some(cmd) = RsiCommand::from_regs(&regs) {
        let again = cmd.to_regs();
        assert_eq!(again[0], u64::from(cmd.fid()));
        assert_eq!(RsiCommand::from_regs(&again), Some(cmd));
    }
});
