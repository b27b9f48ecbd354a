//! The `ingestor` binary: parse the command line and run the library.

fn main() -> anyhow::Result<()> {
    use clap::Parser;
    ingestor::Args::parse().run()?;
    Ok(())
}
