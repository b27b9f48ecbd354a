//! The committed CRD YAML must be exactly what the types generate.

#[test]
fn committed_crd_yaml_matches_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("yaml");
    for (file, crd) in crds::generate::crds() {
        let expected = crds::generate::render(&crd).unwrap();
        let path = dir.join(file);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
        assert!(
            committed == expected,
            "{} is out of date: run `cargo run -p uptime-sentinel-crds --bin crdgen` and commit the result",
            path.display()
        );
    }
}

#[test]
fn crds_have_short_names_category_and_status_subresource() {
    let expected_short = ["mon", "ar", "ep", "nc"];
    for ((_, crd), short) in crds::generate::crds().into_iter().zip(expected_short) {
        let names = &crd.spec.names;
        assert_eq!(names.short_names.as_deref(), Some(&[short.to_string()][..]));
        assert_eq!(
            names.categories.as_deref(),
            Some(&["sentinel".to_string()][..])
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
    }
}

#[test]
fn monitor_printer_columns_are_the_documented_ones() {
    let (_, crd) = crds::generate::crds().remove(0);
    let columns: Vec<String> = crd.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(
        columns,
        ["URL", "HEALTH", "LATENCY", "UPTIME", "LAST CHECK", "AGE"]
    );
}
