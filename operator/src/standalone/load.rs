//! Reading a directory of manifests.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use crds::manifest::{Manifest, ParseError, parse_documents};

use crate::{
    Error, Result,
    references::{StaticReferences, secret_data},
};

/// One document of one file.
#[derive(Clone, Debug)]
pub struct Document {
    /// The file.
    pub path: PathBuf,
    /// 1-based line where the document's content starts (or the error's line).
    pub line: usize,
    /// The parsed object or why it could not be read.
    pub parsed: std::result::Result<Manifest, ParseError>,
}

/// Everything read from a directory.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Every document, in file order.
    pub documents: Vec<Document>,
    /// File contents, for locating fields.
    pub texts: BTreeMap<PathBuf, String>,
}

impl Loaded {
    /// Documents that parsed.
    pub fn manifests(&self) -> impl Iterator<Item = (&Document, &Manifest)> {
        self.documents
            .iter()
            .filter_map(|d| d.parsed.as_ref().ok().map(|m| (d, m)))
    }

    /// Whether any document failed to parse.
    pub fn has_parse_errors(&self) -> bool {
        self.documents.iter().any(|d| d.parsed.is_err())
    }

    /// The channels and Secrets in the set, for resolving references.
    pub fn references(&self) -> StaticReferences {
        let mut references = StaticReferences::default();
        for (_, manifest) in self.manifests() {
            match manifest {
                Manifest::NotificationChannel(c) => {
                    references
                        .channels
                        .insert((namespace(&c.metadata), name(&c.metadata)));
                }
                Manifest::Secret(s) => {
                    references
                        .secrets
                        .insert((namespace(&s.metadata), name(&s.metadata)), secret_data(s));
                }
                _ => {}
            }
        }
        references
    }
}

/// The namespace of an object as standalone mode sees it (`default` when unset).
pub fn namespace(meta: &kube::api::ObjectMeta) -> String {
    meta.namespace
        .clone()
        .unwrap_or_else(|| "default".to_string())
}

/// The name of an object.
pub fn name(meta: &kube::api::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// The manifest files of a directory by path, size and modification time: equal stamps
/// mean nothing was added, removed or rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirStamp(Vec<(PathBuf, u64, Option<std::time::SystemTime>)>);

/// Stamps the manifest files under `dir`.
///
/// # Errors
/// [`Error::Io`] when the directory cannot be listed.
pub fn stamp_dir(dir: &Path) -> Result<DirStamp> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    Ok(DirStamp(
        files
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
                let modified = meta.and_then(|m| m.modified().ok());
                (path, len, modified)
            })
            .collect(),
    ))
}

/// Reads every `*.yaml` / `*.yml` file under `dir` (recursively, sorted by path).
///
/// # Errors
/// [`Error::Io`] when the directory or a file cannot be read.
pub fn load_dir(dir: &Path) -> Result<Loaded> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut loaded = Loaded::default();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        for doc in parse_documents(&text) {
            loaded.documents.push(Document {
                path: path.clone(),
                line: doc.line,
                parsed: doc.value,
            });
        }
        loaded.texts.insert(path, text);
    }
    Ok(loaded)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "read directory",
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            action: "read directory",
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, files)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            files.push(path);
        }
    }
    Ok(())
}
