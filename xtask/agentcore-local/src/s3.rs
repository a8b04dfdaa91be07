//! The S3 server: s3s with its filesystem backend, SigV4 checked against the stack's credentials.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use hyper::Request;
use hyper::body::Incoming;

use super::store::{self, S3_DIR};
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

/// Lock file that keeps S3 writers of different processes apart.
const WRITE_LOCK: &str = "s3-write.lock";

/// The S3 service plus what keeps writes safe when several processes share the state directory.
#[derive(Clone)]
pub(crate) struct S3Server {
    service: s3s::service::S3Service,
    gate: Arc<WriteGate>,
    /// Serialises conditional PUTs in this process (the write gate covers other processes).
    conditional: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server").field("dir", &self.gate.dir).finish_non_exhaustive()
    }
}

impl S3Server {
    pub(crate) fn new(dir: &Path) -> Result<S3Server> {
        let root = dir.join(S3_DIR);
        std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
        // s3s-fs deletes leftover temporary files when it opens a root, which would break an upload
        // in flight in another process: open it while holding the cross-process write lock.
        let lock = store::lock_file(dir, WRITE_LOCK)?;
        let backend = s3s_fs::FileSystem::new(&root)
            .map_err(|err| anyhow::anyhow!("cannot open the S3 directory {}: {err:?}", root.display()))?;
        drop(lock);
        let mut builder = s3s::service::S3ServiceBuilder::new(backend);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        let gate = Arc::new(WriteGate { dir: dir.to_path_buf(), held: Mutex::new((0, None)) });
        Ok(S3Server { service: builder.build(), gate, conditional: Arc::default() })
    }

    /// Writes (PUT, POST) pass the write gate: s3s-fs names its temporary files with a per-process
    /// counter, so two processes writing at once could share a temporary file.
    ///
    /// s3s-fs checks `If-None-Match: *` and then writes, which races with another writer of the same
    /// key; conditional PUTs therefore also run one at a time in this process. An unconditional PUT
    /// in this process may still land between a conditional PUT's check and its write; it cannot fail
    /// a precondition, and the last writer wins, as in S3.
    pub(crate) async fn serve(self, request: Request<Incoming>) -> Result<s3s::HttpResponse, s3s::HttpError> {
        let method = request.method().clone();
        let writes = method == hyper::Method::PUT || method == hyper::Method::POST;
        let conditional = method == hyper::Method::PUT
            && (request.headers().contains_key("if-none-match") || request.headers().contains_key("if-match"));
        let request = request.map(s3s::Body::from);
        if !writes {
            return self.service.call(request).await;
        }
        let _serial = if conditional { Some(self.conditional.lock().await) } else { None };
        let gate = Arc::clone(&self.gate);
        let pass = tokio::task::spawn_blocking(move || gate.enter())
            .await
            .map_err(|err| s3s::HttpError::new(Box::new(err)))?
            .map_err(|err| s3s::HttpError::new(err.into()))?;
        let response = self.service.call(request).await;
        drop(pass);
        response
    }
}

/// Writers of one process run concurrently; writers of different processes take turns. The first
/// writer in a process takes the exclusive file lock, the last one out releases it.
struct WriteGate {
    dir: PathBuf,
    /// Writers inside, and the locked file while there are any.
    held: Mutex<(usize, Option<File>)>,
}

impl WriteGate {
    /// Blocks until this process may write; the returned pass lets the next one in when dropped.
    fn enter(self: Arc<Self>) -> Result<WritePass> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.0 == 0 {
            held.1 = Some(store::lock_file(&self.dir, WRITE_LOCK)?);
        }
        held.0 += 1;
        drop(held);
        Ok(WritePass { gate: self })
    }
}

struct WritePass {
    gate: Arc<WriteGate>,
}

impl Drop for WritePass {
    fn drop(&mut self) {
        let mut held = self.gate.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.0 -= 1;
        if held.0 == 0 {
            held.1 = None; // closing the file releases the lock
        }
    }
}
