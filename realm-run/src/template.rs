//! A payload project of one's own: `realm-run new DIR` writes the template in this crate's
//! `template/` folder (a `Cargo.toml` depending on realm-sdk and realm-build in a checkout,
//! a `build.rs`, `src/main.rs`, `.cargo/config.toml` naming `realm-run` as the runner, and
//! the toolchain file), with `{{project-name}}` and `{{sdk-dir}}` filled in.

use std::fmt;
use std::path::{Path, PathBuf};

/// The template's files: path in the project, contents with placeholders.
pub const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../template/Cargo.toml")),
    ("build.rs", include_str!("../template/build.rs")),
    ("src/main.rs", include_str!("../template/src/main.rs")),
    (
        ".cargo/config.toml",
        include_str!("../template/.cargo/config.toml"),
    ),
    (
        "rust-toolchain.toml",
        include_str!("../template/rust-toolchain.toml"),
    ),
    (".gitignore", "/target\n"),
];

/// Why a project could not be made.
#[derive(Debug)]
pub enum Error {
    /// The folder exists and is not empty.
    NotEmpty(PathBuf),
    /// The name is not a package name cargo accepts.
    BadName(String),
    /// The SDK's path cannot go into `Cargo.toml` (it is not UTF-8).
    SdkPath(PathBuf),
    /// A file or folder could not be written.
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEmpty(dir) => write!(
                f,
                "{} already exists and is not empty; name a new folder",
                dir.display()
            ),
            Self::BadName(name) => write!(
                f,
                "`{name}` is not a package name: use ASCII letters, digits, `-` and `_`, starting with a letter (--name NAME)"
            ),
            Self::SdkPath(dir) => write!(f, "{}: the path is not UTF-8", dir.display()),
            Self::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// Whether `name` is a package name cargo accepts for a new binary.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The template's `text` with the project's `name` and the SDK checkout `sdk` filled in.
#[must_use]
pub fn fill(text: &str, name: &str, sdk: &str) -> String {
    // A TOML basic string: backslashes and quotes escaped.
    let sdk = sdk.replace('\\', "\\\\").replace('"', "\\\"");
    text.replace("{{project-name}}", name)
        .replace("{{sdk-dir}}", &sdk)
}

/// Writes the project `name` into the folder `dir` (made if missing, and otherwise empty),
/// depending on the realm-sdk checkout at `sdk`.
///
/// # Errors
///
/// The folder is not empty, the name is not a package name, the SDK's path is not UTF-8, or
/// a file cannot be written.
pub fn create(dir: &Path, name: &str, sdk: &Path) -> Result<(), Error> {
    if !valid_name(name) {
        return Err(Error::BadName(name.to_owned()));
    }
    let sdk_str = sdk.to_str().ok_or_else(|| Error::SdkPath(sdk.to_owned()))?;
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(Error::NotEmpty(dir.to_owned()));
    }
    for (path, text) in FILES {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::Io(parent.to_owned(), e))?;
        }
        std::fs::write(&file, fill(text, name, sdk_str)).map_err(|e| Error::Io(file, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_placeholders() {
        assert!(valid_name("my-realm_2"));
        for bad in ["", "2x", "-x", "a b", "a.b", "ä"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(
            fill(
                "n = \"{{project-name}}\" p = \"{{sdk-dir}}/x\"",
                "r",
                "C:\\a\"b"
            ),
            "n = \"r\" p = \"C:\\\\a\\\"b/x\""
        );
        // The template's toolchain is the workspace's: the payload builds with what CI tests.
        assert_eq!(
            include_str!("../template/rust-toolchain.toml"),
            include_str!("../../rust-toolchain.toml")
        );
        for (path, text) in FILES {
            let filled = fill(text, "r", "/sdk");
            assert!(!filled.contains("{{"), "{path} keeps a placeholder");
        }
    }
}
