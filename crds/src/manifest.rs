//! Reading manifests from YAML text: the multi-document files people keep in Git, split
//! into typed objects with the line each starts on, so errors can say `file:line`.
//!
//! Standalone mode and `operator validate` read directories with this; the examples test
//! reads `examples/` with it. Documents of other kinds (a ConfigMap in the same folder) are
//! returned as [`Manifest::Other`] so callers can skip them knowingly.

use k8s_openapi::api::core::v1::Secret;

use crate::{AlertRule, EscalationPolicy, Monitor, NotificationChannel};

/// One parsed document.
#[derive(Clone, Debug)]
pub enum Manifest {
    /// A Monitor.
    Monitor(Box<Monitor>),
    /// An AlertRule.
    AlertRule(Box<AlertRule>),
    /// An EscalationPolicy.
    EscalationPolicy(Box<EscalationPolicy>),
    /// A NotificationChannel.
    NotificationChannel(Box<NotificationChannel>),
    /// A Secret (credentials for channels and headers in standalone mode).
    Secret(Box<Secret>),
    /// Any other kind: not ours, ignored.
    Other {
        /// `apiVersion` as written.
        api_version: String,
        /// `kind` as written.
        kind: String,
    },
}

impl Manifest {
    /// `Kind/namespace/name` for messages (namespace `default` when unset).
    pub fn describe(&self) -> String {
        let (kind, meta) = match self {
            Self::Monitor(o) => ("Monitor", &o.metadata),
            Self::AlertRule(o) => ("AlertRule", &o.metadata),
            Self::EscalationPolicy(o) => ("EscalationPolicy", &o.metadata),
            Self::NotificationChannel(o) => ("NotificationChannel", &o.metadata),
            Self::Secret(o) => ("Secret", &o.metadata),
            Self::Other { kind, .. } => return kind.clone(),
        };
        format!(
            "{kind}/{}/{}",
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or("<unnamed>")
        )
    }
}

/// A document with the 1-based line its content starts on.
#[derive(Clone, Debug)]
pub struct Located<T> {
    /// Line in the file.
    pub line: usize,
    /// The parsed document (or the error).
    pub value: T,
}

/// Why a document could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What identifies the object, as far as it could be read (`Monitor/ns/name`), or
    /// empty.
    pub object: String,
    /// The problem, with the field path where serde names one.
    pub message: String,
}

/// Splits YAML text into documents and parses each. Empty documents are skipped.
pub fn parse_documents(text: &str) -> Vec<Located<Result<Manifest, ParseError>>> {
    split_documents(text)
        .into_iter()
        .filter(|(_, body)| {
            body.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|(start, body)| {
            let first_content = body
                .lines()
                .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .unwrap_or(0);
            let (line_offset, value) = parse_document(&body);
            Located {
                line: start + line_offset.unwrap_or(first_content),
                value,
            }
        })
        .collect()
}

/// Returns `(first line number, document text)` for each `---`-separated document.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            documents.push((start, std::mem::take(&mut current)));
            start = i + 2;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.push((start, current));
    documents
}

/// Parses one document; on a field error returns the 0-based line of the error within it.
fn parse_document(body: &str) -> (Option<usize>, Result<Manifest, ParseError>) {
    let value: serde_yaml::Value = match serde_yaml::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map(|l| l.line().saturating_sub(1));
            return (
                line,
                Err(ParseError {
                    object: String::new(),
                    message: format!("invalid YAML: {e}"),
                }),
            );
        }
    };
    let text = |key: &str| {
        value
            .get(key)
            .and_then(serde_yaml::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let api_version = text("apiVersion");
    let kind = text("kind");
    let meta = |key: &str| {
        value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(serde_yaml::Value::as_str)
            .map(str::to_string)
    };
    let object = format!(
        "{kind}/{}/{}",
        meta("namespace").unwrap_or_else(|| "default".into()),
        meta("name").unwrap_or_else(|| "<unnamed>".into())
    );
    if kind.is_empty() {
        return (
            None,
            Err(ParseError {
                object: String::new(),
                message: "document has no kind".into(),
            }),
        );
    }
    let ours = api_version.starts_with(&format!("{}/", crate::GROUP));
    if ours && api_version != format!("{}/{}", crate::GROUP, crate::VERSION) {
        return (
            None,
            Err(ParseError {
                object,
                message: format!(
                    "apiVersion {api_version} is not served (use {}/{})",
                    crate::GROUP,
                    crate::VERSION
                ),
            }),
        );
    }
    fn typed<T: serde::de::DeserializeOwned>(
        body: &str,
        object: &str,
        wrap: impl FnOnce(T) -> Manifest,
    ) -> (Option<usize>, Result<Manifest, ParseError>) {
        // serde_yaml reports the path of the failing field (e.g. `spec.method: unknown
        // variant`) and its location.
        match serde_yaml::from_str::<T>(body) {
            Ok(v) => (None, Ok(wrap(v))),
            Err(e) => (
                e.location().map(|l| l.line().saturating_sub(1)),
                Err(ParseError {
                    object: object.to_string(),
                    message: e.to_string(),
                }),
            ),
        }
    }
    match (ours, kind.as_str(), api_version.as_str()) {
        (true, "Monitor", _) => typed(body, &object, |o| Manifest::Monitor(Box::new(o))),
        (true, "AlertRule", _) => typed(body, &object, |o| Manifest::AlertRule(Box::new(o))),
        (true, "EscalationPolicy", _) => {
            typed(body, &object, |o| Manifest::EscalationPolicy(Box::new(o)))
        }
        (true, "NotificationChannel", _) => typed(body, &object, |o| {
            Manifest::NotificationChannel(Box::new(o))
        }),
        (true, other, _) => (
            None,
            Err(ParseError {
                object,
                message: format!(
                    "unknown kind {other:?} (expected Monitor, AlertRule, EscalationPolicy or NotificationChannel)"
                ),
            }),
        ),
        (false, "Secret", "v1") => typed(body, &object, |o| Manifest::Secret(Box::new(o))),
        (false, _, _) => (None, Ok(Manifest::Other { api_version, kind })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# monitors\n---\napiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: a}\nspec: {url: 'https://a.example'}\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: b, namespace: shop}\nspec:\n  url: https://b.example\n  method: FETCH\n";

    #[test]
    fn documents_are_split_typed_and_located() {
        let docs = parse_documents(TEXT);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].line, 3);
        assert!(
            matches!(&docs[0].value, Ok(Manifest::Monitor(m)) if m.metadata.name.as_deref() == Some("a"))
        );
        assert!(matches!(&docs[1].value, Ok(Manifest::Other { kind, .. }) if kind == "ConfigMap"));
        let error = docs[2].value.as_ref().unwrap_err();
        assert_eq!(error.object, "Monitor/shop/b");
        assert!(error.message.contains("spec.method"), "{}", error.message);
        assert_eq!(docs[2].line, 19, "the line of the bad field");
    }

    #[test]
    fn unserved_versions_and_unknown_kinds_of_our_group_are_errors() {
        let docs = parse_documents(
            "apiVersion: uptimesentinel.io/v1\nkind: Monitor\nmetadata: {name: a}\n---\napiVersion: uptimesentinel.io/v1alpha1\nkind: Probe\nmetadata: {name: p}\n",
        );
        assert!(
            docs[0]
                .value
                .as_ref()
                .unwrap_err()
                .message
                .contains("not served")
        );
        assert!(
            docs[1]
                .value
                .as_ref()
                .unwrap_err()
                .message
                .contains("unknown kind \"Probe\"")
        );
    }
}
