//! Deterministic zips: sorted entries, fixed times, POSIX modes, written by streaming to a temp file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipArchive, ZipWriter};

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Path(PathBuf),
    /// Small generated or rewritten content (e.g. a script with a portable shebang).
    Bytes(Vec<u8>),
}

/// One file of the zip.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    /// Name in the zip, `/`-separated.
    pub(crate) name: String,
    pub(crate) source: Source,
    pub(crate) size: u64,
    pub(crate) executable: bool,
}

impl FileEntry {
    pub(crate) fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(match &self.source {
            Source::Path(path) => {
                Box::new(File::open(path).with_context(|| format!("cannot read {}", path.display()))?)
            }
            Source::Bytes(bytes) => Box::new(bytes.as_slice()),
        })
    }
}

/// The files and directories found under a directory.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tree {
    /// Sorted by name.
    pub(crate) files: Vec<FileEntry>,
    /// Directory names with a trailing `/`.
    pub(crate) dirs: BTreeSet<String>,
}

/// Walks `dir` in a stable order; `skip(name, is_dir)` prunes entries (a skipped directory is not entered).
pub(crate) fn walk(dir: &Path, skip: impl Fn(&str, bool) -> bool) -> Result<Tree> {
    let mut tree = Tree::default();
    let walker = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name().min_depth(1);
    let mut iter = walker.into_iter();
    while let Some(entry) = iter.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                // An unreadable entry (a dangling or looping link, no permission) that is skipped
                // anyway is no error; otherwise the message names it and the way out.
                let path = err.path().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
                let name = path.strip_prefix(dir).ok().and_then(Path::to_str).map(|name| name.replace('\\', "/"));
                if name.as_deref().is_some_and(|name| !name.is_empty() && skip(name, false)) {
                    continue;
                }
                let reason = match (err.loop_ancestor(), err.io_error()) {
                    (Some(ancestor), _) => format!("it links back to {}", ancestor.display()),
                    (None, Some(io)) => io.to_string(),
                    (None, None) => err.to_string(),
                };
                bail!("cannot read {}: {reason}; fix or remove it, or exclude it", path.display());
            }
        };
        let rel = entry.path().strip_prefix(dir).expect("walkdir stays below its root");
        let Some(name) = rel.to_str() else {
            bail!("{} is not a UTF-8 path; rename it or exclude it", entry.path().display())
        };
        let name = name.replace('\\', "/");
        let is_dir = entry.file_type().is_dir();
        if skip(&name, is_dir) {
            if is_dir {
                iter.skip_current_dir();
            }
            continue;
        }
        if is_dir {
            continue;
        } else if entry.file_type().is_file() {
            // Directories come from the files they hold, so excluded content leaves no empty ones.
            let mut parent = name.as_str();
            while let Some((dir, _)) = parent.rsplit_once('/') {
                if !tree.dirs.insert(format!("{dir}/")) {
                    break;
                }
                parent = dir;
            }
            let metadata = entry.metadata()?;
            tree.files.push(FileEntry {
                name,
                source: Source::Path(entry.path().to_path_buf()),
                size: metadata.len(),
                executable: is_executable(&metadata),
            });
        } else {
            bail!("{} is neither a file nor a directory; remove it or exclude it", entry.path().display());
        }
    }
    tree.files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tree)
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &std::fs::Metadata) -> bool {
    false
}

fn file_options(executable: bool, size: u64) -> SimpleFileOptions {
    // Everything that could vary by machine is pinned: time, host system, permissions, level.
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(DateTime::default())
        .system(System::Unix)
        .unix_permissions(if executable { 0o755 } else { 0o644 })
        .large_file(size >= u32::MAX as u64)
}

fn dir_options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::default())
        .system(System::Unix)
        .unix_permissions(0o755)
}

/// A finished zip.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) files: u64,
    pub(crate) unzipped_bytes: u64,
    pub(crate) zipped_bytes: u64,
    pub(crate) sha256: String,
}

/// A zip whose compressed entries are copied verbatim into a new zip (the dependency layer).
pub(crate) struct Base {
    archive: ZipArchive<BufReader<File>>,
    /// (name, uncompressed size, is directory) of every entry, in stored order.
    pub(crate) entries: Vec<(String, u64, bool)>,
}

impl Base {
    pub(crate) fn open(path: &Path) -> Result<Base> {
        let unreadable = || format!("{} is not a readable zip; delete it to rebuild it", path.display());
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut archive = ZipArchive::new(BufReader::new(file)).with_context(unreadable)?;
        let mut entries = Vec::with_capacity(archive.len());
        for index in 0..archive.len() {
            let file = archive.by_index_raw(index).with_context(unreadable)?;
            entries.push((file.name().with_context(unreadable)?.into_owned(), file.size(), file.is_dir()));
        }
        Ok(Base { archive, entries })
    }
}

enum Item<'a> {
    Base(usize),
    File(&'a FileEntry),
    Dir,
}

/// Checks that `tree`'s names do not clash with `base`'s, naming the first clash.
pub(crate) fn check_collisions(base: &[(String, u64, bool)], tree: &Tree) -> Result<()> {
    let files: BTreeSet<&str> = tree.files.iter().map(|file| file.name.as_str()).collect();
    for (name, _, is_dir) in base {
        let clash = if *is_dir {
            files.contains(name.trim_end_matches('/'))
        } else {
            files.contains(name.as_str()) || tree.dirs.contains(&format!("{name}/"))
        };
        if clash {
            bail!(
                "`{}` is both an agent file and part of the installed dependencies; rename the agent's file or directory, or exclude it",
                name.trim_end_matches('/')
            );
        }
    }
    Ok(())
}

/// Name prefix of a zip being written (in the destination's directory, renamed when complete).
pub(crate) const TEMP_ZIP_PREFIX: &str = ".tmp-zip-";

/// Writes `dest` atomically: `base`'s entries (copied raw) merged with `tree`, sorted by name.
pub(crate) fn write_zip(dest: &Path, base: Option<Base>, tree: &Tree) -> Result<Written> {
    let parent = dest.parent().context("zip path has no parent directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let (mut archive, base_entries) = match base {
        Some(base) => (Some(base.archive), base.entries),
        None => (None, Vec::new()),
    };
    check_collisions(&base_entries, tree)?;

    let mut items: Vec<(&str, Item)> = Vec::with_capacity(base_entries.len() + tree.files.len() + tree.dirs.len());
    let mut dirs_seen = BTreeSet::new();
    let mut files = 0;
    let mut unzipped_bytes = 0;
    for (index, (name, size, is_dir)) in base_entries.iter().enumerate() {
        if *is_dir {
            dirs_seen.insert(name.as_str());
        } else {
            files += 1;
            unzipped_bytes += size;
        }
        items.push((name, Item::Base(index)));
    }
    for dir in &tree.dirs {
        if !dirs_seen.contains(dir.as_str()) {
            items.push((dir, Item::Dir));
        }
    }
    for file in &tree.files {
        files += 1;
        unzipped_bytes += file.size;
        items.push((&file.name, Item::File(file)));
    }
    items.sort_by(|a, b| a.0.cmp(b.0));

    let temp = super::temp::file(parent, TEMP_ZIP_PREFIX)?;
    let mut writer = ZipWriter::new(BufWriter::with_capacity(1 << 16, temp.as_file().try_clone()?));
    for (name, item) in &items {
        match item {
            Item::Base(index) => {
                let archive = archive.as_mut().expect("base entries come from a base");
                let file = archive.by_index_raw(*index)?;
                writer.raw_copy_file(file).with_context(|| format!("cannot copy `{name}` into the zip"))?;
            }
            Item::Dir => writer.add_directory(*name, dir_options())?,
            Item::File(file) => {
                writer.start_file(*name, file_options(file.executable, file.size))?;
                let copied = std::io::copy(&mut file.open()?, &mut writer)
                    .with_context(|| format!("cannot add `{name}` to the zip"))?;
                if copied != file.size {
                    bail!("`{name}` changed size while being packaged; run the command again");
                }
            }
        }
    }
    writer.finish()?.flush()?;
    let zipped_bytes = temp.as_file().metadata()?.len();
    let sha256 = sha256_file(temp.path())?;
    temp.persist(dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(Written { files, unzipped_bytes, zipped_bytes, sha256 })
}

/// SHA-256 of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The largest top-level entries (packages, directories, files) by size, largest first.
pub(crate) fn largest_contributors<'a>(
    entries: impl IntoIterator<Item = (&'a str, u64)>,
    count: usize,
) -> Vec<(String, u64)> {
    let mut by_top: BTreeMap<String, u64> = BTreeMap::new();
    for (name, size) in entries {
        let top = match name.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => name.to_owned(),
        };
        *by_top.entry(top).or_default() += size;
    }
    let mut sorted: Vec<(String, u64)> = by_top.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted.truncate(count);
    sorted
}

/// (name, compressed size) of every file of a zip.
pub(crate) fn compressed_sizes(path: &Path) -> Result<Vec<(String, u64)>> {
    let mut archive = ZipArchive::new(BufReader::new(File::open(path)?))?;
    let mut sizes = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let file = archive.by_index_raw(index)?;
        if !file.is_dir() {
            sizes.push((file.name()?.into_owned(), file.compressed_size()));
        }
    }
    Ok(sizes)
}

/// Bytes for humans: `31.0 MB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
