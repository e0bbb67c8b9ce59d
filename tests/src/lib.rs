//! Helpers for the end-to-end tests in `tests/`: running payloads on QEMU and comparing
//! their output with the checked-in expectations in `expected/`.

use std::path::PathBuf;

/// Says why a test is skipped (shown with `--nocapture`; `.ci/run` also prints the reason
/// for the tests that need the user's firmware).
pub fn skip(test: &str, reason: &str) {
    eprintln!("{test}: skipped: {reason}");
}

/// Returns whether QEMU tests must run: QEMU is present, or we are in CI (where its absence
/// is a failure, never a silent skip). Prints the reason when they are skipped.
#[must_use]
pub fn qemu_or_skip(test: &str) -> bool {
    if xtask::Qemu::available() {
        return true;
    }
    assert!(
        !testdata::in_ci(),
        "{test}: qemu-system-aarch64 is missing in CI (.ci/run installs it)"
    );
    skip(
        test,
        "qemu-system-aarch64 not found (apt-get install qemu-system-arm)",
    );
    false
}

/// Reads `expected/<name>` from this crate.
#[must_use]
pub fn expected(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("expected")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares `output` with `expected` line by line. In the expectation, `{hex32}` stands for
/// 32 bytes of lower-case hex (a SHA-256 digest), `{hex}` for a `0x`-prefixed hex number
/// (an address), `{bytes}` for any number of bytes in lower-case hex and `{number}` for a
/// decimal number; every other character must match exactly. Returns the values the placeholders matched, in
/// order, or a description of the first difference.
pub fn match_output(expected: &str, output: &str) -> Result<Vec<String>, String> {
    let out: Vec<&str> = output.lines().collect();
    let exp: Vec<&str> = expected.lines().collect();
    let mut captures = Vec::new();
    for (i, e) in exp.iter().enumerate() {
        let Some(o) = out.get(i) else {
            return Err(format!("output ends before expected line {}: {e}", i + 1));
        };
        match_line(e, o, &mut captures)
            .map_err(|why| format!("line {}: {why}\n  expected: {e}\n  got:      {o}", i + 1))?;
    }
    if out.len() > exp.len() {
        return Err(format!(
            "unexpected extra output from line {}: {}",
            exp.len() + 1,
            out[exp.len()]
        ));
    }
    Ok(captures)
}

fn match_line(pattern: &str, line: &str, captures: &mut Vec<String>) -> Result<(), String> {
    let mut rest = line;
    let mut pat = pattern;
    while !pat.is_empty() {
        if let Some(p) = pat.strip_prefix("{hex32}") {
            let hex: String = rest
                .chars()
                .take_while(|c| matches!(c, '0'..='9' | 'a'..='f'))
                .collect();
            if hex.len() != 64 {
                return Err(format!("expected 64 hex digits at `{rest}`"));
            }
            rest = &rest[64..];
            captures.push(hex);
            pat = p;
        } else if let Some(p) = pat.strip_prefix("{bytes}") {
            let n = rest
                .chars()
                .take_while(|c| matches!(c, '0'..='9' | 'a'..='f'))
                .count();
            if n == 0 || n % 2 != 0 {
                return Err(format!("expected hex bytes at `{rest}`"));
            }
            captures.push(rest[..n].to_owned());
            rest = &rest[n..];
            pat = p;
        } else if let Some(p) = pat.strip_prefix("{hex}") {
            let digits = rest
                .strip_prefix("0x")
                .ok_or_else(|| format!("expected 0x at `{rest}`"))?;
            let n: String = digits.chars().take_while(char::is_ascii_hexdigit).collect();
            if n.is_empty() {
                return Err(format!("expected hex digits at `{rest}`"));
            }
            rest = &digits[n.len()..];
            captures.push(format!("0x{n}"));
            pat = p;
        } else if let Some(p) = pat.strip_prefix("{number}") {
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if n.is_empty() {
                return Err(format!("expected a number at `{rest}`"));
            }
            rest = &rest[n.len()..];
            captures.push(n);
            pat = p;
        } else {
            let c = pat.chars().next().expect("non-empty");
            rest = rest
                .strip_prefix(c)
                .ok_or_else(|| format!("differs at `{rest}`"))?;
            pat = &pat[c.len_utf8()..];
        }
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("trailing `{rest}`"))
    }
}

/// Bytes from lower-case or upper-case hex; panics on anything else (test input).
#[must_use]
pub fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length: {hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Asserts that the event log `log_hex` a realm printed replays to the REMs in the token
/// of the key broker `request` it sent (`realm_sdk::broker::Request`).
///
/// # Panics
///
/// If the log, the request or the token is malformed, or a REM differs.
pub fn assert_log_replays_to_token(log_hex: &str, request: &[u8]) {
    let request = realm_sdk::broker::Request::decode(request).expect("request decodes");
    let token = cca_token::Token::parse(request.token).expect("token parses");
    let claims = &token.realm_claims;
    let algorithm = match claims.hash_algorithm {
        "sha-512" => cca_abi::measurement::HashAlgorithm::Sha512,
        _ => cca_abi::measurement::HashAlgorithm::Sha256,
    };
    if let Err(e) = cca_abi::eventlog::check(&unhex(log_hex), algorithm, claims.rems()) {
        panic!("the realm's event log against its token: {e}");
    }
}

/// Checks an attested-inference story (`xtask::inference::demo`) as every platform must end
/// it: each of its 12 checks passed (outputs, verification, 8 evidence and 2 disk tamper
/// cases), and the report holds 450 inferences in 9 batches whose outputs equal the training
/// script's reference bit for bit. Returns the parsed report. `test` names the test in the
/// failure messages.
///
/// # Panics
///
/// When the story does not hold: this is a test assertion.
pub fn assert_inference_story(
    test: &str,
    story: &xtask::inference::Story,
) -> xtask::inference::Report {
    use xtask::inference::{OUTPUTS, parse_report};
    for c in &story.checks {
        assert!(
            c.outcome.is_ok(),
            "{test}: {}: {:?}\n--- output ---\n{}",
            c.what,
            c.outcome,
            story.output
        );
    }
    assert_eq!(story.checks.len(), 12, "{test}: {:#?}", story.checks);
    let report = parse_report(&story.output).expect("the report parses");
    let outputs: Vec<u8> = report
        .batches
        .iter()
        .flat_map(|b| b.outputs.clone())
        .collect();
    assert_eq!(outputs, OUTPUTS, "{test}: the realm's outputs, bit for bit");
    assert_eq!(
        report.batches.len(),
        9,
        "{test}: 450 inputs in batches of 50"
    );
    assert_eq!(report.inferences, 450, "{test}");
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_capture_and_literals_must_match() {
        assert_eq!(
            match_output("at {hex}.", "at 0x8000abc.").unwrap(),
            vec!["0x8000abc"]
        );
        assert!(match_output("at {hex}.", "at 8000abc.").is_err());
        assert_eq!(match_output("k {bytes}.", "k 00ff.").unwrap(), vec!["00ff"]);
        assert!(match_output("k {bytes}.", "k 0ff.").is_err());
        assert!(match_output("k {bytes}.", "k .").is_err());
        let exp = "a {number} bytes\nRIM {hex32}\n";
        let h = "ab".repeat(32);
        let caps = match_output(exp, &format!("a 12 bytes\nRIM {h}\n")).unwrap();
        assert_eq!(caps, vec!["12".to_string(), h.clone()]);
        assert!(match_output(exp, &format!("a 12 bytes\nRIM {h}x\n")).is_err());
        assert!(match_output(exp, "a 12 bytes\n").is_err());
        assert!(match_output(exp, &format!("a 12 bytes\nRIM {h}\nmore\n")).is_err());
        assert!(match_output(exp, &format!("b 12 bytes\nRIM {h}\n")).is_err());
        assert!(match_output(exp, &format!("a x bytes\nRIM {h}\n")).is_err());
    }
}
