//! The folder standing in for S3: `s3://bucket/key` is `<root>/bucket/key`.
//!
//! S3 keys are literal object names, so only keys made of plain names map to files: a key with a
//! `.` or `..` segment, an empty segment (`a//b`) or a leading `/` is refused. Nothing is reached
//! through a symbolic link (file or folder, pointing inside the root or out of it): listings skip
//! them, and every path is checked against the canonical root before it is read or written, so no
//! request can read, write or name a host file outside the root.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{ApiError, ApiResult};

/// A parsed `s3://bucket/key` whose key segments are plain names (the last one may be empty: a
/// prefix ending in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

const KEY_RULE: &str = "Member must be an S3 URI whose key has no '.', '..' or empty segments \
     and does not start with '/' (the local HealthImaging maps keys to files)";

impl S3Uri {
    /// Parses a URI already checked against the model's S3Uri pattern; `member` names it in the
    /// ValidationException.
    pub fn parse(member: &str, uri: &str) -> ApiResult<Self> {
        let invalid = || ApiError::constraint(member, uri, KEY_RULE);
        let rest = uri.strip_prefix("s3://").ok_or_else(invalid)?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_name(bucket) || !key_is_literal(key) {
            return Err(invalid());
        }
        Ok(Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The key up to its last `/` (the folder a listing starts from) and the rest.
    fn folder_and_stem(&self) -> (&str, &str) {
        match self.key.rfind('/') {
            Some(i) => (&self.key[..i], &self.key[i + 1..]),
            None => ("", &self.key),
        }
    }
}

impl std::fmt::Display for S3Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// A single path component that names itself: not empty, not `.`/`..`, no NUL.
fn is_name(segment: &str) -> bool {
    !segment.is_empty() && segment != "." && segment != ".." && !segment.contains('\0')
}

/// Every segment is a plain name, except that the last may be empty (`prefix/`).
fn key_is_literal(key: &str) -> bool {
    if key.is_empty() {
        return true;
    }
    let segments: Vec<&str> = key.split('/').collect();
    let (last, folders) = segments.split_last().expect("split yields one segment");
    folders.iter().all(|s| is_name(s)) && (last.is_empty() || is_name(last))
}

fn not_followed() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "symbolic links are not followed in the S3 stand-in folder",
    )
}

fn not_an_object() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular object")
}

/// The S3 stand-in folder, by its canonical path.
pub struct S3Folder {
    root: PathBuf,
}

impl S3Folder {
    pub fn open(root: &Path) -> io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
        })
    }

    /// `<root>/bucket/segments…`, for names already checked by `is_name`.
    fn path_of<'a>(&self, bucket: &str, segments: impl IntoIterator<Item = &'a str>) -> PathBuf {
        let mut p = self.root.join(bucket);
        p.extend(segments);
        p
    }

    /// The path is exactly what resolving it gives: no symlink anywhere on the way, and inside
    /// the root (the path is built from the canonical root and plain names).
    fn check_contained(&self, path: &Path) -> io::Result<()> {
        let real = path.canonicalize()?;
        if real != path || !real.starts_with(&self.root) {
            return Err(not_followed());
        }
        Ok(())
    }

    /// The folder `bucket/folders`, if it exists as a real folder (not through a symlink).
    fn real_folder(&self, bucket: &str, folders: &str) -> io::Result<Option<PathBuf>> {
        let path = self.path_of(bucket, folders.split('/').filter(|s| !s.is_empty()));
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => self.check_contained(&path).map(|_| Some(path)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn bucket_exists(&self, bucket: &str) -> bool {
        is_name(bucket) && matches!(self.real_folder(bucket, ""), Ok(Some(_)))
    }

    /// Every object key under `uri` (its key is a prefix), sorted as S3 lists them, leaving out
    /// keys starting with `skip`. Symlinks are skipped, neither listed nor descended into.
    pub fn list(&self, uri: &S3Uri, skip: Option<&str>) -> io::Result<Vec<String>> {
        let (folder, _) = uri.folder_and_stem();
        let Some(start) = self.real_folder(&uri.bucket, folder)? else {
            return Ok(Vec::new());
        };
        let bucket_dir = self.path_of(&uri.bucket, []);
        let mut keys: Vec<String> = walkdir::WalkDir::new(&start)
            .follow_links(false)
            .follow_root_links(false)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| {
                let rel = e.path().strip_prefix(&bucket_dir).ok()?;
                let names: Option<Vec<&str>> =
                    rel.components().map(|c| c.as_os_str().to_str()).collect();
                Some(names?.join("/"))
            })
            .filter(|k| k.starts_with(&uri.key) && !skip.is_some_and(|s| k.starts_with(s)))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The object's bytes; refused if the key is not literal or the path holds a symlink.
    pub fn read(&self, bucket: &str, key: &str) -> io::Result<Vec<u8>> {
        let path = self.object_path(bucket, key)?;
        self.check_contained(&path)?;
        let mut file = open_no_follow(&path)?;
        if !file.metadata()?.is_file() {
            return Err(not_an_object());
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Writes an object, creating its folders as real folders (refusing to pass a symlink) and
    /// replacing the object by rename, so an existing symlink at the key is replaced, not followed.
    pub fn write(&self, bucket: &str, key: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.object_path(bucket, key)?;
        let mut folder = self.root.clone();
        let segments: Vec<&str> = std::iter::once(bucket).chain(key.split('/')).collect();
        let (name, folders) = segments.split_last().expect("bucket is a segment");
        for segment in folders {
            folder.push(segment);
            make_real_folder(&folder)?;
        }
        self.check_contained(&folder)?;
        let tmp = folder.join(format!(".{name}.{}.tmp", super::state::new_id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(bytes));
        match written.and_then(|_| std::fs::rename(&tmp, &path)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn object_path(&self, bucket: &str, key: &str) -> io::Result<PathBuf> {
        if !is_name(bucket) || !key.split('/').all(is_name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "S3 keys with '.', '..' or empty segments are not supported",
            ));
        }
        Ok(self.path_of(bucket, key.split('/')))
    }
}

/// Creates `path` as a folder, or accepts it if it is one already; a symlink or file there is
/// refused.
fn make_real_folder(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => Err(not_followed()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "an object of that name is in the way of the folder",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => make_real_folder(path),
            other => other,
        },
        Err(e) => Err(e),
    }
}

/// Opens for reading without following a symlink in the last component (the folders above were
/// checked by the caller).
fn open_no_follow(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(not_followed());
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_literal_names() {
        for ok in [
            "s3://bkt",
            "s3://bkt/",
            "s3://bkt/prefix/",
            "s3://bkt/a/b/IM0001.dcm",
            "s3://bkt/a/part",
            "s3://bkt/a..b/.hidden/",
        ] {
            assert!(S3Uri::parse("inputS3Uri", ok).is_ok(), "{ok}");
        }
        for bad in [
            "s3://bkt/../outside/",
            "s3://bkt/a/../../x",
            "s3://bkt/./a/",
            "s3://bkt/a/.",
            "s3://bkt/a/..",
            "s3://bkt//a/",
            "s3://bkt/a//b/",
            "s3://bkt//",
        ] {
            let e = S3Uri::parse("outputS3Uri", bad).unwrap_err();
            assert_eq!(e.kind, super::super::error::ErrorKind::Validation, "{bad}");
            assert!(e.message.contains("'outputS3Uri'"), "{}", e.message);
        }
    }

    #[test]
    fn display_round_trips() {
        let u = S3Uri::parse("m", "s3://bkt/a/b/").unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("bkt", "a/b/"));
        assert_eq!(u.to_string(), "s3://bkt/a/b/");
        assert_eq!(u.folder_and_stem(), ("a/b", ""));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_neither_listed_read_nor_written_through() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("bkt/in")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.dcm"), b"secret").unwrap();
        std::fs::write(root.join("bkt/in/real.dcm"), b"real").unwrap();
        symlink(outside.join("secret.dcm"), root.join("bkt/in/link.dcm")).unwrap();
        symlink(&outside, root.join("bkt/in/linkdir")).unwrap();
        symlink(&outside, root.join("bkt/out")).unwrap();
        let s3 = S3Folder::open(&root).unwrap();

        let uri = S3Uri::parse("m", "s3://bkt/in/").unwrap();
        assert_eq!(s3.list(&uri, None).unwrap(), vec!["in/real.dcm"]);
        assert_eq!(s3.read("bkt", "in/real.dcm").unwrap(), b"real");
        assert!(s3.read("bkt", "in/link.dcm").is_err());
        assert!(s3.read("bkt", "in/linkdir/secret.dcm").is_err());
        assert!(s3.read("bkt", "../outside/secret.dcm").is_err());
        // A prefix starting in a symlinked folder lists nothing.
        let through = S3Uri::parse("m", "s3://bkt/in/linkdir/").unwrap();
        assert_eq!(s3.list(&through, None).unwrap(), Vec::<String>::new());
        std::fs::create_dir(outside.join("sub")).unwrap();
        std::fs::write(outside.join("sub/deep.dcm"), b"deep").unwrap();
        let deeper = S3Uri::parse("m", "s3://bkt/in/linkdir/sub/").unwrap();
        assert!(s3.list(&deeper, None).is_err());

        assert!(s3.write("bkt", "out/report.json", b"x").is_err());
        assert!(!outside.join("report.json").exists());
        // A symlink at the key itself is replaced, its target untouched.
        s3.write("bkt", "in/link.dcm", b"new").unwrap();
        assert_eq!(
            std::fs::read(outside.join("secret.dcm")).unwrap(),
            b"secret"
        );
        assert_eq!(s3.read("bkt", "in/link.dcm").unwrap(), b"new");
    }
}
