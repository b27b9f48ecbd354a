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
pub fn cel_problems<K>(object: &K) -> Vec<Problem>
where
    K: kube::CustomResourceExt + serde::Serialize,
{
    match kube::core::cel::validate_cel(object) {
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
