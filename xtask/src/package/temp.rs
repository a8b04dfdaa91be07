//! Temporary files and directories locked while in use, so a later run removes only abandoned ones.
//!
//! Every zip, report and install is built under a `.tmp-…` name and renamed into place. A killed
//! run leaves its temporary behind; a concurrent run (or another agent of the same `deploy`) has
//! one in use. The writer holds an exclusive `flock` on its temporary for as long as it exists, and
//! the operating system drops that lock when the process dies, so "can I take the lock?" tells the
//! two apart without guessing from ages.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::{NamedTempFile, TempDir};

/// Attempts at a fresh name when a cleaner grabbed the one just created (see [`remove_abandoned`]).
const ATTEMPTS: usize = 8;

/// A temporary file named `<prefix>XXXXXX` in `dir`, locked until it is dropped or persisted and closed.
pub fn file(dir: &Path, prefix: &str) -> Result<NamedTempFile> {
    for _ in 0..ATTEMPTS {
        let temp = tempfile::Builder::new()
            .prefix(prefix)
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        if lock(temp.as_file()) && still_there(temp.path(), temp.as_file()) {
            return Ok(temp);
        }
    }
    anyhow::bail!("cannot lock a temporary file in {}; is another tool removing files there?", dir.display())
}

/// A temporary directory and the open handle that holds its lock.
pub(crate) struct LockedDir {
    pub(crate) dir: TempDir,
    lock: File,
}

impl LockedDir {
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the directory on drop (it is about to be renamed) and returns its path with the lock,
    /// which the caller holds until the rename is done.
    pub(crate) fn keep(self) -> (PathBuf, File) {
        (self.dir.keep(), self.lock)
    }
}

/// A temporary directory named `<prefix>XXXXXX` in `dir`, locked while the returned value lives.
pub(crate) fn dir(parent: &Path, prefix: &str) -> Result<LockedDir> {
    for _ in 0..ATTEMPTS {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a temporary directory in {}", parent.display()))?;
        let handle = File::open(dir.path()).with_context(|| format!("cannot open {}", dir.path().display()))?;
        if lock(&handle) && still_there(dir.path(), &handle) {
            return Ok(LockedDir { dir, lock: handle });
        }
    }
    anyhow::bail!("cannot lock a temporary directory in {}; is another tool removing files there?", parent.display())
}

/// Takes the exclusive lock: `false` when someone else holds it. Where locking fails (a file
/// system without `flock`), the file is used unlocked: [`remove_abandoned`] cannot lock it either,
/// so it leaves it alone.
fn lock(file: &File) -> bool {
    !matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Whether `path` still names what `handle` has open. A cleaner may take the lock and remove a
/// temporary between its creation and its owner's lock (another agent of the same deploy cleans the
/// same folder), and release it before the owner tries: the owner then holds the lock of a file no
/// longer there, and must start again. Once the owner holds the lock, no cleaner can remove it.
fn still_there(path: &Path, handle: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(path), handle.metadata()) {
            (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = handle;
        path.exists()
    }
}

/// Removes the entries of `dir` named `<prefix>…` that nobody holds locked: what killed runs left.
/// Returns how many were removed. Errors are ignored: cleaning up is a courtesy, not the job.
pub(crate) fn remove_abandoned(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else { continue };
        if !(file_type.is_file() || file_type.is_dir()) {
            continue;
        }
        let Ok(handle) = File::open(&path) else { continue };
        // Held until the removal is done, so the owner's retry (see `file`) cannot race it.
        if !matches!(handle.try_lock(), Ok(())) {
            continue;
        }
        // A writer that renamed its temporary into place since we listed it leaves nothing at
        // `path`: the removal fails harmlessly and its result is untouched.
        let gone = if file_type.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unlocked_temporaries_with_the_prefix_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let abandoned_file = dir.path().join(".tmp-zip-dead");
        std::fs::write(&abandoned_file, b"half a zip").unwrap();
        let abandoned_dir = dir.path().join(".tmp-zip-deaddir");
        std::fs::create_dir_all(abandoned_dir.join("site")).unwrap();
        let other = dir.path().join(".tmp-other");
        std::fs::write(&other, b"not ours").unwrap();
        let live_file = file(dir.path(), ".tmp-zip-").unwrap();
        let live_dir = super::dir(dir.path(), ".tmp-zip-").unwrap();

        assert_eq!(remove_abandoned(dir.path(), ".tmp-zip-"), 2);
        assert!(!abandoned_file.exists() && !abandoned_dir.exists());
        assert!(other.exists(), "another prefix is left alone");
        assert!(live_file.path().exists() && live_dir.path().exists(), "temporaries in use stay");

        // Once their owners are gone (dropped here, killed in real life) nothing is left.
        let (kept, lock) = live_dir.keep();
        drop(lock);
        let live_path = live_file.path().to_path_buf();
        let _still_there = live_file.into_temp_path().keep().unwrap();
        assert_eq!(remove_abandoned(dir.path(), ".tmp-zip-"), 2);
        assert!(!kept.exists() && !live_path.exists());
    }

    #[test]
    fn a_temporary_removed_before_its_owner_locked_it_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let temp = tempfile::Builder::new().prefix(".tmp-zip-").tempfile_in(dir.path()).unwrap();
        assert!(still_there(temp.path(), temp.as_file()));
        // A cleaner's lock came first: it removed the file and let go before the owner locked.
        assert_eq!(remove_abandoned(dir.path(), ".tmp-zip-"), 1);
        assert!(lock(temp.as_file()), "the lock of a removed file is free");
        assert!(!still_there(temp.path(), temp.as_file()), "but the file is gone: start again");
    }
}
