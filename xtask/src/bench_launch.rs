//! `cargo xtask bench-launch DIR [NAME]`: how long a realm takes from power-on to its end on
//! TF-A + TF-RMM under QEMU, phase by phase, with on-demand population against the eager
//! builder as the baseline in the same run.
//!
//! Each run boots the whole stack (QEMU, TF-A, TF-RMM, rmi-host as BL33) and timestamps the
//! lines QEMU prints, from the moment QEMU is started. Phases, each measured from power-on:
//!
//! | Phase | Line |
//! |---|---|
//! | BL33 | `rmi-host: BL33 at NS-EL2` |
//! | realm built | `rmi-host: realm built and activated, ...` |
//! | first realm output | the first line after that from the realm (not rmi-host's or the firmware's) |
//! | token verified | `attest: token verified inside the realm` (the `attest` payload only) |
//! | teardown done | `rmi-host: teardown undelegated all ...` |
//! | power off | QEMU exits |
//!
//! plus "teardown" alone (teardown done − realm stopped).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::{Error, Firmware, NoServices, TimedOutput, build_payload, run_timed, tf_rmm_qemu};

/// One configuration the benchmark runs.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Its name in the table.
    pub name: String,
    /// rmi-host's `REALM_PARAMS`.
    pub params: String,
    /// How many times to boot it.
    pub runs: usize,
}

/// The phases, in order, with the line that ends each.
const PHASES: [(&str, Marker); 7] = [
    ("BL33", Marker::Prefix("rmi-host: BL33 at NS-EL2")),
    (
        "realm built",
        Marker::Prefix("rmi-host: realm built and activated"),
    ),
    ("first realm output", Marker::FirstRealmLine),
    (
        "token verified",
        Marker::Prefix("attest: token verified inside the realm"),
    ),
    ("realm stopped", Marker::Prefix("rmi-host: realm stopped")),
    (
        "teardown done",
        Marker::Prefix("rmi-host: teardown undelegated all"),
    ),
    ("power off", Marker::Exit),
];

#[derive(Clone, Copy)]
enum Marker {
    Prefix(&'static str),
    FirstRealmLine,
    Exit,
}

/// Whether `line` is the firmware's or rmi-host's rather than the realm's.
fn not_the_realm(line: &str) -> bool {
    const FIRMWARE: [&str; 7] = [
        "rmi-host:",
        "SMC_",
        "NOTICE:",
        "INFO:",
        "WARNING:",
        "ERROR:",
        "VERBOSE:",
    ];
    line.trim().is_empty() || FIRMWARE.iter().any(|p| line.starts_with(p))
}

/// When each phase ended in one run (`None`: its line never came).
fn phases(out: &TimedOutput) -> [Option<Duration>; PHASES.len() + 1] {
    let mut at = [None; PHASES.len() + 1];
    let find = |prefix: &str| {
        out.lines
            .iter()
            .find(|(_, l)| l.starts_with(prefix))
            .map(|(t, _)| *t)
    };
    for (i, (_, marker)) in PHASES.iter().enumerate() {
        at[i] = match marker {
            Marker::Prefix(p) => find(p),
            Marker::Exit => Some(out.exited),
            Marker::FirstRealmLine => {
                let built = out
                    .lines
                    .iter()
                    .position(|(_, l)| l.starts_with("rmi-host: realm built"));
                built.and_then(|b| {
                    out.lines[b + 1..]
                        .iter()
                        .find(|(_, l)| !not_the_realm(l))
                        .map(|(t, _)| *t)
                })
            }
        };
    }
    // Teardown alone: from "realm stopped" to "teardown done".
    let phase = |name: &str| {
        PHASES
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| at[i])
    };
    at[PHASES.len()] = match (phase("realm stopped"), phase("teardown done")) {
        (Some(stop), Some(done)) => done.checked_sub(stop),
        _ => None,
    };
    at
}

/// Min, median and max of the values present.
fn stats(values: &mut [Duration]) -> Option<(Duration, Duration, Duration)> {
    values.sort();
    let n = values.len();
    (n > 0).then(|| (values[0], values[n / 2], values[n - 1]))
}

/// The numbers a run printed that the table reports beside the times.
fn counts(out: &TimedOutput) -> (Option<usize>, Option<usize>) {
    let number = |prefix: &str, suffix: &str| {
        out.lines.iter().find_map(|(_, l)| {
            l.strip_prefix(prefix)?
                .split(suffix)
                .next()?
                .trim()
                .parse()
                .ok()
        })
    };
    (
        number("rmi-host: realm built and activated, ", " granules"),
        number("rmi-host: ", " pages of RAM populated"),
    )
}

/// Runs every variant of payload `name` on `firmware` and returns the table.
///
/// # Errors
///
/// A build failure, or a run that times out or does not end with the realm switched off
/// and everything undelegated.
pub fn bench(firmware: &Firmware, name: &str, variants: &[Variant]) -> Result<String, Error> {
    let (image, _) = build_payload(name)?;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "payload {name}; seconds from QEMU start (min / median / max over the runs)\n"
    );
    let _ = write!(table, "| phase |");
    for v in variants {
        let _ = write!(table, " {} ({} runs) |", v.name, v.runs);
    }
    let _ = write!(table, "\n|---|");
    for _ in variants {
        let _ = write!(table, "---|");
    }
    table.push('\n');
    let mut columns = Vec::new();
    for v in variants {
        let qemu_for = || tf_rmm_qemu(firmware, Path::new(&image), [0, 0], &v.params);
        let mut runs = Vec::new();
        for i in 0..v.runs {
            eprintln!("bench-launch: {} run {}/{}", v.name, i + 1, v.runs);
            let out = run_timed(qemu_for()?, Duration::from_secs(1800), &mut NoServices)?;
            let text = out.text();
            if let Err(e) = crate::check_realm_end(&text) {
                return Err(Error::Build(format!("{}: {e}", v.name)));
            }
            if !text.contains("0 still out of the pool") {
                return Err(Error::Build(format!("{}: teardown left granules", v.name)));
            }
            runs.push(out);
        }
        columns.push(runs);
    }
    let names: Vec<&str> = PHASES
        .iter()
        .map(|(n, _)| *n)
        .chain(["teardown alone"])
        .collect();
    for (row, phase) in names.iter().enumerate() {
        let mut cells = Vec::new();
        for runs in &columns {
            let mut values: Vec<Duration> = runs.iter().filter_map(|o| phases(o)[row]).collect();
            cells.push(match stats(&mut values) {
                Some((lo, mid, hi)) => format!(
                    "{:.2} / **{:.2}** / {:.2}",
                    lo.as_secs_f64(),
                    mid.as_secs_f64(),
                    hi.as_secs_f64()
                ),
                None => "–".into(),
            });
        }
        let _ = writeln!(table, "| {phase} | {} |", cells.join(" | "));
    }
    let mut built = Vec::new();
    let mut populated = Vec::new();
    for runs in &columns {
        let (b, p) = runs.first().map(counts).unwrap_or_default();
        built.push(b.map_or("–".into(), |n| n.to_string()));
        populated.push(p.map_or("–".into(), |n| n.to_string()));
    }
    let _ = writeln!(
        table,
        "| granules delegated at activation | {} |",
        built.join(" | ")
    );
    let _ = writeln!(
        table,
        "| pages populated on demand | {} |",
        populated.join(" | ")
    );
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(lines: &[(u64, &str)], exited: u64) -> TimedOutput {
        TimedOutput {
            lines: lines
                .iter()
                .map(|&(ms, l)| (Duration::from_millis(ms), l.to_string()))
                .collect(),
            exited: Duration::from_millis(exited),
        }
    }

    /// Each phase ends at the line that marks it; the realm's first line is the first after
    /// "built" that neither rmi-host nor the firmware printed.
    #[test]
    fn phases_come_from_the_marking_lines() {
        let out = timed(
            &[
                (10, "NOTICE:  Booting Trusted Firmware"),
                (600, "rmi-host: BL33 at NS-EL2"),
                (
                    700,
                    "rmi-host: realm built and activated, 62 granules delegated",
                ),
                (701, "SMC_RMI_REC_ENTER 1 2 > RMI_SUCCESS"),
                (750, "attest: token of 1234 bytes"),
                (900, "attest: token verified inside the realm"),
                (910, "rmi-host: realm stopped: PSCI SYSTEM_OFF"),
                (
                    911,
                    "rmi-host: 9 pages of RAM populated on the realm's demand",
                ),
                (
                    950,
                    "rmi-host: teardown undelegated all 71 granules; 0 still out of the pool",
                ),
            ],
            1000,
        );
        let ms = |v: Option<Duration>| v.map(|d| d.as_millis());
        let p = phases(&out);
        assert_eq!(
            p.map(ms),
            [
                Some(600),
                Some(700),
                Some(750),
                Some(900),
                Some(910),
                Some(950),
                Some(1000),
                Some(40)
            ]
        );
        assert_eq!(counts(&out), (Some(62), Some(9)));
        let mut v = vec![
            Duration::from_millis(3),
            Duration::from_millis(1),
            Duration::from_millis(2),
        ];
        assert_eq!(
            stats(&mut v),
            Some((
                Duration::from_millis(1),
                Duration::from_millis(2),
                Duration::from_millis(3)
            ))
        );
    }
}
