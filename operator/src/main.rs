//! The `operator` binary: parse the command line and run. Everything else is in the
//! library so tests can reach it.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    operator::cli::Cli::parse_and_run().await
}
