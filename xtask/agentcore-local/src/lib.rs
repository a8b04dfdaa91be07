//! The bundled local AgentCore stack on 127.0.0.1: a control-plane emulator, an S3 server, a data
//! plane that runs the agents' code, and a stand-in for the Bedrock runtime they call.
//!
//! [`LocalStack::start`] runs them in-process with a [`LocalConfig`] (what xtask's `--local` and
//! `local up` do); [`LocalStack::set_agent_host`] says how agent code runs on this machine;
//! [`LocalStack::faults`] injects failures; [`reset`] deletes a state directory.

#![warn(missing_docs)]

mod artifact;
mod bedrock;
mod control;
mod data;
mod faults;
mod model;
mod plane;
mod runner;
mod s3;
mod sigv4;
mod store;
mod uri;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use control::RequestCounts;
pub use faults::{Faults, FaultsConfig, OperationFaults, Quotas};
pub use model::{DATA_OPERATIONS, OPERATIONS};
pub use runner::{AgentHost, AgentProcessInfo, UvSource};
pub use sigv4::sign;
pub use store::prepare_dir;

/// Deletes a state directory; refuses one the stack did not create. `false` when there was none.
pub fn reset(dir: &Path) -> Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    if !dir.is_dir() {
        bail!(
            "refusing to delete {}: it is not a directory, so it is not a local stack state directory",
            dir.display()
        );
    }
    if !dir.join(store::MARKER).is_file() {
        bail!(
            "refusing to delete {}: it has no {} file, so it is not a local stack state directory",
            dir.display(),
            store::MARKER
        );
    }
    let _unused = store::claim_unused(dir)?;
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot delete {}", dir.display()))?;
    Ok(true)
}

/// Refuses to start on state files the servers could not read, naming the file and the fix, so the
/// problem is reported once at startup rather than as a 500 on every request.
fn check_state(dir: &Path) -> Result<()> {
    store::with_lock(dir, || -> Result<()> {
        plane::load_state(&dir.join(store::STATE_FILE))
            .map_err(|err| anyhow::anyhow!("{err:#}; {}", plane::reset_hint(dir)))?;
        faults::read(&dir.join(store::FAULTS_FILE))
            .map_err(|err| anyhow::anyhow!("{err:#}; fix or delete that file (it only holds injected faults)"))?;
        Ok(())
    })?
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// State directory (control-plane state and S3 objects).
    pub dir: PathBuf,
    /// 0 picks a free port.
    pub s3_port: u16,
    /// 0 picks a free port.
    pub control_port: u16,
    /// Time spent in CREATING/UPDATING/DELETING before the next status.
    pub transition_delay: std::time::Duration,
    /// The region the stack answers for (in ARNs, and in the SigV4 scope it checks).
    pub region: String,
}

impl LocalConfig {
    /// Free ports, a one-second transition delay and us-east-1, with state in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> LocalConfig {
        LocalConfig {
            dir: dir.into(),
            s3_port: 0,
            control_port: 0,
            transition_delay: Duration::from_secs(1),
            region: "us-east-1".to_owned(),
        }
    }
}

/// A running stack on 127.0.0.1; stops (with the agent processes it started) when shut down or dropped.
pub struct LocalStack {
    dir: PathBuf,
    region: String,
    s3_addr: SocketAddr,
    control_addr: SocketAddr,
    data_addr: SocketAddr,
    model_addr: SocketAddr,
    /// The agent processes of the data plane.
    runner: Arc<runner::Runner>,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    /// The control plane's request counts.
    requests: Arc<Mutex<RequestCounts>>,
    /// A shared lock on the directory's in-use file for as long as the stack runs: `local reset`
    /// takes it exclusively, so it cannot delete the state from under a running stack.
    _in_use: std::fs::File,
}

impl std::fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStack")
            .field("dir", &self.dir)
            .field("s3", &self.s3_addr)
            .field("control", &self.control_addr)
            .field("data", &self.data_addr)
            .field("model", &self.model_addr)
            .finish_non_exhaustive()
    }
}

/// The access key of the only credentials the stack accepts.
pub const ACCESS_KEY_ID: &str = "AKIALOCALAGENTCORE01";
/// The secret key of the only credentials the stack accepts.
pub const SECRET_ACCESS_KEY: &str = "local-agentcore-secret-key";

impl LocalStack {
    /// Starts the servers on 127.0.0.1; returns once they listen (connections queue from then on).
    /// The data plane and the Bedrock stand-in take free ports.
    pub async fn start(config: LocalConfig) -> Result<LocalStack> {
        LocalStack::start_with_log(config, false).await
    }

    /// [`LocalStack::start`], logging every request and the agent processes' output on stderr when
    /// `log` is set.
    pub async fn start_with_log(config: LocalConfig, log: bool) -> Result<LocalStack> {
        let dir = std::path::absolute(&config.dir)
            .with_context(|| format!("cannot resolve state directory {}", config.dir.display()))?;
        if config.s3_port != 0 && config.s3_port == config.control_port {
            bail!(
                "the S3 server and the control plane cannot share port {}: give --s3-port and --control-port different ports, or 0 for free ones",
                config.s3_port
            );
        }
        // Ports first: a port that is taken fails the start before the state directory is touched.
        let s3_listener = bind(config.s3_port, "S3", Some("--s3-port")).await?;
        let control_listener = bind(config.control_port, "control plane", Some("--control-port")).await?;
        let data_listener = bind(0, "data plane", None).await?;
        let model_listener = bind(0, "Bedrock runtime stand-in", None).await?;
        store::prepare_dir(&dir)?;
        if log && store::in_use(&dir) {
            eprintln!("local: another local stack runs on {}; this one shares its state", dir.display());
        }
        let in_use = store::mark_in_use(&dir)?;
        check_state(&dir)?;
        let s3 = s3::S3Server::new(&dir)?;
        let requests = Arc::new(Mutex::new(RequestCounts::default()));
        let control = Arc::new(control::Control {
            dir: dir.clone(),
            region: config.region.clone(),
            delay: config.transition_delay,
            log,
            requests: Arc::clone(&requests),
        });
        let s3_addr = s3_listener.local_addr()?;
        let control_addr = control_listener.local_addr()?;
        let data_addr = data_listener.local_addr()?;
        let model_addr = model_listener.local_addr()?;
        let runner = Arc::new(runner::Runner::new(
            &dir,
            log,
            agent_env(
                &config.region,
                [s3_addr, control_addr, data_addr, model_addr].map(|addr| format!("http://{addr}")),
            ),
        ));
        let data = Arc::new(data::DataPlane {
            dir: dir.clone(),
            region: config.region.clone(),
            log,
            runner: Arc::clone(&runner),
        });
        let model = Arc::new(bedrock::ModelStandIn { region: config.region.clone(), log });
        let (shutdown, watcher) = watch::channel(false);
        let s3_server = tokio::spawn(serve(s3_listener, watcher.clone(), move |request| {
            let s3 = s3.clone();
            s3.serve(request)
        }));
        let control_server = tokio::spawn(serve(control_listener, watcher.clone(), move |request| {
            let control = Arc::clone(&control);
            control.serve(request)
        }));
        let data_server = tokio::spawn(serve(data_listener, watcher.clone(), move |request| {
            let data = Arc::clone(&data);
            data.serve(request)
        }));
        let model_server = tokio::spawn(serve(model_listener, watcher.clone(), move |request| {
            let model = Arc::clone(&model);
            model.serve(request)
        }));
        let reaper = tokio::spawn(reap(Arc::clone(&runner), watcher));
        Ok(LocalStack {
            dir,
            region: config.region,
            s3_addr,
            control_addr,
            data_addr,
            model_addr,
            runner,
            shutdown,
            servers: vec![s3_server, control_server, data_server, model_server, reaper],
            requests,
            _in_use: in_use,
        })
    }

    /// The S3 server's URL, `http://127.0.0.1:<port>`.
    pub fn s3_endpoint(&self) -> String {
        format!("http://{}", self.s3_addr)
    }

    /// The control plane's URL, `http://127.0.0.1:<port>`.
    pub fn control_endpoint(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    /// The data plane's URL (InvokeAgentRuntime), `http://127.0.0.1:<port>`.
    pub fn data_endpoint(&self) -> String {
        format!("http://{}", self.data_addr)
    }

    /// The Bedrock runtime stand-in's URL (Converse, ConverseStream), `http://127.0.0.1:<port>`.
    pub fn model_endpoint(&self) -> String {
        format!("http://{}", self.model_addr)
    }

    /// Says how the data plane runs agent code on this machine (uv, Python, where virtualenvs are
    /// cached, timeouts). Until called, the defaults of [`AgentHost`] apply: no uv, so only versions
    /// without dependencies run. Processes already running keep their settings.
    pub fn set_agent_host(&self, host: AgentHost) {
        self.runner.set_host(host);
    }

    /// The agent processes running now, by runtime id and version.
    pub fn agent_processes(&self) -> Vec<AgentProcessInfo> {
        self.runner.processes()
    }

    /// Stops every agent process now (the next invocation of a version starts it again).
    pub fn stop_agents(&self) {
        self.runner.stop_all(false);
    }

    /// The region the stack answers for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The state directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Environment variables that point any AWS SDK or the AWS CLI at this stack: S3, the AgentCore
    /// control and data planes, the Bedrock runtime stand-in, the region and the credentials.
    /// AWS_DEFAULT_REGION is set too: botocore (boto3, the AWS CLI) ignores AWS_REGION.
    pub fn env_exports(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_S3".to_owned(), self.s3_endpoint()),
            ("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL".to_owned(), self.control_endpoint()),
            ("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE".to_owned(), self.data_endpoint()),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME".to_owned(), self.model_endpoint()),
            ("AWS_REGION".to_owned(), self.region.clone()),
            ("AWS_DEFAULT_REGION".to_owned(), self.region.clone()),
            ("AWS_ACCESS_KEY_ID".to_owned(), ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), SECRET_ACCESS_KEY.to_owned()),
        ]
    }

    /// The requests this stack's control plane received since it started, by operation. Take a copy
    /// before and after a command; [`RequestCounts::since`] gives the command's own.
    pub fn control_requests(&self) -> RequestCounts {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Adds READY runtimes called `names` straight into the state, without a request: an account
    /// that already holds them (another team's, say). Taken names and the runtime quota
    /// ([`Faults::set_quotas`]) are refused as CreateAgentRuntime refuses them.
    pub async fn preload_runtimes(&self, names: Vec<String>) -> Result<()> {
        let (dir, region) = (self.dir.clone(), self.region.clone());
        tokio::task::spawn_blocking(move || {
            let config = store::with_lock(&dir, || faults::read(&dir.join(store::FAULTS_FILE)))??;
            let now = store::now_ms() + config.clock_offset_ms;
            plane::transact(&dir, true, now, |state| {
                let env = plane::Env { dir: &dir, region: &region, delay_ms: 0, now, quotas: config.quotas };
                plane::preload_runtimes(state, &env, &names)
            })
            .map_err(|err| anyhow::anyhow!("cannot preload the runtimes: {}: {}", err.code, err.message))
        })
        .await?
    }

    /// Fault injection for this stack's operations (also editable as `<dir>/faults.json`).
    pub fn faults(&self) -> Faults {
        Faults::new(&self.dir)
    }

    /// An S3 client for this stack (path-style, static credentials, no shared config read).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .http_client(http_client())
            .region(aws_sdk_s3::config::Region::new(self.region.clone()))
            .credentials_provider(credentials())
            .endpoint_url(self.s3_endpoint())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// A control-plane client for this stack (static credentials, no shared config read).
    pub fn control_client(&self) -> aws_sdk_bedrockagentcorecontrol::Client {
        use aws_sdk_bedrockagentcorecontrol::config;
        let config = config::Builder::new()
            .behavior_version(config::BehaviorVersion::latest())
            .http_client(http_client())
            .region(config::Region::new(self.region.clone()))
            .credentials_provider(credentials())
            .endpoint_url(self.control_endpoint())
            .build();
        aws_sdk_bedrockagentcorecontrol::Client::from_conf(config)
    }

    /// A data-plane client for this stack (static credentials, no shared config read).
    pub fn data_client(&self) -> aws_sdk_bedrockagentcore::Client {
        use aws_sdk_bedrockagentcore::config;
        let config = config::Builder::new()
            .behavior_version(config::BehaviorVersion::latest())
            .http_client(http_client())
            .region(config::Region::new(self.region.clone()))
            .credentials_provider(credentials())
            .endpoint_url(self.data_endpoint())
            .build();
        aws_sdk_bedrockagentcore::Client::from_conf(config)
    }

    /// Creates `bucket` unless it exists.
    pub async fn ensure_bucket(&self, bucket: &str) -> Result<()> {
        let client = self.s3_client();
        if client.head_bucket().bucket(bucket).send().await.is_ok() {
            return Ok(());
        }
        match client.create_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let service = err.into_service_error();
                // Another process may have created it in between.
                if service.is_bucket_already_owned_by_you() || service.is_bucket_already_exists() {
                    return Ok(());
                }
                Err(anyhow::Error::new(service))
                    .with_context(|| format!("cannot create bucket {bucket} in the local S3"))
            }
        }
    }

    /// Stops the agent processes and the servers, and waits for the servers.
    pub async fn shutdown(mut self) {
        self.runner.stop_all(true);
        let _ = self.shutdown.send(true);
        for server in self.servers.drain(..) {
            let _ = server.await;
        }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.runner.stop_all(true);
        let _ = self.shutdown.send(true);
        for server in &self.servers {
            server.abort(); // also drops (and so aborts) the server's open connections
        }
    }
}

/// The static credentials of the stack, as an SDK credentials provider.
pub fn credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "agentcore-local")
}

/// Plain HTTP for the stack's own SDK clients: it listens on loopback only, so no TLS is needed.
fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// What every agent process gets: this stack as its only AWS. The catch-all endpoint is the data
/// plane, which refuses what it does not serve, so no AWS call of an agent leaves the machine; the
/// shared config files and instance metadata are out of reach, so no other credentials are found.
fn agent_env(region: &str, [s3, control, data, model]: [String; 4]) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", data.as_str()),
        ("AWS_ENDPOINT_URL_S3", &s3),
        ("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", &control),
        ("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", &data),
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &model),
        ("AWS_REGION", region),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_CONFIG_FILE", "/nonexistent/agentcore-local/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/agentcore-local/credentials"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// Stops idle agent processes until the stack stops.
async fn reap(runner: Arc<runner::Runner>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => runner.reap(),
            _ = shutdown.changed() => break,
        }
    }
}

/// Listens on `port` of loopback (0: a free one); `flag` names the option that picks another port.
async fn bind(port: u16, what: &str, flag: Option<&str>) -> Result<TcpListener> {
    // Loopback only: the stack has fixed credentials and must never be reachable from the network.
    TcpListener::bind(("127.0.0.1", port)).await.with_context(|| match flag {
        Some(flag) => format!(
            "cannot listen on 127.0.0.1:{port} for the {what}: pick another port with {flag} or 0 for a free one"
        ),
        None => format!("cannot listen on a free port of 127.0.0.1 for the {what}"),
    })
}

async fn serve<S, F, B, E>(listener: TcpListener, mut shutdown: watch::Receiver<bool>, handler: S)
where
    S: Fn(hyper::Request<hyper::body::Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<hyper::Response<B>, E>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning on the error.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Answers go out in several writes (a streamed body's chunks): without this,
                // Nagle's algorithm holds each one for the client's delayed ACK, 40 ms on Linux.
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(handler);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}
