//! The `checker` binary: parse the command line and run the library.

fn main() -> anyhow::Result<()> {
    use clap::Parser;
    checker::Args::parse().run()?;
    Ok(())
}
