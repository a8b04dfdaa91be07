//! The agents' processes: a runtime version's code, taken from its zip in the local S3, its
//! dependencies installed for this machine, started as AgentCore starts it (listening on its
//! protocol's port, `GET /ping` and `POST /invocations` on 8080 for HTTP; see [`contract`]; the
//! version's environment variables), one process per version, started on the first call and
//! stopped when idle or with the stack.
//!
//! The zip's dependencies were installed for linux ARM64, so they cannot run here. The zip says
//! exactly what they are: every installed distribution left a `<name>-<version>.dist-info`
//! directory, so those names and versions are the version's pinned requirements, transitive ones
//! included, whichever tool built the zip and whatever its requirements file was called. They are
//! installed for this machine with uv into a virtualenv cached by their hash; only the agent's own
//! files are unpacked beside the entry point, so nothing built for ARM64 shadows the host's build.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::plane::{ApiError, InvocationTarget};
use super::{artifact, store};

mod contract;
pub(crate) use contract::Contract;

/// Run as `python boot.py <entry point>`: moves the bind of the contract port (8080 for HTTP, the
/// protocol's or the version's port otherwise) to a free loopback port.
const BOOT_SCRIPT: &str = include_str!("runner/boot.py");
/// Part of every virtualenv's cache key: bump when what a virtualenv holds changes.
const VENV_FORMAT: &str = "agentcore-local-venv-1";
/// Lines of a process's output kept for error messages.
const OUTPUT_LINES: usize = 40;
/// Longest line kept (a traceback's lines are short; a JSON log line may not be).
const OUTPUT_LINE_CHARS: usize = 2000;
/// AgentCore's idle session timeout when the version sets none.
const DEFAULT_IDLE: Duration = Duration::from_secs(900);
/// Where unpacked versions, virtualenv staging and port files live, under the state directory.
const RUNS_DIR: &str = "runs";

/// Where the data plane gets uv, asked for on the first start of a version that has dependencies
/// (so a stack that never runs agent code never looks for it).
#[derive(Clone)]
pub struct UvSource(Arc<dyn Fn() -> Result<PathBuf> + Send + Sync>);

impl UvSource {
    /// uv from `find`, called when a version's dependencies must be installed.
    pub fn new(find: impl Fn() -> Result<PathBuf> + Send + Sync + 'static) -> UvSource {
        UvSource(Arc::new(find))
    }

    /// The uv at `path`.
    pub fn path(path: impl Into<PathBuf>) -> UvSource {
        let path = path.into();
        UvSource::new(move || Ok(path.clone()))
    }

    fn find(&self) -> Result<PathBuf> {
        (self.0)()
    }
}

impl std::fmt::Debug for UvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UvSource")
    }
}

/// How the data plane runs agent code on this machine; see [`crate::LocalStack::set_agent_host`].
#[derive(Debug, Clone)]
pub struct AgentHost {
    /// uv, to install a version's dependencies for this machine. Without it, a version that has
    /// dependencies answers every invocation with an error naming the fix; one without runs anyway.
    pub uv: Option<UvSource>,
    /// The Python that runs the agents. Default: `python3.X` of the version's runtime when that
    /// runs, else `python3`.
    pub python: Option<PathBuf>,
    /// Where the virtualenvs are cached, by the hash of their requirements. Default: `host-venvs`
    /// in the state directory (which `local reset` deletes).
    pub venvs: Option<PathBuf>,
    /// A process is stopped after this long without a call. Default: the version's
    /// `idleRuntimeSessionTimeout` (900 s unless it sets one), as AgentCore ends an idle session.
    pub idle_timeout: Option<Duration>,
    /// How long a process may take to answer `GET /ping` after it starts.
    pub start_timeout: Duration,
}

impl Default for AgentHost {
    fn default() -> AgentHost {
        AgentHost { uv: None, python: None, venvs: None, idle_timeout: None, start_timeout: Duration::from_secs(60) }
    }
}

/// A running agent process, as [`crate::LocalStack::agent_processes`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentProcessInfo {
    /// The runtime's id.
    pub runtime_id: String,
    /// The version the process runs.
    pub version: u32,
    /// Its loopback port (the agent believes it listens on its protocol's port: 8080 for HTTP).
    pub port: u16,
    /// Its process id.
    pub pid: u32,
}

/// Starts, finds and stops the agent processes of one stack.
pub(crate) struct Runner {
    dir: PathBuf,
    log: bool,
    host: Mutex<AgentHost>,
    /// What every agent process gets: the stack's endpoints, region and credentials.
    env: Vec<(String, String)>,
    slots: Mutex<HashMap<(String, u32), Arc<Slot>>>,
    stopped: AtomicBool,
}

/// One version's process, and the lock that makes concurrent first calls start it once.
#[derive(Default)]
struct Slot {
    starting: tokio::sync::Mutex<()>,
    current: Mutex<Option<Arc<AgentProcess>>>,
}

/// A started agent process; killed (with its process group) when stopped or dropped.
pub(crate) struct AgentProcess {
    runtime_id: String,
    version: u32,
    label: String,
    child: Mutex<tokio::process::Child>,
    pid: u32,
    port: u16,
    contract: Contract,
    idle_timeout: Duration,
    last_used: Mutex<Instant>,
    in_flight: AtomicUsize,
    output: Output,
}

/// Counts a call in flight on a process; the call ends when this is dropped.
pub(crate) struct InFlight(Arc<AgentProcess>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *lock(&self.0.last_used) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::ops::Deref for InFlight {
    type Target = AgentProcess;
    fn deref(&self) -> &AgentProcess {
        &self.0
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The last lines a process wrote (stdout and stderr interleaved as they came).
#[derive(Clone, Default)]
struct Output(Arc<Mutex<VecDeque<String>>>);

impl Output {
    fn push(&self, line: String) {
        let mut lines = lock(&self.0);
        if lines.len() == OUTPUT_LINES {
            lines.pop_front();
        }
        lines.push_back(line.chars().take(OUTPUT_LINE_CHARS).collect());
    }

    /// The kept lines, indented, or a note that there were none.
    fn tail(&self) -> String {
        let lines = lock(&self.0);
        if lines.is_empty() {
            return "  (no output)".to_owned();
        }
        lines.iter().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
    }
}

/// A failed start: AgentCore's RuntimeClientError, with the cause and the process's last output.
fn start_failure(target: &InvocationTarget, cause: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        424,
        "RuntimeClientError",
        format!(
            "Runtime initialization failed: {} version {} did not start: {cause}",
            target.runtime_name, target.version
        ),
    )
}

impl Runner {
    pub(crate) fn new(dir: &Path, log: bool, env: Vec<(String, String)>) -> Runner {
        Runner {
            dir: dir.to_path_buf(),
            log,
            host: Mutex::new(AgentHost::default()),
            env,
            slots: Mutex::default(),
            stopped: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_host(&self, host: AgentHost) {
        *lock(&self.host) = host;
    }

    /// The process that runs `target`'s version, started on first use, with this call counted.
    pub(crate) async fn process(&self, target: &InvocationTarget) -> Result<InFlight, ApiError> {
        let key = (target.runtime_id.clone(), target.version);
        let slot = Arc::clone(lock(&self.slots).entry(key).or_default());
        let _starting = slot.starting.lock().await;
        {
            let mut current = lock(&slot.current);
            if let Some(process) = current.as_ref().filter(|process| process.running()) {
                return Ok(process.enter());
            }
            if let Some(gone) = current.take() {
                gone.stop();
            }
        }
        if self.stopped.load(Ordering::SeqCst) {
            return Err(ApiError::internal("the local stack is stopping"));
        }
        let process = Arc::new(self.start(target).await?);
        if self.stopped.load(Ordering::SeqCst) {
            process.stop();
            return Err(ApiError::internal("the local stack is stopping"));
        }
        let call = process.enter();
        *lock(&slot.current) = Some(process);
        Ok(call)
    }

    async fn start(&self, target: &InvocationTarget) -> Result<AgentProcess, ApiError> {
        let host = lock(&self.host).clone();
        let (dir, planned) = (self.dir.clone(), target.clone());
        let host_for_plan = host.clone();
        let launch = tokio::task::spawn_blocking(move || plan(&dir, &host_for_plan, &planned))
            .await
            .map_err(|err| ApiError::internal(err.to_string()))?
            .map_err(|err| start_failure(target, format!("{err:#}")))?;
        let label = format!("{} v{}", target.runtime_name, target.version);
        if self.log {
            eprintln!("local agent {label}: starting {}", launch.describe());
        }
        let started = Instant::now();
        let contract = Contract::of(&target.config);
        let ports = self.dir.join(RUNS_DIR).join(".ports");
        std::fs::create_dir_all(&ports)
            .map_err(|err| ApiError::internal(format!("cannot create {}: {err}", ports.display())))?;
        let port_file = ports.join(hex::encode(rand::random::<[u8; 8]>()));
        let mut command = tokio::process::Command::new(&launch.program);
        command
            .args(&launch.args)
            .current_dir(&launch.code_dir)
            .env_clear()
            .envs(inherited_env())
            .envs(target_env(&target.config))
            .envs(self.env.iter().cloned())
            .env("PATH", launch.path_variable())
            .env("PYTHONUNBUFFERED", "1")
            .env("AGENTCORE_LOCAL_PORT_FILE", &port_file)
            .env("AGENTCORE_LOCAL_CONTRACT_PORT", contract.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        // A stack killed outright (SIGKILL) cannot stop its agents: the kernel does it.
        #[cfg(target_os = "linux")]
        // SAFETY: the closure runs in the child between fork and exec, and only calls prctl(2),
        // which is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|err| start_failure(target, format!("cannot run {}: {err}", launch.program.display())))?;
        let pid = child.id().unwrap_or_default();
        let output = Output::default();
        let readers = [
            child.stdout.take().map(|out| read_lines(out, output.clone(), self.log.then(|| label.clone()))),
            child.stderr.take().map(|err| read_lines(err, output.clone(), self.log.then(|| label.clone()))),
        ];
        let ready = wait_ready(&mut child, &port_file, &contract, started + host.start_timeout).await;
        let _ = std::fs::remove_file(&port_file);
        let port = match ready {
            Ok(port) => port,
            Err(cause) => {
                kill_group(pid);
                let _ = child.start_kill();
                // The output the process wrote before it ended, traceback included.
                for reader in readers.into_iter().flatten() {
                    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
                }
                return Err(start_failure(target, format!("{cause}; its last output:\n{}", output.tail())));
            }
        };
        if self.log {
            eprintln!(
                "local agent {label}: ready on 127.0.0.1:{port} ({} port {}) after {} ms",
                contract.protocol.as_str(),
                contract.port,
                started.elapsed().as_millis()
            );
        }
        let idle_timeout = host.idle_timeout.unwrap_or_else(|| idle_of(&target.config));
        Ok(AgentProcess {
            runtime_id: target.runtime_id.clone(),
            version: target.version,
            label,
            child: Mutex::new(child),
            pid,
            port,
            contract,
            idle_timeout,
            last_used: Mutex::new(Instant::now()),
            in_flight: AtomicUsize::new(0),
            output,
        })
    }

    /// Stops processes idle for longer than their timeout, and forgets those that ended by
    /// themselves (the next call starts them again).
    pub(crate) fn reap(&self) {
        let slots: Vec<Arc<Slot>> = lock(&self.slots).values().cloned().collect();
        for slot in slots {
            let mut current = lock(&slot.current);
            let Some(process) = current.as_ref() else { continue };
            let why = if !process.running() {
                "ended by itself"
            } else if process.in_flight.load(Ordering::SeqCst) == 0
                && lock(&process.last_used).elapsed() >= process.idle_timeout
            {
                "idle"
            } else {
                continue;
            };
            if self.log {
                eprintln!("local agent {}: stopping ({why})", process.label);
            }
            if let Some(process) = current.take() {
                process.stop();
            }
        }
    }

    /// Stops every process now; with `for_good`, none is started any more.
    pub(crate) fn stop_all(&self, for_good: bool) {
        if for_good {
            self.stopped.store(true, Ordering::SeqCst);
        }
        let slots: Vec<Arc<Slot>> = lock(&self.slots).values().cloned().collect();
        for slot in slots {
            if let Some(process) = lock(&slot.current).take() {
                process.stop();
            }
        }
    }

    pub(crate) fn processes(&self) -> Vec<AgentProcessInfo> {
        let slots: Vec<Arc<Slot>> = lock(&self.slots).values().cloned().collect();
        let mut infos: Vec<AgentProcessInfo> = slots
            .iter()
            .filter_map(|slot| {
                let current = lock(&slot.current);
                let process = current.as_ref().filter(|process| process.running())?;
                Some(AgentProcessInfo {
                    runtime_id: process.runtime_id.clone(),
                    version: process.version,
                    port: process.port,
                    pid: process.pid,
                })
            })
            .collect();
        infos.sort_by(|a, b| (&a.runtime_id, a.version).cmp(&(&b.runtime_id, b.version)));
        infos
    }
}

impl AgentProcess {
    fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        *lock(&self.last_used) = Instant::now();
        InFlight(Arc::clone(self))
    }

    fn running(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(None))
    }

    /// Why the process is gone, for an error message (`None` while it runs).
    pub(crate) fn ended(&self) -> Option<String> {
        match lock(&self.child).try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(format!("the agent process ended ({status})")),
            Err(err) => Some(format!("the agent process cannot be checked: {err}")),
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Where an invocation goes: the path of the version's protocol (or its own).
    pub(crate) fn path(&self) -> &str {
        &self.contract.path
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn output_tail(&self) -> String {
        self.output.tail()
    }

    fn stop(&self) {
        kill_group(self.pid);
        let _ = lock(&self.child).start_kill();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills the process group the agent leads (it may have started processes of its own).
fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

fn read_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    output: Output,
    echo: Option<String>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(label) = &echo {
                eprintln!("local agent {label}: {line}");
            }
            output.push(line);
        }
    })
}

/// Waits until the process has bound its contract port and is ready as its protocol says (`GET
/// /ping` answered with 200 for HTTP and AGUI, any HTTP answer for MCP and A2A); fails when it ends
/// first or the deadline passes.
async fn wait_ready(
    child: &mut tokio::process::Child,
    port_file: &Path,
    contract: &Contract,
    deadline: Instant,
) -> Result<u16, String> {
    let mut port = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("the agent process ended ({status}) before it answered GET /ping")),
            Ok(None) => {}
            Err(err) => return Err(format!("the agent process cannot be checked: {err}")),
        }
        if port.is_none() {
            port = std::fs::read_to_string(port_file).ok().and_then(|text| text.trim().parse::<u16>().ok());
        }
        if let Some(port) = port
            && let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(2), ping(port)).await
            && contract.ready(response)
        {
            return Ok(port);
        }
        if Instant::now() >= deadline {
            let what = contract.not_ready(port.is_some());
            return Err(format!("{what} within the start timeout; it was stopped"));
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn ping(port: u16) -> Result<hyper::StatusCode> {
    let request =
        hyper::Request::get("/ping").header("host", format!("127.0.0.1:{port}")).body(Full::new(Bytes::new()))?;
    let response = send(port, request).await?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Ok(status)
}

/// Sends one request to an agent process on its own connection (loopback: connecting is cheap,
/// and no connection outlives the process).
pub(crate) async fn send(port: u16, request: hyper::Request<Full<Bytes>>) -> Result<hyper::Response<Incoming>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender.send_request(request).await?)
}

/// What the process needs from the machine: a PATH to find programs, a home, a locale, a scratch
/// directory. Nothing else of the developer's environment (AWS credentials above all) reaches it.
fn inherited_env() -> Vec<(String, String)> {
    ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT"]
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|value| ((*name).to_owned(), value)))
        .collect()
}

/// The version's environment variables, as AgentCore passes them.
fn target_env(config: &Map<String, Value>) -> Vec<(String, String)> {
    config
        .get("environmentVariables")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| value.as_str().map(|value| (name.clone(), value.to_owned())))
        .collect()
}

fn idle_of(config: &Map<String, Value>) -> Duration {
    config
        .get("lifecycleConfiguration")
        .and_then(|lifecycle| lifecycle.get("idleRuntimeSessionTimeout"))
        .and_then(Value::as_u64)
        .map_or(DEFAULT_IDLE, Duration::from_secs)
}

/// How to start one version: everything decided and on disk, only the process left to spawn.
#[derive(Debug)]
struct Launch {
    program: PathBuf,
    args: Vec<PathBuf>,
    code_dir: PathBuf,
    /// The virtualenv's `bin`, first on PATH (launchers and `python` resolve there).
    bin: Option<PathBuf>,
}

impl Launch {
    fn describe(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|arg| arg.display().to_string()).collect();
        format!("{} {} in {}", self.program.display(), args.join(" "), self.code_dir.display())
    }

    fn path_variable(&self) -> std::ffi::OsString {
        let system = std::env::var_os("PATH").unwrap_or_default();
        let mut paths: Vec<PathBuf> = self.bin.iter().cloned().collect();
        paths.extend(std::env::split_paths(&system));
        std::env::join_paths(paths).unwrap_or(system)
    }
}

/// The code configuration of a version: where its zip is and how to start it.
struct Code<'a> {
    bucket: &'a str,
    key: &'a str,
    runtime: &'a str,
    entry_point: Vec<&'a str>,
}

fn code_of(config: &Map<String, Value>) -> Result<Code<'_>> {
    let artifact = config.get("agentRuntimeArtifact");
    let Some(code) = artifact.and_then(|artifact| artifact.get("codeConfiguration")) else {
        bail!(
            "the local data plane runs direct-code (codeConfiguration) versions only, and this one is a container image"
        );
    };
    let s3 = code.get("code").and_then(|code| code.get("s3"));
    let (Some(bucket), Some(key)) =
        (text(s3.and_then(|s3| s3.get("bucket"))), text(s3.and_then(|s3| s3.get("prefix"))))
    else {
        bail!("the version's codeConfiguration names no S3 object");
    };
    let entry_point: Vec<&str> =
        code.get("entryPoint").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if entry_point.is_empty() {
        bail!("the version's codeConfiguration has no entryPoint");
    }
    Ok(Code { bucket, key, runtime: text(code.get("runtime")).unwrap_or("PYTHON_3_12"), entry_point })
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// Everything but the process: the zip read, its dependencies installed, its code unpacked.
fn plan(dir: &Path, host: &AgentHost, target: &InvocationTarget) -> Result<Launch> {
    let code = code_of(&target.config)?;
    let Some(python_version) = code.runtime.strip_prefix("PYTHON_").map(|v| v.replace('_', ".")) else {
        bail!("the local data plane runs Python runtimes only, and this version's runtime is {}", code.runtime);
    };
    let location = format!("s3://{}/{}", code.bucket, code.key);
    let zip_path = artifact::object_path(dir, code.bucket, code.key)
        .filter(|path| path.is_file())
        .with_context(|| format!("its code artifact {location} is no longer in the local S3"))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(
        std::fs::File::open(&zip_path).with_context(|| format!("cannot read {location}"))?,
    ))
    .with_context(|| format!("{location} is not a valid zip file"))?;
    let pins = pins_of(&archive);
    let python = base_python(host.python.as_deref(), &python_version)?;
    let venv = if pins.is_empty() {
        None
    } else {
        let uv = host.uv.as_ref().with_context(|| {
            format!(
                "its {} dependencies must be installed for this machine, and the local stack was given no uv to do it: \
                 run it through `cargo xtask` (`local up`, or a command with `--local`), which brings its pinned uv, \
                 or give the stack one (AgentHost::uv)",
                pins.len()
            )
        })?;
        let uv = uv.find().context("cannot find uv to install the version's dependencies for this machine")?;
        let venvs = host.venvs.clone().unwrap_or_else(|| dir.join("host-venvs"));
        Some(ensure_venv(&uv, &python, &pins, &venvs)?)
    };
    let dependencies = match &venv {
        Some(venv) => site_packages_names(venv)?,
        None => BTreeSet::new(),
    };
    let runs = dir.join(RUNS_DIR);
    let code_dir = runs.join(&target.runtime_id).join(format!("v{}", target.version));
    if !code_dir.is_dir() {
        unpack(&mut archive, &code_dir, &dependencies).with_context(|| format!("cannot unpack {location}"))?;
    }
    let boot = boot_script(&runs)?;
    let (file, launcher) = match code.entry_point.as_slice() {
        [file] => (*file, None),
        [launcher, file] => (*file, Some(*launcher)),
        _ => bail!("the entryPoint has {} items; AgentCore takes 1 or 2", code.entry_point.len()),
    };
    let interpreter = venv.as_ref().map_or_else(|| python.executable.clone(), |venv| venv.join("bin").join("python"));
    let mut args = vec![boot, PathBuf::from(file)];
    let program = match launcher {
        None => interpreter,
        Some(launcher) => {
            let program = venv.as_ref().map(|venv| venv.join("bin").join(launcher)).filter(|path| path.is_file());
            let Some(program) = program else {
                bail!("its entry point starts with `{launcher}`, which none of the version's dependencies installs");
            };
            args.insert(0, interpreter);
            program
        }
    };
    Ok(Launch { program, args, code_dir, bin: venv.map(|venv| venv.join("bin")) })
}

/// `name==version` of every distribution installed in the zip, from its `.dist-info` directories.
fn pins_of<R: std::io::Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> BTreeSet<String> {
    archive
        .file_names()
        .filter_map(|name| {
            let name = name.ok()?;
            let stem = name.split('/').next()?.strip_suffix(".dist-info")?;
            // Wheel directory names escape `-` in both parts, so the first `-` separates them.
            let (distribution, version) = stem.split_once('-')?;
            Some(format!("{distribution}=={version}"))
        })
        .collect()
}

/// The interpreter the agents run on, as the path it runs from and its `X.Y`.
#[derive(Debug, Clone)]
struct BasePython {
    executable: PathBuf,
    version: String,
}

/// The configured Python, else `python3.X` of the runtime when it runs here, else `python3`. Each is
/// asked for `sys.executable`: a pyenv shim or another virtualenv's `python3` would not do as the
/// base of a virtualenv.
fn base_python(configured: Option<&Path>, runtime_version: &str) -> Result<BasePython> {
    let candidates: Vec<PathBuf> = match configured {
        Some(python) => vec![python.to_path_buf()],
        None => vec![PathBuf::from(format!("python{runtime_version}")), PathBuf::from("python3")],
    };
    let mut problems = Vec::new();
    for candidate in &candidates {
        let output = std::process::Command::new(candidate)
            .args(["-c", "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"])
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .stdin(Stdio::null())
            .output();
        match output {
            Ok(output) if output.status.success() => {
                let text = String::from_utf8_lossy(&output.stdout);
                let mut lines = text.lines();
                if let (Some(executable), Some(version)) = (lines.next(), lines.next()) {
                    return Ok(BasePython { executable: PathBuf::from(executable), version: version.to_owned() });
                }
                problems.push(format!("{} printed no interpreter path", candidate.display()));
            }
            Ok(output) => problems.push(format!("{} exited with {}", candidate.display(), output.status)),
            Err(err) => problems.push(format!("{} does not run ({err})", candidate.display())),
        }
    }
    bail!("no Python to run the agent: {}; install Python 3 (python3 on PATH)", problems.join(", "))
}

/// The virtualenv with `pins` installed for this machine: cached under `venvs` by the hash of
/// everything that decides its content, built beside its final place and renamed into it (an
/// interrupted build never looks complete), one build at a time across processes.
fn ensure_venv(uv: &Path, python: &BasePython, pins: &BTreeSet<String>, venvs: &Path) -> Result<PathBuf> {
    let requirements: String = pins.iter().map(|pin| format!("{pin}\n")).collect();
    let mut hasher = Sha256::new();
    for part in [VENV_FORMAT, &python.executable.to_string_lossy(), &python.version, &requirements] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let key = hex::encode(hasher.finalize())[..24].to_owned();
    let venv = venvs.join(&key);
    if venv.is_dir() {
        return Ok(venv);
    }
    std::fs::create_dir_all(venvs).with_context(|| format!("cannot create {}", venvs.display()))?;
    let _lock = store::lock_file(venvs, ".lock")?;
    if venv.is_dir() {
        return Ok(venv);
    }
    // Builds happen under the lock only, so any staging directory left is from a build that died.
    for entry in std::fs::read_dir(venvs)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let staging = venvs.join(format!(".tmp-{key}"));
    let run = |what: &str, command: &mut std::process::Command| -> Result<()> {
        let output = command.stdin(Stdio::null()).output().with_context(|| format!("cannot run {}", uv.display()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
            bail!(
                "{what} failed (is PyPI reachable? uv honours UV_INDEX_URL and HTTPS_PROXY):\n{}",
                lines[lines.len().saturating_sub(15)..].iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    };
    // Relocatable: scripts find their interpreter relative to themselves, so the rename keeps them working.
    run(
        "making a virtualenv with uv",
        std::process::Command::new(uv)
            .args(["venv", "--quiet", "--relocatable", "--python"])
            .arg(&python.executable)
            .arg(&staging),
    )?;
    let requirements_file = staging.join("agentcore-requirements.txt");
    std::fs::write(&requirements_file, &requirements)?;
    run(
        &format!("installing the version's {} dependencies for this machine with uv", pins.len()),
        std::process::Command::new(uv)
            .args(["pip", "install", "--quiet", "--color", "never", "--python"])
            .arg(staging.join("bin").join("python"))
            .arg("--requirements")
            .arg(&requirements_file),
    )?;
    std::fs::rename(&staging, &venv).with_context(|| format!("cannot move the virtualenv to {}", venv.display()))?;
    Ok(venv)
}

/// The names the virtualenv's packages occupy at the top of its site-packages.
fn site_packages_names(venv: &Path) -> Result<BTreeSet<String>> {
    let lib = venv.join("lib");
    let mut names = BTreeSet::new();
    for python in std::fs::read_dir(&lib).with_context(|| format!("cannot read {}", lib.display()))?.flatten() {
        let site = python.path().join("site-packages");
        for entry in std::fs::read_dir(&site).into_iter().flatten().flatten() {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// Whether a top-level zip entry belongs to a dependency, which the virtualenv provides instead.
fn is_dependency(top: &str, dependencies: &BTreeSet<String>) -> bool {
    top.ends_with(".dist-info") || top.ends_with(".data") || dependencies.contains(top)
}

/// Unpacks the agent's own files (not its dependencies) into `code_dir`, through a staging
/// directory renamed into place.
fn unpack<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    code_dir: &Path,
    dependencies: &BTreeSet<String>,
) -> Result<()> {
    let parent = code_dir.parent().context("the code directory has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = parent.join(format!(
        ".tmp-{}-{}",
        code_dir.file_name().unwrap_or_default().to_string_lossy(),
        hex::encode(rand::random::<[u8; 6]>())
    ));
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(&staging)?;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index)?;
            let Some(relative) = entry.enclosed_name() else { continue };
            let top = relative.components().next().map(|part| part.as_os_str().to_string_lossy().into_owned());
            if top.is_none_or(|top| is_dependency(&top, dependencies)) {
                continue;
            }
            let path = staging.join(&relative);
            if entry.is_dir() {
                std::fs::create_dir_all(&path)?;
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = std::fs::File::create(&path)?;
            std::io::copy(&mut entry, &mut file)?;
            #[cfg(unix)]
            if let Some(mode) = entry.unix_mode() {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))?;
            }
        }
        Ok(())
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    if std::fs::rename(&staging, code_dir).is_err() {
        // Another stack on the same state unpacked it first: theirs is the same code.
        let _ = std::fs::remove_dir_all(&staging);
        if !code_dir.is_dir() {
            bail!("cannot move the unpacked code to {}", code_dir.display());
        }
    }
    Ok(())
}

/// The boot script, written under `runs` once per content (a newer build writes its own).
fn boot_script(runs: &Path) -> Result<PathBuf> {
    let digest = hex::encode(&Sha256::digest(BOOT_SCRIPT.as_bytes())[..6]);
    let path = runs.join(format!("agentcore_local_boot_{digest}.py"));
    if !path.is_file() {
        std::fs::create_dir_all(runs).with_context(|| format!("cannot create {}", runs.display()))?;
        let staged = runs.join(format!(".tmp-boot-{}", hex::encode(rand::random::<[u8; 6]>())));
        std::fs::write(&staged, BOOT_SCRIPT).with_context(|| format!("cannot write {}", staged.display()))?;
        std::fs::rename(&staged, &path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_come_from_the_dist_info_directories() {
        let mut buffer = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default();
        for name in [
            "main.py",
            "python_dateutil-2.9.0.post0.dist-info/METADATA",
            "python_dateutil-2.9.0.post0.dist-info/WHEEL",
            "dateutil/__init__.py",
            "pydantic_core-2.50.5.dist-info/METADATA",
        ] {
            writer.start_file(name, options).unwrap();
        }
        writer.finish().unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(buffer.into_inner())).unwrap();
        let pins: Vec<String> = pins_of(&archive).into_iter().collect();
        assert_eq!(pins, ["pydantic_core==2.50.5", "python_dateutil==2.9.0.post0"]);
    }

    #[test]
    fn dependencies_stay_out_of_the_code_directory() {
        let names: BTreeSet<String> = ["dateutil", "six.py"].iter().map(|name| name.to_string()).collect();
        assert!(is_dependency("dateutil", &names));
        assert!(is_dependency("six.py", &names));
        assert!(is_dependency("six-1.17.0.dist-info", &names));
        assert!(!is_dependency("main.py", &names));
        assert!(!is_dependency("system_prompt.txt", &names));
    }

    #[test]
    fn idle_timeout_follows_the_lifecycle() {
        let config = serde_json::json!({ "lifecycleConfiguration": { "idleRuntimeSessionTimeout": 60 } });
        assert_eq!(idle_of(config.as_object().unwrap()), Duration::from_secs(60));
        assert_eq!(idle_of(&Map::new()), DEFAULT_IDLE);
    }
}
