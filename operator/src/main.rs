//! The `operator` binary: parse the command line and run. Everything else is in the
//! library so tests can reach it.

/// mimalloc instead of glibc malloc: under load glibc's allocator took ~20 % of the
/// checker's CPU (many short-lived buffers across worker threads); mimalloc cuts most of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    operator::cli::Cli::parse_and_run().await
}
