//! A server on 127.0.0.1 that refuses every request the way AWS does: for an identity without the
//! permission (403 AccessDeniedException on the control plane, JSON; 403 AccessDenied on S3, XML),
//! or for a bucket that does not exist (404 NoSuchBucket, which the local stack's S3 does not send
//! for object reads).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// How every request is refused.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    Control,
    S3,
    S3NoSuchBucket,
    /// The bucket lives in eu-west-1: S3 redirects with the region in a header.
    S3WrongRegion,
}

/// The server; stops when dropped.
pub struct Deny {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Deny {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(api: Api) -> Deny {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| async move { Ok::<_, Infallible>(refuse(api, request)) });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Deny { url, task }
}

fn refuse(api: Api, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let builder = Response::builder().status(403).header("x-amzn-requestid", "deny-test");
    match api {
        Api::Control => builder
            .header("content-type", "application/json")
            .header("x-amzn-errortype", "AccessDeniedException")
            .body(Full::new(Bytes::from_static(
                br#"{"message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform this action"}"#,
            )))
            .unwrap(),
        // A HEAD answer carries no body, as on S3.
        Api::S3 if request.method() == hyper::Method::HEAD => builder.body(Full::new(Bytes::new())).unwrap(),
        Api::S3WrongRegion => {
            builder.status(301).header("x-amz-bucket-region", "eu-west-1").body(Full::new(Bytes::new())).unwrap()
        }
        Api::S3NoSuchBucket => {
            let builder = builder.status(404);
            if request.method() == hyper::Method::HEAD {
                return builder.body(Full::new(Bytes::new())).unwrap();
            }
            builder
                .header("content-type", "application/xml")
                .body(Full::new(Bytes::from_static(
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>deny-test</RequestId></Error>",
                )))
                .unwrap()
        }
        Api::S3 => builder
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from_static(
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>deny-test</RequestId></Error>",
            )))
            .unwrap(),
    }
}
