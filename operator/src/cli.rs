//! The command line. Every flag has an environment variable and a visible default.

use clap::{Parser, Subcommand};

use crate::{database, logging};

/// Uptime Sentinel operator.
#[derive(Debug, Parser)]
#[command(name = "operator", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (`info`, `debug`, `operator=debug,kube=info`); `RUST_LOG` wins when set.
    #[arg(
        long,
        env = "SENTINEL_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    pub log_level: String,
    /// Human-readable logs instead of JSON (for a terminal).
    #[arg(long, env = "SENTINEL_LOG_TEXT", global = true)]
    pub log_text: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CRD YAML (for `kubectl apply -f -`).
    Crd,
    /// Apply the database migrations and exit.
    Migrate {
        /// MySQL URL, e.g. `mysql://user:password@host:3306/sentinel`.
        #[arg(long, env = "SENTINEL_DATABASE_URL")]
        database_url: String,
    },
}

impl Cli {
    /// Parses `std::env::args` and runs the command.
    ///
    /// # Errors
    /// Whatever the command fails with; `main` prints it and exits non-zero.
    pub async fn parse_and_run() -> anyhow::Result<()> {
        Self::parse().run().await
    }

    /// Runs the parsed command.
    ///
    /// # Errors
    /// Whatever the command fails with.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            log_level,
            log_text,
            command,
        } = self;
        logging::init(&log_level, !log_text);
        match command {
            Command::Crd => {
                print!("{}", crds::generate::render_all()?);
            }
            Command::Migrate { database_url } => {
                let pool = database::connect(&database_url, 2).await?;
                let applied = database::migrate(&pool).await?;
                tracing::info!(applied, "database is up to date");
                pool.close().await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
