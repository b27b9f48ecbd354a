//! Writing results to the Redis telemetry stream (`<prefix>telemetry`, field `r` = the
//! record's JSON), one pipelined round trip per batch. The ingestor reads the stream
//! through a consumer group and acknowledges entries only after MySQL committed them.

use crds::contract::{self, Names, TelemetryRecord};
use redis::aio::ConnectionManager;

use crate::Result;

/// The stream writer.
#[derive(Clone)]
pub struct TelemetryWriter {
    connection: ConnectionManager,
    stream: String,
}

impl TelemetryWriter {
    /// Connects to `url` (the connection manager reconnects by itself).
    ///
    /// # Errors
    /// [`crate::Error::Redis`] when Redis cannot be reached now.
    pub async fn connect(url: &str, names: &Names) -> Result<Self> {
        let client = redis::Client::open(url)?;
        // A pipeline of a batch's records can take longer than the client's default 500 ms
        // response timeout on a busy Redis; a timeout would requeue a batch needlessly.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(std::time::Duration::from_secs(5)));
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            connection,
            stream: names.telemetry_stream(),
        })
    }

    /// Appends every record in one pipeline.
    ///
    /// # Errors
    /// [`crate::Error::Redis`]: nothing may be assumed written; the caller nacks.
    pub async fn write(&self, records: &[TelemetryRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for record in records {
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg("r")
                .arg(contract::encode(record))
                .ignore();
        }
        let mut connection = self.connection.clone();
        pipe.query_async::<()>(&mut connection).await?;
        Ok(())
    }

    /// The shared Redis connection (the cooldown limiter uses it too).
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// Whether Redis answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .is_ok()
    }
}
