//! Standalone mode: the same reconcile core, fed from a directory of manifests instead of
//! the Kubernetes API.
//!
//! ```text
//!  load      every *.yaml / *.yml under DIR (multi-document), typed, with file:line
//!  locate    field path → line in the file, for messages people can jump to
//!  validate  `operator validate DIR`: schema + semantic problems, dangling channelRefs,
//!            duplicate names; exit status 1 when anything is wrong (GitOps CI)
//!  run       `operator run --manifests DIR`: poll DIR, apply what changed, remove rows of
//!            objects whose manifests disappeared
//!  table     `operator status`: a `kubectl get monitors`-like table from MySQL
//! ```

pub mod load;
pub mod locate;
pub mod run;
pub mod table;
pub mod validate;
