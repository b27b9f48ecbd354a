//! The `ingestor` binary: parse the command line and run the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser;
    ingestor::cli::Args::parse().run().await
}
