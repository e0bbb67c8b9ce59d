//! Checks that a realm ran no exclusive or atomic read-modify-write instruction before it
//! turned its MMU on.
//!
//! With the MMU off every data access is Device memory, where the architecture leaves
//! exclusive accesses UNPREDICTABLE (Arm ARM B2.9.5); QEMU accepts them, hardware need not.
//! The input is a QEMU `-d in_asm` log ([`crate::Qemu::run_traced`]). QEMU translates each
//! block of guest code before it first runs it, so every instruction the realm executed
//! before the MMU was on lies in a block translated before the block holding the realm's
//! first `msr sctlr_el1` (the runtime's only write of `SCTLR_EL1`, which sets M): the check
//! reads the realm's blocks up to that one (a superset of what ran, as blocks may end early)
//! and reports any exclusive or atomic instruction in them.

use std::ops::Range;

/// What [`check_in_asm_log`] found.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Report {
    /// Address of the realm's first `msr sctlr_el1`, if the log has one.
    pub mmu_on: Option<u64>,
    /// Exclusive or atomic instructions translated before it: `(address, mnemonic)`.
    pub before: Vec<(u64, String)>,
    /// Those translated after it (for the record: the locks are there).
    pub after: Vec<(u64, String)>,
}

/// Returns whether `mnemonic` is an exclusive load/store or an LSE atomic (A64: LDXR, LDAXR,
/// STXR, STLXR and their byte, halfword and pair forms; CAS, CASP, SWP, `LD<op>`, `ST<op>`).
#[must_use]
pub fn is_exclusive_or_atomic(mnemonic: &str) -> bool {
    let m = mnemonic.to_ascii_lowercase();
    let exclusive = [
        "ldxr", "ldaxr", "stxr", "stlxr", "ldxp", "ldaxp", "stxp", "stlxp",
    ];
    if exclusive.iter().any(|e| {
        m.strip_prefix(e)
            .is_some_and(|rest| matches!(rest, "" | "b" | "h"))
    }) {
        return true;
    }
    let ops = ["add", "clr", "eor", "set", "smax", "smin", "umax", "umin"];
    let stem = m
        .strip_suffix('b')
        .or_else(|| m.strip_suffix('h'))
        .unwrap_or(&m);
    let order = |s: &str| matches!(s, "" | "a" | "l" | "al");
    if let Some(rest) = stem
        .strip_prefix("casp")
        .or_else(|| stem.strip_prefix("cas"))
    {
        return order(rest);
    }
    if let Some(rest) = stem.strip_prefix("swp") {
        return order(rest);
    }
    for op in ops {
        if let Some(rest) = stem.strip_prefix("ld").and_then(|r| r.strip_prefix(op)) {
            return order(rest);
        }
        if let Some(rest) = stem.strip_prefix("st").and_then(|r| r.strip_prefix(op)) {
            return matches!(rest, "" | "l");
        }
    }
    false
}

/// Reads a QEMU `-d in_asm` log, keeping the instructions whose address lies in `realm`.
#[must_use]
pub fn check_in_asm_log(log: &str, realm: Range<u64>) -> Report {
    let mut report = Report::default();
    for line in log.lines() {
        // "0x80000000:  aa0003f3  mov      x19, x0"
        let mut words = line.split_whitespace();
        let Some(pc) = words
            .next()
            .and_then(|w| w.strip_prefix("0x"))
            .and_then(|w| w.strip_suffix(':'))
            .and_then(|w| u64::from_str_radix(w, 16).ok())
        else {
            continue;
        };
        if !realm.contains(&pc) {
            continue;
        }
        let (Some(_encoding), Some(mnemonic)) = (words.next(), words.next()) else {
            continue;
        };
        let operands = words.next().unwrap_or("");
        let hit = is_exclusive_or_atomic(mnemonic);
        match report.mmu_on {
            None => {
                if hit {
                    report.before.push((pc, mnemonic.to_owned()));
                }
                if mnemonic == "msr" && operands.starts_with("sctlr_el1") {
                    report.mmu_on = Some(pc);
                }
            }
            Some(_) if hit => report.after.push((pc, mnemonic.to_owned())),
            Some(_) => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_exclusives_and_atomics() {
        for m in [
            "ldxr", "ldaxr", "stxr", "stlxr", "ldaxrb", "stxrb", "stlxrh", "ldxp", "stlxp", "cas",
            "casal", "casb", "caspal", "swp", "swpal", "swplb", "ldadd", "ldaddal", "ldaddalh",
            "ldset", "ldclral", "ldumax", "stadd", "staddl", "stsetb",
        ] {
            assert!(is_exclusive_or_atomic(m), "{m}");
        }
        for m in [
            "ldr", "ldar", "stlr", "ldrb", "str", "stp", "ldp", "add", "msr", "ldapr", "stlrb",
            "ldxxr", "cast",
        ] {
            assert!(!is_exclusive_or_atomic(m), "{m}");
        }
    }

    #[test]
    fn splits_the_log_at_the_first_sctlr_write() {
        let log = "\
IN:
0x40000000:  c85f7c00  ldxr     x0, [x0]
0x80000000:  aa0003f3  mov      x19, x0
0x80000004:  c8dffc00  ldar     x0, [x0]
0x80000008:  d518100a  msr      sctlr_el1, x10
0x8000000c:  c85f7c00  ldxr     x0, [x0]
";
        let report = check_in_asm_log(log, 0x8000_0000..0x8200_0000);
        assert_eq!(report.mmu_on, Some(0x8000_0008));
        assert!(report.before.is_empty());
        assert_eq!(report.after, [(0x8000_000c, "ldxr".to_owned())]);

        let early = "0x80000000:  c85f7c00  ldaxr    x0, [x0]\n0x80000004:  d518100a  msr      sctlr_el1, x10\n";
        let report = check_in_asm_log(early, 0x8000_0000..0x8200_0000);
        assert_eq!(report.before, [(0x8000_0000, "ldaxr".to_owned())]);
    }
}
