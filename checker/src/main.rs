//! The `checker` binary: parse the command line and run the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser;
    checker::cli::Args::parse().run().await
}
