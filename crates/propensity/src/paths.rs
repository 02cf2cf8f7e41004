//! Finding the project's `data/` folder from a notebook, the CLI or a test.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The environment variable that overrides where `data/` is.
pub const DATA_ENV: &str = "PROPENSITY_DATA";

/// The `data/` folder: `$PROPENSITY_DATA` if set; else the first `data/` holding a `README.md`
/// in the current directory or one of its parents (a notebook's kernel runs in `notebooks/`);
/// else the checkout this crate was built from.
///
/// ```
/// let dir = propensity::paths::data_dir().unwrap();
/// assert!(dir.join("Audiobooks_data.csv").is_file());
/// ```
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    cwd.ancestors()
        .chain(std::iter::once(built_from.as_path()))
        .map(|p| p.join("data"))
        .find(|d| d.join("README.md").is_file())
        .ok_or_else(|| Error::Format {
            file: cwd,
            message: format!("no data/ folder with a README.md here or above; set {DATA_ENV}"),
        })
}

/// A file inside [`data_dir`], which must exist.
///
/// ```
/// let f = propensity::paths::data_file("Audiobooks_data.csv").unwrap();
/// assert!(f.ends_with("data/Audiobooks_data.csv"));
/// ```
pub fn data_file(name: &str) -> Result<PathBuf> {
    let path = data_dir()?.join(name);
    if !path.is_file() {
        return Err(Error::io(&path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such data file")));
    }
    Ok(path)
}

/// `out/<name>` beside the [`data_dir`] (created if needed): where notebooks and the CLI put
/// what they generate (splits, histories, plots). `out/` is git-ignored.
///
/// ```
/// let dir = propensity::paths::output_dir("doc-test").unwrap();
/// assert!(dir.is_dir() && dir.ends_with("out/doc-test"));
/// ```
pub fn output_dir(name: &str) -> Result<PathBuf> {
    let data = data_dir()?;
    let root = data.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let dir = root.join("out").join(name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

/// `path` as a reader should see it: relative to the repository (the folder holding
/// [`data_dir`]), e.g. `out/retail/data`, or whole when it lies elsewhere. Notebooks print this
/// instead of a machine's absolute path.
///
/// ```
/// let dir = propensity::paths::output_dir("doc-test").unwrap();
/// assert_eq!(propensity::paths::relative(&dir.join("x.csv")), "out/doc-test/x.csv");
/// assert_eq!(propensity::paths::relative(std::path::Path::new("/elsewhere/y.csv")), "/elsewhere/y.csv");
/// ```
pub fn relative(path: &Path) -> String {
    let root = data_dir().ok().and_then(|d| d.parent().map(Path::to_path_buf));
    match root.as_deref().and_then(|r| path.strip_prefix(r).ok()) {
        Some(rel) => rel.display().to_string(),
        None => path.display().to_string(),
    }
}

/// The default run log, `runs/runs.jsonl` beside the [`data_dir`] (git-ignored).
///
/// ```
/// assert!(propensity::paths::runs_file().unwrap().ends_with("runs/runs.jsonl"));
/// ```
pub fn runs_file() -> Result<PathBuf> {
    let data = data_dir()?;
    let root = data.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(root.join("runs").join("runs.jsonl"))
}
