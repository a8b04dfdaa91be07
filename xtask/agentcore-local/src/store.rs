//! On-disk state of the local stack: one lock shared by every process, atomic JSON writes, clock helpers.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Created in every state directory the stack owns; `local reset` refuses directories without it.
pub(crate) const MARKER: &str = ".agentcore-local";
/// Control-plane state.
pub(crate) const STATE_FILE: &str = "control-plane.json";
/// Fault injection and quota overrides, re-read on every request.
pub(crate) const FAULTS_FILE: &str = "faults.json";
/// Root of the S3 server's objects (`s3/<bucket>/<key>`).
pub(crate) const S3_DIR: &str = "s3";
const LOCK_FILE: &str = "lock";
/// Held shared by every running stack, exclusively by `local reset`.
const IN_USE_FILE: &str = "in-use.lock";

/// Prepares `dir` as a state directory: creates it, or adopts it only when it is already ours.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("{} is not a directory: pass a directory (new or empty) for the local stack state", dir.display());
    }
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read state directory {}", dir.display()))?
            .next()
            .is_none();
        if !empty && !dir.join(MARKER).exists() {
            bail!(
                "{} is not empty and is not a local stack state directory (no {MARKER} file): pass an empty or new directory with --dir",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir.join(S3_DIR)).with_context(|| format!("cannot create {}", dir.display()))?;
    let marker = dir.join(MARKER);
    if !marker.exists() {
        std::fs::write(&marker, "state of `cargo xtask local`; `cargo xtask local reset` deletes this directory\n")
            .with_context(|| format!("cannot write {}", marker.display()))?;
    }
    Ok(())
}

/// Runs `f` while holding the state directory's exclusive lock (an OS file lock, so it also
/// serialises a `local up` server and `--local` commands running in other processes).
/// `f` must not block on anything that itself needs the lock.
pub(crate) fn with_lock<T>(dir: &Path, f: impl FnOnce() -> T) -> Result<T> {
    let file = lock_file(dir, LOCK_FILE)?;
    let result = f();
    drop(file); // closing the file releases the lock
    Ok(result)
}

/// Opens `dir/name` and takes its exclusive lock (blocking); dropping the file releases it.
pub(crate) fn lock_file(dir: &Path, name: &str) -> Result<File> {
    let (file, path) = open_lock_file(dir, name)?;
    file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Opens (creating) `dir/name` for locking, never truncating it.
fn open_lock_file(dir: &Path, name: &str) -> Result<(File, std::path::PathBuf)> {
    let path = dir.join(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    Ok((file, path))
}

/// Takes a shared lock on the directory's in-use file; the stack keeps the file open while it runs.
pub(crate) fn mark_in_use(dir: &Path) -> Result<File> {
    let (file, path) = open_lock_file(dir, IN_USE_FILE)?;
    file.lock_shared().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Whether a stack (of any process) runs on `dir` right now.
pub(crate) fn in_use(dir: &Path) -> bool {
    claim_unused(dir).is_err()
}

/// Takes the in-use file exclusively, refusing when a stack (of any process) runs on `dir`.
pub(crate) fn claim_unused(dir: &Path) -> Result<Option<File>> {
    let path = dir.join(IN_USE_FILE);
    let file = match File::options().write(true).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot open lock file {}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "a local stack is running on {}: stop `cargo xtask local up` (Ctrl-C) or the `--local` command using it, then run this again",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(err)) => Err(err).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Reads a JSON file, or the default when it does not exist.
pub(crate) fn read_json<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("cannot parse {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes JSON through a temporary file and a rename, so readers never see half a file. No fsync:
/// this is a scratch world for tests and trials, and syncing made every write ~10x slower.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = tmp_path(path);
    let mut file =
        std::io::BufWriter::new(File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?);
    serde_json::to_writer(&mut file, value)?;
    file.write_all(b"\n")?;
    file.into_inner().map_err(|err| err.into_error())?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// RFC 3339 in UTC with milliseconds, the wire format of the model's timestamps.
pub(crate) fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Milliseconds since the epoch of a SigV4 `X-Amz-Date` such as `20250101T120000Z`.
pub(crate) fn parse_amz_date(text: &str) -> Option<i64> {
    let digits = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    if text.len() != 16 || text.as_bytes()[8] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of civil_from_days.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
        assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400_000));
        assert_eq!(parse_amz_date("20251231T235959Z"), Some(1_767_225_599_000));
        assert_eq!(parse_amz_date("2025-12-31T23:59"), None);
    }

    #[test]
    fn adopts_only_its_own_directories() {
        let temp = tempfile::tempdir().unwrap();
        let foreign = temp.path().join("foreign");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("precious.txt"), "x").unwrap();
        let err = prepare_dir(&foreign).unwrap_err().to_string();
        assert!(err.contains("not a local stack state directory"), "{err}");
        let ours = temp.path().join("ours");
        prepare_dir(&ours).unwrap();
        prepare_dir(&ours).unwrap();
        assert!(ours.join(MARKER).exists());
    }
}
