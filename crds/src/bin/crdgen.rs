//! Writes the CRD YAML generated from the types.
//!
//! `crdgen` writes one file per CRD into `crds/yaml/` (or the directory given as the first
//! argument); `crdgen -` prints them all to stdout for `kubectl apply -f -`.

use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let target = std::env::args().nth(1);
    if target.as_deref() == Some("-") {
        return match crds::generate::render_all() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("crdgen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let dir = target
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("yaml"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("crdgen: failed to create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (file, crd) in crds::generate::crds() {
        let path = dir.join(file);
        let written = crds::generate::render(&crd)
            .map_err(|e| e.to_string())
            .and_then(|yaml| std::fs::write(&path, yaml).map_err(|e| e.to_string()));
        match written {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("crdgen: failed to write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
