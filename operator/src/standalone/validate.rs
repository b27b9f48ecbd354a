//! `operator validate DIR`: everything wrong with a directory of manifests, one line each:
//! `file:line: Kind/namespace/name: field: problem`.

use std::{collections::BTreeMap, fmt, path::Path};

use crds::{Validate, manifest::Manifest};

use super::{
    load::{Loaded, load_dir, name, namespace},
    locate::line_of,
};
use crate::Result;

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// File.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// `Kind/namespace/name`, or empty when the document could not be identified.
    pub object: String,
    /// Field path, or empty for whole-document problems.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.path, self.line)?;
        if !self.object.is_empty() {
            write!(f, "{}: ", self.object)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Validates every manifest under `dir`.
///
/// # Errors
/// [`crate::Error::Io`] when the directory cannot be read (not for invalid manifests:
/// those are findings).
pub fn validate_dir(dir: &Path) -> Result<Vec<Finding>> {
    Ok(validate_loaded(&load_dir(dir)?))
}

/// Validates what was loaded.
pub fn validate_loaded(loaded: &Loaded) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let channels: std::collections::BTreeSet<(String, String)> = loaded
        .manifests()
        .filter_map(|(_, m)| match m {
            Manifest::NotificationChannel(c) => Some((namespace(&c.metadata), name(&c.metadata))),
            _ => None,
        })
        .collect();
    for document in &loaded.documents {
        let path = document.path.display().to_string();
        let text = loaded.texts.get(&document.path).map_or("", String::as_str);
        let manifest = match &document.parsed {
            Err(error) => {
                findings.push(Finding {
                    path,
                    line: document.line,
                    object: error.object.clone(),
                    field: String::new(),
                    message: error.message.clone(),
                });
                continue;
            }
            Ok(Manifest::Other { .. } | Manifest::Secret(_)) => continue,
            Ok(m) => m,
        };
        let object = manifest.describe();
        let mut add = |field: &str, message: String| {
            findings.push(Finding {
                path: path.clone(),
                line: line_of(text, document.line, field),
                object: object.clone(),
                field: field.to_string(),
                message,
            });
        };
        let (meta, problems, channel_refs) = match manifest {
            Manifest::Monitor(o) => (&o.metadata, o.validate(), vec![]),
            Manifest::AlertRule(o) => (
                &o.metadata,
                o.validate(),
                vec![("spec.channelRef".to_string(), o.spec.channel_ref.clone())],
            ),
            Manifest::EscalationPolicy(o) => (
                &o.metadata,
                o.validate(),
                o.spec
                    .levels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        (
                            format!("spec.levels[{i}].channelRef"),
                            l.channel_ref.clone(),
                        )
                    })
                    .collect(),
            ),
            Manifest::NotificationChannel(o) => (&o.metadata, o.validate(), vec![]),
            Manifest::Secret(_) | Manifest::Other { .. } => continue,
        };
        if meta.name.as_deref().is_none_or(str::is_empty) {
            add("metadata.name", "is required".to_string());
        }
        for problem in problems {
            add(&problem.field, problem.message);
        }
        let ns = namespace(meta);
        for (field, channel) in channel_refs {
            if !channel.is_empty() && !channels.contains(&(ns.clone(), channel.clone())) {
                add(
                    &field,
                    format!("NotificationChannel {ns}/{channel} is not defined in this directory"),
                );
            }
        }
        if let Some((first_path, first_line)) = seen.get(&object) {
            add(
                "metadata.name",
                format!("duplicate: {object} is already defined at {first_path}:{first_line}"),
            );
        } else {
            seen.insert(object.clone(), (path.clone(), document.line));
        }
    }
    findings
}
