//! The S3 server: s3s with its filesystem backend, SigV4 checked against the stack's credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use hyper::Request;
use hyper::body::Incoming;

use super::store::{self, S3_DIR};
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

/// The S3 service plus what makes conditional writes atomic.
#[derive(Clone)]
pub struct S3Server {
    service: s3s::service::S3Service,
    dir: PathBuf,
    /// Serialises conditional PUTs in this process (the file lock covers other processes).
    conditional: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl S3Server {
    pub fn new(dir: &Path) -> Result<S3Server> {
        let root = dir.join(S3_DIR);
        std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
        let backend = s3s_fs::FileSystem::new(&root)
            .map_err(|err| anyhow::anyhow!("cannot open the S3 directory {}: {err:?}", root.display()))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(backend);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        Ok(S3Server { service: builder.build(), dir: dir.to_path_buf(), conditional: Arc::default() })
    }

    /// s3s-fs checks `If-None-Match: *` and then writes, which races with another writer of the same
    /// key. Conditional PUTs therefore run one at a time, under a process mutex and a file lock shared
    /// with other processes. Unconditional PUTs are not serialised: they cannot fail a precondition,
    /// though one landing between a conditional PUT's check and its write is overwritten (last writer wins).
    pub async fn serve(self, request: Request<Incoming>) -> Result<s3s::HttpResponse, s3s::HttpError> {
        let conditional = request.method() == hyper::Method::PUT
            && (request.headers().contains_key("if-none-match") || request.headers().contains_key("if-match"));
        let request = request.map(s3s::Body::from);
        if !conditional {
            return self.service.call(request).await;
        }
        let _in_process = self.conditional.lock().await;
        let dir = self.dir.clone();
        let file_lock = tokio::task::spawn_blocking(move || store::lock_file(&dir, "s3-conditional.lock"))
            .await
            .map_err(|err| s3s::HttpError::new(Box::new(err)))?
            .map_err(|err| s3s::HttpError::new(err.into()))?;
        let response = self.service.call(request).await;
        drop(file_lock);
        response
    }
}
