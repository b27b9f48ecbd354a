//! The `operator` binary: parse the command line and run. Everything else is in the
//! library so tests can reach it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    operator::cli::Cli::parse_and_run().await
}
