//! Fault injection, quota overrides and the clock offset, kept in `<dir>/faults.json` so other
//! processes can drive them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::model::{DATA_OPERATIONS, OPERATIONS};
use super::store;

/// Faults for one operation (of the control plane, or the data plane's InvokeAgentRuntime, which
/// takes `throttle`, `internal_error` and `latency_ms`). Counters are consumed one per request (or
/// per resource for `stuck` and `fail`); `latency_ms` applies to every request while set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct OperationFaults {
    /// Answer the next N requests with 429 ThrottlingException.
    pub throttle: u32,
    /// Answer the next N requests with 500 InternalServerException.
    pub internal_error: u32,
    /// Delay every request by this many milliseconds.
    pub latency_ms: u64,
    /// The next N resources this operation creates or changes never leave their transitional status.
    pub stuck: u32,
    /// The next N resources this operation creates or changes end `*_FAILED` with `failure_reason`
    /// (DeleteAgentRuntime and DeleteAgentRuntimeEndpoint: the runtime or endpoint ends
    /// DELETE_FAILED and stays until deleted again).
    pub fail: u32,
    /// The `failureReason` of the resources `fail` fails (a default naming the operation when unset).
    pub failure_reason: Option<String>,
}

/// Quotas; AWS defaults unless lowered (for tests of the 402 path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct Quotas {
    /// Runtimes in the account.
    pub runtimes: usize,
    /// Versions of one runtime.
    pub versions_per_runtime: usize,
    /// Endpoints of one runtime, `DEFAULT` included.
    pub endpoints_per_runtime: usize,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas { runtimes: 1000, versions_per_runtime: 1000, endpoints_per_runtime: 10 }
    }
}

/// The whole `faults.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct FaultsConfig {
    /// Keyed by operation name, e.g. `UpdateAgentRuntime`.
    pub operations: BTreeMap<String, OperationFaults>,
    /// Quotas in force.
    pub quotas: Quotas,
    /// Milliseconds added to the wall clock wherever the control plane reads the time: the
    /// timestamps it reports (`createdAt`, `lastUpdatedAt`) and its transitions. Negative puts it in
    /// the past, so a resource made meanwhile looks as old as a test needs.
    pub clock_offset_ms: i64,
}

/// What a request draws from the configured faults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Drawn {
    pub(crate) throttle: bool,
    pub(crate) internal_error: bool,
    pub(crate) latency: Duration,
    /// The clock offset in force (`clock_offset_ms`).
    pub(crate) clock_offset_ms: i64,
}

/// A handle on a stack's fault configuration (in-process or over a state directory).
#[derive(Debug, Clone)]
pub struct Faults {
    dir: PathBuf,
}

impl Faults {
    pub(crate) fn new(dir: &Path) -> Faults {
        Faults { dir: dir.to_path_buf() }
    }

    /// The file another process may edit (whole-file replace) to configure faults.
    pub fn path(&self) -> PathBuf {
        self.dir.join(store::FAULTS_FILE)
    }

    /// The configuration in force (defaults when nothing is configured).
    pub fn load(&self) -> Result<FaultsConfig> {
        store::with_lock(&self.dir, || read(&self.path()))?
    }

    /// Replaces the whole configuration.
    fn set(&self, config: &FaultsConfig) -> Result<()> {
        for operation in config.operations.keys() {
            check_operation(operation)?;
        }
        store::with_lock(&self.dir, || store::write_json(&self.path(), config))?
    }

    /// Changes the configuration, read and written back under the lock.
    fn change(&self, change: impl FnOnce(&mut FaultsConfig)) -> Result<()> {
        store::with_lock(&self.dir, || {
            let mut config = read(&self.path())?;
            change(&mut config);
            store::write_json(&self.path(), &config)
        })?
    }

    /// Changes one operation's faults.
    fn update(&self, operation: &str, change: impl FnOnce(&mut OperationFaults)) -> Result<()> {
        check_operation(operation)?;
        self.change(|config| change(config.operations.entry(operation.to_owned()).or_default()))
    }

    /// Answers the next `times` requests for `operation` with 429 ThrottlingException.
    pub fn throttle(&self, operation: &str, times: u32) -> Result<()> {
        self.update(operation, |faults| faults.throttle = times)
    }

    /// Answers the next `times` requests for `operation` with 500 InternalServerException.
    pub fn internal_error(&self, operation: &str, times: u32) -> Result<()> {
        self.update(operation, |faults| faults.internal_error = times)
    }

    /// Delays every request for `operation` by `latency` (zero removes the delay).
    pub fn latency(&self, operation: &str, latency: Duration) -> Result<()> {
        self.update(operation, |faults| faults.latency_ms = latency.as_millis() as u64)
    }

    /// Keeps the next `times` resources `operation` creates or changes in their transitional status.
    pub fn stuck(&self, operation: &str, times: u32) -> Result<()> {
        self.update(operation, |faults| faults.stuck = times)
    }

    /// Makes the next `times` resources `operation` creates or changes end `*_FAILED` with `reason`.
    pub fn fail(&self, operation: &str, times: u32, reason: &str) -> Result<()> {
        self.update(operation, |faults| {
            faults.fail = times;
            faults.failure_reason = Some(reason.to_owned());
        })
    }

    /// Replaces the quotas (AWS's defaults until set).
    pub fn set_quotas(&self, quotas: Quotas) -> Result<()> {
        self.change(|config| config.quotas = quotas)
    }

    /// Moves the control plane's clock `offset_ms` milliseconds away from the wall clock (negative:
    /// into the past); 0 puts it back. What it creates or changes meanwhile carries those times.
    pub fn set_clock_offset(&self, offset_ms: i64) -> Result<()> {
        self.change(|config| config.clock_offset_ms = offset_ms)
    }

    /// Removes every fault and quota override, and the clock offset.
    pub fn clear(&self) -> Result<()> {
        self.set(&FaultsConfig::default())
    }
}

/// Reads `faults.json` (defaults when absent), refusing operations the stack does not serve, which
/// would otherwise be ignored without a word.
pub(crate) fn read(path: &Path) -> Result<FaultsConfig> {
    let config: FaultsConfig = store::read_json(path)?;
    for operation in config.operations.keys() {
        check_operation(operation).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    }
    Ok(config)
}

fn check_operation(operation: &str) -> Result<()> {
    if !OPERATIONS.contains(&operation) && !DATA_OPERATIONS.contains(&operation) {
        let known: Vec<&str> = OPERATIONS.iter().chain(DATA_OPERATIONS).copied().collect();
        bail!("unknown operation `{operation}` for fault injection; use one of {}", known.join(", "));
    }
    Ok(())
}

/// Draws the per-request faults of `operation` (throttling first, then internal errors), consuming
/// counters. The caller holds the state lock.
pub(crate) fn draw(dir: &Path, operation: &str) -> Result<(Drawn, Quotas)> {
    let path = dir.join(store::FAULTS_FILE);
    let mut config = read(&path)?;
    let mut drawn = Drawn { clock_offset_ms: config.clock_offset_ms, ..Drawn::default() };
    if let Some(faults) = config.operations.get_mut(operation) {
        drawn.latency = Duration::from_millis(faults.latency_ms);
        if faults.throttle > 0 {
            faults.throttle -= 1;
            drawn.throttle = true;
        } else if faults.internal_error > 0 {
            faults.internal_error -= 1;
            drawn.internal_error = true;
        }
        if drawn.throttle || drawn.internal_error {
            store::write_json(&path, &config)?;
        }
    }
    Ok((drawn, config.quotas))
}

/// What happens to a resource an operation creates or changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResourceFate {
    pub(crate) stuck: bool,
    pub(crate) failure: Option<String>,
}

/// Consumes one `stuck` or `fail` for a resource `operation` is about to create. The caller holds the lock.
pub(crate) fn draw_fate(dir: &Path, operation: &str) -> Result<ResourceFate> {
    let path = dir.join(store::FAULTS_FILE);
    let mut config = read(&path)?;
    let Some(faults) = config.operations.get_mut(operation) else { return Ok(ResourceFate::default()) };
    let mut fate = ResourceFate::default();
    if faults.stuck > 0 {
        faults.stuck -= 1;
        fate.stuck = true;
    } else if faults.fail > 0 {
        faults.fail -= 1;
        fate.failure = Some(
            faults.failure_reason.clone().unwrap_or_else(|| format!("injected failure of {operation} (faults.json)")),
        );
    } else {
        return Ok(fate);
    }
    store::write_json(&path, &config)?;
    Ok(fate)
}
