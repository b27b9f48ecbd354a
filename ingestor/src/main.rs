//! The `ingestor` binary: parse the command line and run the library.

/// mimalloc instead of glibc malloc: under load glibc's allocator took ~20 % of the
/// checker's CPU (many short-lived buffers across worker threads); mimalloc cuts most of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser;
    ingestor::cli::Args::parse().run().await
}
