//! `examples/` parses, validates, and every reference in it resolves.

use std::collections::{BTreeMap, BTreeSet};

use crds::{
    ChannelType, Validate,
    manifest::{Manifest, parse_documents},
    monitor::labels,
};

fn load_examples() -> Vec<Manifest> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in parse_documents(&text) {
            match doc.value {
                Ok(m) => manifests.push(m),
                Err(e) => panic!(
                    "{}:{}: {}: {}",
                    file.display(),
                    doc.line,
                    e.object,
                    e.message
                ),
            }
        }
    }
    manifests
}

/// Keys present in a Secret manifest (`data` or `stringData`).
fn secret_keys(secret: &k8s_openapi::api::core::v1::Secret) -> BTreeSet<String> {
    let data = secret.data.iter().flat_map(|d| d.keys().cloned());
    let string_data = secret.string_data.iter().flat_map(|d| d.keys().cloned());
    data.chain(string_data).collect()
}

#[test]
fn every_example_is_valid() {
    for manifest in load_examples() {
        let problems = match &manifest {
            Manifest::Monitor(o) => o.validate(),
            Manifest::AlertRule(o) => o.validate(),
            Manifest::EscalationPolicy(o) => o.validate(),
            Manifest::NotificationChannel(o) => o.validate(),
            Manifest::Secret(_) => vec![],
            Manifest::Other { kind, .. } => panic!("unexpected kind {kind} in examples"),
        };
        assert_eq!(problems, vec![], "{}", manifest.describe());
    }
}

#[test]
fn examples_cover_every_kind_and_channel_type_and_references_resolve() {
    let manifests = load_examples();
    let mut monitors = BTreeMap::new();
    let mut channels = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for m in &manifests {
        match m {
            Manifest::Monitor(o) => {
                monitors.insert(o.metadata.name.clone().unwrap(), o.as_ref().clone());
            }
            Manifest::NotificationChannel(o) => {
                channels.insert(o.metadata.name.clone().unwrap(), o.as_ref().clone());
            }
            Manifest::Secret(o) => {
                secrets.insert(o.metadata.name.clone().unwrap(), secret_keys(o));
            }
            _ => {}
        }
    }
    assert!(monitors.len() >= 3);
    let types: BTreeSet<&str> = channels
        .values()
        .map(|c| c.spec.channel_type.as_str())
        .collect();
    for t in ChannelType::ALL {
        assert!(
            types.contains(t.as_str()),
            "no example channel of type {}",
            t.as_str()
        );
    }

    for channel in channels.values() {
        let channel_type = channel.spec.channel_type().unwrap();
        if let Some(secret) = &channel.spec.secret_ref {
            let keys = secrets
                .get(&secret.name)
                .unwrap_or_else(|| panic!("Secret {} missing", secret.name));
            for key in channel_type.secret_keys().iter().filter(|k| k.required) {
                assert!(
                    keys.contains(key.key),
                    "Secret {} lacks {}",
                    secret.name,
                    key.key
                );
            }
        }
    }
    for monitor in monitors.values() {
        for header in &monitor.spec.headers {
            if let Some(from) = &header.value_from {
                assert!(
                    secrets
                        .get(&from.name)
                        .is_some_and(|k| k.contains(&from.key))
                );
            }
        }
    }

    let mut policies = 0;
    for m in &manifests {
        match m {
            Manifest::AlertRule(rule) => {
                assert!(channels.contains_key(&rule.spec.channel_ref));
                if let Some(name) = &rule.spec.monitor_ref {
                    assert!(monitors.contains_key(name));
                }
                if let Some(selector) = &rule.spec.monitor_selector {
                    assert!(
                        monitors
                            .values()
                            .any(|mon| crds::selector::matches(selector, &labels(mon))),
                        "selector of {} matches no example monitor",
                        m.describe()
                    );
                }
            }
            Manifest::EscalationPolicy(policy) => {
                policies += 1;
                assert_eq!(policy.spec.levels.len(), 3);
                for level in &policy.spec.levels {
                    assert!(channels.contains_key(&level.channel_ref));
                }
            }
            _ => {}
        }
    }
    assert_eq!(policies, 1);
}
