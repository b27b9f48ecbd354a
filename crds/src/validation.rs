//! Semantic validation: the rules a schema cannot express (or that standalone mode must check
//! without an API server), each reported with the field path it concerns.
//!
//! Every kind implements [`Validate`]; `validate()` never stops at the first problem, so one
//! run of `operator validate` shows a person everything to fix.

use std::fmt;

/// One thing wrong with a spec: where (a JSON-path-like field path such as
/// `spec.expect.statusCodes[1]`) and what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Field path, starting at `spec`.
    pub field: String,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl Problem {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Semantic validation of a resource spec.
pub trait Validate {
    /// Every problem found; empty when the spec is valid.
    fn validate(&self) -> Vec<Problem>;
}

/// Runs the CEL rules of a resource's schema client-side (the same rules the API server
/// enforces), so standalone mode and `operator validate` reject exactly what a cluster
/// would. Each failed rule becomes a [`Problem`].
///
/// The schema's rules are compiled once per kind and thread: compiling them for every
/// object (what `kube::core::cel::validate_cel` does) cost ~2.5 ms per Monitor, two
/// minutes of CPU for a directory of 50,000.
pub fn cel_problems<K>(object: &K) -> Vec<Problem>
where
    K: kube::CustomResourceExt + serde::Serialize,
{
    let value = match serde_json::to_value(object) {
        Ok(value) => value,
        Err(e) => return vec![Problem::new("spec", format!("does not serialise: {e}"))],
    };
    let outcome = COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let schema = compiled
            .entry(K::crd_name())
            .or_insert_with(|| std::rc::Rc::new(CompiledRules::of::<K>()))
            .clone();
        drop(compiled);
        schema
            .validator
            .validate_compiled(&schema.rules, &value, None)
    });
    match outcome {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .into_iter()
            .map(|e| {
                let field = if e.field_path.is_empty() {
                    "spec".to_string()
                } else {
                    e.field_path.clone()
                };
                Problem::new(field, e.message.clone())
            })
            .collect(),
    }
}

/// A kind's compiled CEL rules and the evaluator with the Kubernetes CEL functions.
struct CompiledRules {
    validator: kube::core::cel::Validator,
    rules: kube::core::cel::CompiledSchema,
}

impl CompiledRules {
    fn of<K: kube::CustomResourceExt>() -> Self {
        let crd = K::crd();
        let schema = crd
            .spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_default();
        Self {
            validator: kube::core::cel::Validator::new(),
            rules: kube::core::cel::compile_schema(&schema),
        }
    }
}

thread_local! {
    /// Compiled rules by CRD name (the evaluator is not `Sync`, so one set per thread).
    static COMPILED: std::cell::RefCell<
        std::collections::HashMap<&'static str, std::rc::Rc<CompiledRules>>,
    > = std::cell::RefCell::default();
}

/// Checks a Kubernetes object name reference (`channelRef`, `monitorRef`): a DNS-1123
/// subdomain, at most 253 characters.
pub(crate) fn check_object_name(field: &str, name: &str, problems: &mut Vec<Problem>) {
    if name.is_empty() {
        problems.push(Problem::new(field, "must not be empty"));
        return;
    }
    if name.len() > 253 {
        problems.push(Problem::new(field, "must be at most 253 characters"));
    }
    let valid = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        problems.push(Problem::new(
            field,
            format!(
                "{name:?} is not a valid object name (lowercase letters, digits, '-' and '.', starting and ending alphanumeric)"
            ),
        ));
    }
}
