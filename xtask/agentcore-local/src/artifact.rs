//! The code-artifact check AgentCore runs on create and update: the zip exists, fits, and holds the entry point.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::store::S3_DIR;

/// AgentCore's direct-code limits.
const MAX_ZIPPED_BYTES: u64 = 250 * 1024 * 1024;
const MAX_UNZIPPED_BYTES: u64 = 750 * 1024 * 1024;

/// Checks the artifact of a create/update request; `Some(reason)` when the version must fail.
/// Container artifacts are accepted as the model allows (the local stack has no registry).
pub(crate) fn check(dir: &Path, artifact: &Value) -> Option<String> {
    let code = artifact.get("codeConfiguration")?;
    let s3 = code.get("code")?.get("s3")?;
    let bucket = s3.get("bucket")?.as_str()?;
    let key = s3.get("prefix")?.as_str()?;
    let entry_point = code.get("entryPoint")?.as_array()?.last()?.as_str()?;
    let location = format!("s3://{bucket}/{key}");
    let Some(path) = object_path(dir, bucket, key) else {
        return Some(format!("the code artifact {location} was not found: no such object in the local S3"));
    };
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_file() => metadata,
        _ => return Some(format!("the code artifact {location} was not found: no such object in the local S3")),
    };
    if metadata.len() > MAX_ZIPPED_BYTES {
        return Some(format!(
            "the code artifact {location} is {} bytes, over the {MAX_ZIPPED_BYTES}-byte limit for zipped code",
            metadata.len()
        ));
    }
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(err) => return Some(format!("the code artifact {location} cannot be read: {err}")),
    };
    let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(archive) => archive,
        Err(err) => return Some(format!("the code artifact {location} is not a valid zip file: {err}")),
    };
    let mut unzipped: u64 = 0;
    let mut has_entry_point = false;
    for index in 0..archive.len() {
        let entry = match archive.by_index_raw(index) {
            Ok(entry) => entry,
            Err(err) => return Some(format!("the code artifact {location} is not a valid zip file: {err}")),
        };
        unzipped = unzipped.saturating_add(entry.size());
        if entry.is_file() && entry.name().is_ok_and(|name| name == entry_point) {
            has_entry_point = true;
        }
    }
    if unzipped > MAX_UNZIPPED_BYTES {
        return Some(format!(
            "the code artifact {location} unzips to {unzipped} bytes, over the {MAX_UNZIPPED_BYTES}-byte limit"
        ));
    }
    if !has_entry_point {
        return Some(format!("the code artifact {location} has no entry point `{entry_point}` at the root of the zip"));
    }
    None
}

/// Where the S3 server (s3s-fs) keeps `bucket/key`; `None` for keys that would escape the bucket.
pub(crate) fn object_path(dir: &Path, bucket: &str, key: &str) -> Option<PathBuf> {
    let relative = Path::new(key);
    if key.is_empty() || !relative.components().all(|part| matches!(part, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(S3_DIR).join(bucket).join(relative))
}
