//! The Helm chart, checked without a cluster by `charts/uptime-sentinel/tests/check_chart.py`:
//! lint, renders of the default values and of every optional part, strict validation
//! against Kubernetes 1.28 and 1.37, the default render's snapshot, wrong values rejected
//! by `values.schema.json`, RBAC per ServiceAccount as a table of what each binary calls,
//! and locked-down pods; and here, that the chart's CRDs are the generated ones.
//!
//! The Python tools come from `scripts/python-tools.sh` (`scripts/test.sh` runs it and
//! sets `SENTINEL_PYTHON`).

use std::{path::PathBuf, process::Command};

#[test]
fn the_chart_renders_validates_and_grants_only_what_is_used() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var("SENTINEL_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/uptime-sentinel/venv/bin/python")
    });
    let output = Command::new(&python)
        .arg(root.join("charts/uptime-sentinel/tests/check_chart.py"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (run scripts/python-tools.sh, or scripts/test.sh): {e}")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "chart check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("chart ok"), "{stdout}");
}

#[test]
fn the_charts_crds_are_the_generated_ones() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for kind in [
        "monitors",
        "alertrules",
        "escalationpolicies",
        "notificationchannels",
    ] {
        let generated =
            std::fs::read_to_string(root.join(format!("crds/yaml/{kind}.yaml"))).unwrap();
        let shipped =
            std::fs::read_to_string(root.join(format!("charts/uptime-sentinel/crds/{kind}.yaml")))
                .unwrap();
        assert_eq!(
            shipped, generated,
            "charts/uptime-sentinel/crds/{kind}.yaml differs from crds/yaml/ (copy it over)"
        );
    }
}
