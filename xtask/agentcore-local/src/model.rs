//! The models the local stack validates with: the control plane's, shared with xtask through the
//! `agentcore-model` crate, and the data plane's InvokeAgentRuntime, vendored here.

use std::sync::OnceLock;

pub use agentcore_model::OPERATIONS;
pub(crate) use agentcore_model::{FieldError, Location, Model};

/// The data plane's botocore model (`bedrock-agentcore`, 2024-02-28), vendored unmodified.
const DATA_MODEL_JSON: &str = include_str!("model/data-plane/service-2.json");

/// The data-plane operations the local stack serves.
pub const DATA_OPERATIONS: &[&str] = &["InvokeAgentRuntime"];

/// The control-plane model, parsed on first use.
pub(crate) fn model() -> &'static Model {
    agentcore_model::control()
}

/// The data-plane model, parsed on the first invocation.
pub(crate) fn data_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(DATA_MODEL_JSON, DATA_OPERATIONS).expect("the vendored model is valid JSON"))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_data_model_compiles_and_validates() {
        assert!(data_model().uncompiled_patterns().is_empty());
        let mut errors = Vec::new();
        let account = Value::String("12345".into());
        data_model().validate("InvokeAgentRuntimeRequestAccountIdString", &account, "accountId", &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
