//! The test data the workspace's tests read in place: the real attestation tokens and the
//! TF-RMM v0.8.0 vectors in `../shared/testdata`, next to the repository (veraison's samples
//! and captures from the reference RMM; too large and not ours to check in).
//!
//! `REALM_SDK_TESTDATA` names another folder of the same layout.
//!
//! When a file is absent a test cannot check what it is for. Locally it skips and says so
//! on stderr, naming the path. In CI, when the environment variable `CI` is set (`.ci/run`
//! sets it, as CI services do), the test fails with that path instead: a suite in which
//! every test of the real data skipped would otherwise pass having checked nothing.
//!
//! ```no_run
//! // In a test:
//! let Some(token) = testdata::read("veraison/cca-token-01.cbor") else {
//!     return; // skipped locally (the reason is printed); in CI `read` panicked
//! };
//! # let _ = token;
//! ```
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The environment variable that names the test-data folder instead of `../shared/testdata`.
pub const ENV: &str = "REALM_SDK_TESTDATA";

/// The test-data folder: `REALM_SDK_TESTDATA`, or `../shared/testdata` from the repository's
/// root. It may not exist.
#[must_use]
pub fn root() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"),
    }
}

/// Whether the tests run in CI: the environment variable `CI` is set and is not empty,
/// `false` or `0`. There, what a test needs must be present.
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"))
}

/// Reports a missing input: prints why the test skips, or, in CI, fails the test.
///
/// # Panics
///
/// In CI ([`in_ci`]), always, with `missing` in the message.
pub fn skip(missing: &Path) {
    assert!(
        !in_ci(),
        "test data {} is absent, and in CI (CI is set) missing test data fails the test \
         instead of skipping it: provide ../shared/testdata next to the repository, or set \
         {ENV} to its path",
        missing.display()
    );
    eprintln!(
        "skipped: test data {} is absent (../shared/testdata, or {ENV})",
        missing.display()
    );
}

/// The path of `rel` (a file or folder in the test data), if it exists; otherwise
/// [`skip`]s and returns `None`.
///
/// # Panics
///
/// In CI, when `rel` does not exist.
#[must_use]
pub fn path(rel: &str) -> Option<PathBuf> {
    let path = root().join(rel);
    if path.exists() {
        Some(path)
    } else {
        skip(&path);
        None
    }
}

/// The bytes of the file `rel`; `None` (after [`skip`]) if it cannot be read.
///
/// # Panics
///
/// In CI, when the file cannot be read.
#[must_use]
pub fn read(rel: &str) -> Option<Vec<u8>> {
    let path = root().join(rel);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            skip(&path);
            None
        }
    }
}

/// The text of the file `rel`; `None` (after [`skip`]) if it cannot be read.
///
/// # Panics
///
/// In CI, when the file cannot be read; anywhere, when it is not UTF-8.
#[must_use]
pub fn read_to_string(rel: &str) -> Option<String> {
    let bytes = read(rel)?;
    Some(String::from_utf8(bytes).unwrap_or_else(|_| panic!("test data {rel} is not UTF-8")))
}
