//! Local files the tools may read and write: only under the allowed roots
//! (`HEALTHIMAGING_MCP_FILE_ROOTS`, os.pathsep-separated; the CLI's `--file-root DIR` sets it;
//! default the working directory). A relative path is taken relative to the first root. Every
//! path is canonicalized before it is checked, so `..` and symbolic links are judged by where
//! they really lead; anything outside every root is a validation error. Files are opened without
//! following a symlink in the last component and checked again after opening (the opened file
//! must be the one the checked path names), so a symlink swapped in between check and use is
//! refused too.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::engine::{env, EngineError, EngineResult, ErrorType};

pub const ROOTS_ENV: &str = "HEALTHIMAGING_MCP_FILE_ROOTS";

/// The allowed roots, canonical, in the order given.
#[derive(Debug, Clone)]
pub struct Roots {
    roots: Vec<PathBuf>,
}

fn refused(path: &Path, why: &str) -> EngineError {
    EngineError::new(
        ErrorType::Validation,
        format!(
            "{}: {why}; files are read and written only under the allowed roots (--file-root / {ROOTS_ENV})",
            path.display()
        ),
    )
}

fn io_error(path: &Path, e: &io::Error) -> EngineError {
    let kind = if e.kind() == io::ErrorKind::NotFound {
        ErrorType::Validation
    } else {
        ErrorType::Server
    };
    EngineError::new(kind, format!("{}: {e}", path.display()))
}

impl Roots {
    /// The roots from the environment (read at each call, so a notebook may change them).
    pub fn from_env() -> EngineResult<Self> {
        let cwd = std::env::current_dir()
            .map_err(|e| EngineError::server(format!("no working directory: {e}")))?;
        let given: Vec<PathBuf> = match env::var(ROOTS_ENV) {
            Some(v) => std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => vec![cwd.clone()],
        };
        Self::new(given.iter().map(|p| cwd.join(p)))
    }

    pub fn new(paths: impl IntoIterator<Item = PathBuf>) -> EngineResult<Self> {
        let mut roots = Vec::new();
        for p in paths {
            let real = p.canonicalize().map_err(|e| {
                EngineError::new(
                    ErrorType::Validation,
                    format!("file root {} is not usable: {e}", p.display()),
                )
            })?;
            if !real.is_dir() {
                return Err(EngineError::new(
                    ErrorType::Validation,
                    format!("file root {} is not a folder", p.display()),
                ));
            }
            roots.push(real);
        }
        if roots.is_empty() {
            return Err(EngineError::new(
                ErrorType::Validation,
                format!("{ROOTS_ENV} names no folder"),
            ));
        }
        Ok(Self { roots })
    }

    pub fn list(&self) -> &[PathBuf] {
        &self.roots
    }

    fn absolute(&self, path: &str) -> EngineResult<PathBuf> {
        if path.is_empty() || path.contains('\0') {
            return Err(EngineError::new(
                ErrorType::Validation,
                "a path must be a non-empty string",
            ));
        }
        Ok(self.roots[0].join(path))
    }

    fn contains(&self, real: &Path) -> bool {
        self.roots.iter().any(|r| real.starts_with(r))
    }

    fn check(&self, asked: &Path, real: PathBuf) -> EngineResult<PathBuf> {
        if self.contains(&real) {
            Ok(real)
        } else {
            Err(refused(asked, "outside the allowed file roots"))
        }
    }

    /// An existing file or folder, canonical and inside a root.
    pub fn existing(&self, path: &str) -> EngineResult<PathBuf> {
        let asked = self.absolute(path)?;
        let real = asked.canonicalize().map_err(|e| io_error(&asked, &e))?;
        self.check(&asked, real)
    }

    /// A folder to write into, created if missing, canonical and inside a root. The part that
    /// does not exist yet must be plain names (no `..`).
    pub fn folder_for_writing(&self, path: &str) -> EngineResult<PathBuf> {
        let asked = self.absolute(path)?;
        // The longest existing ancestor decides where the rest lands.
        let mut existing = asked.clone();
        let mut missing = Vec::new();
        while std::fs::symlink_metadata(&existing).is_err() {
            match (existing.file_name(), existing.parent()) {
                (Some(name), Some(parent)) => {
                    missing.push(name.to_owned());
                    existing = parent.to_path_buf();
                }
                _ => return Err(refused(&asked, "no existing folder above it")),
            }
        }
        let base = existing
            .canonicalize()
            .map_err(|e| io_error(&existing, &e))?;
        let mut real = self.check(&asked, base)?;
        if asked
            .components()
            .any(|c| matches!(c, Component::ParentDir))
            && !missing.is_empty()
        {
            return Err(refused(&asked, "'..' in a folder that does not exist yet"));
        }
        for name in missing.iter().rev() {
            real.push(name);
            match std::fs::create_dir(&real) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&real, &e)),
            }
        }
        let again = real.canonicalize().map_err(|e| io_error(&real, &e))?;
        if again != real || !again.is_dir() {
            return Err(refused(&asked, "not a plain folder (a symbolic link?)"));
        }
        self.check(&asked, again)
    }

    /// Opens an existing file inside a root for reading.
    pub fn open_read(&self, real: &Path) -> EngineResult<File> {
        let mut options = OpenOptions::new();
        options.read(true);
        self.open_checked(real, &options)
    }

    /// Creates (or truncates) `name` inside `folder` (a folder from `folder_for_writing`); the
    /// path below the folder must be plain names. Intermediate folders are created.
    pub fn create(&self, folder: &Path, relative: &[&str]) -> EngineResult<(PathBuf, File)> {
        let mut path = folder.to_path_buf();
        for (i, part) in relative.iter().enumerate() {
            if !is_plain_name(part) {
                return Err(EngineError::new(
                    ErrorType::Validation,
                    format!("{part:?} is not a plain file name"),
                ));
            }
            path.push(part);
            if i + 1 < relative.len() {
                match std::fs::create_dir(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_error(&path, &e)),
                }
            }
        }
        // The folder above the file must still be what it was: real and inside a root.
        if let Some(parent) = path.parent() {
            let real = parent.canonicalize().map_err(|e| io_error(parent, &e))?;
            if real != parent || !self.contains(&real) {
                return Err(refused(&path, "reaches outside through a symbolic link"));
            }
        }
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let file = self.open_checked(&path, &options)?;
        Ok((path, file))
    }

    fn open_checked(&self, real: &Path, options: &OpenOptions) -> EngineResult<File> {
        let mut options = options.clone();
        no_follow(&mut options);
        let file = options.open(real).map_err(|e| {
            if is_symlink_refusal(&e) {
                refused(real, "is a symbolic link")
            } else {
                io_error(real, &e)
            }
        })?;
        // Re-check after opening: the path still resolves to itself, inside a root, and names
        // the very file that was opened.
        let again = real.canonicalize().map_err(|e| io_error(real, &e))?;
        if again != real || !self.contains(&again) || !same_file(&file, &again) {
            return Err(refused(real, "changed while it was being opened"));
        }
        Ok(file)
    }
}

/// A name that stays in its folder.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut OpenOptions) {}

#[cfg(unix)]
fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_symlink_refusal(_e: &io::Error) -> bool {
    false
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.dcm"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"s").unwrap();
        symlink(dir.path().join("secret"), root.join("out_link")).unwrap();
        symlink(dir.path(), root.join("out_dir")).unwrap();
        symlink(root.join("sub/a.dcm"), root.join("in_link")).unwrap();
        let roots = Roots::new([root]).unwrap();
        (dir, roots)
    }

    fn refused(r: EngineResult<impl std::fmt::Debug>) {
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorType::Validation, "{e:?}");
    }

    #[test]
    fn inside_paths_resolve() {
        let (_d, roots) = setup();
        let p = roots.existing("sub/a.dcm").unwrap();
        assert!(p.ends_with("root/sub/a.dcm"));
        roots.open_read(&p).unwrap();
        // A symlink that stays inside resolves to its target, which is allowed.
        assert_eq!(roots.existing("in_link").unwrap(), p);
        let abs = roots.list()[0].join("sub").display().to_string();
        assert!(roots.existing(&abs).is_ok());
    }

    #[test]
    fn every_escape_is_refused() {
        let (d, roots) = setup();
        refused(roots.existing("../secret"));
        refused(roots.existing("sub/../../secret"));
        refused(roots.existing(&d.path().join("secret").display().to_string()));
        refused(roots.existing("/etc/passwd"));
        refused(roots.existing("out_link"));
        refused(roots.existing("out_dir/secret"));
        refused(roots.folder_for_writing("../elsewhere"));
        refused(roots.folder_for_writing("out_dir/new"));
        refused(roots.folder_for_writing("new/../../x"));
        refused(roots.existing(""));
        // Opening the symlink itself (as if swapped in after the check) is refused.
        refused(roots.open_read(&roots.list()[0].join("in_link")));
        assert!(!d.path().join("elsewhere").exists());
        assert!(!d.path().join("new").exists());
    }

    #[test]
    fn writing_creates_folders_and_refuses_swapped_links() {
        let (d, roots) = setup();
        let folder = roots.folder_for_writing("out/put").unwrap();
        assert!(folder.is_dir());
        let (path, _f) = roots.create(&folder, &["1.2", "3.4", "5.dcm"]).unwrap();
        assert!(path.ends_with("out/put/1.2/3.4/5.dcm"));
        refused(roots.create(&folder, &["..", "x.dcm"]));
        // A folder swapped for a link pointing outside after the check.
        std::fs::remove_dir_all(folder.join("1.2")).unwrap();
        symlink(d.path(), folder.join("1.2")).unwrap();
        refused(roots.create(&folder, &["1.2", "x.dcm"]));
        assert!(!d.path().join("x.dcm").exists());
        // A file swapped for a link to a file outside.
        symlink(d.path().join("secret"), folder.join("evil.dcm")).unwrap();
        refused(roots.create(&folder, &["evil.dcm"]));
        assert_eq!(std::fs::read(d.path().join("secret")).unwrap(), b"s");
    }
}
