-- Check results and their rollups.
--
-- ping_results is RANGE COLUMNS-partitioned by day on the scheduled slot. It starts with
-- only the catch-all `p_future`; the ingestor's partition maintenance splits daily
-- partitions off it (REORGANIZE PARTITION, instant while p_future is empty, which it stays
-- because partitions exist days ahead) and drops days past the retention.
--
-- MariaDB/MySQL: every unique key of a partitioned table must include the partition
-- column, hence PRIMARY KEY (monitor_id, scheduled_at), which is also what makes a
-- redelivered result a duplicate (INSERT IGNORE). No foreign keys: partitioned InnoDB
-- tables cannot have them on either server. `EXPLAIN PARTITIONS` is MariaDB-only (MySQL
-- shows partitions in plain EXPLAIN); tests use information_schema.PARTITIONS instead.

CREATE TABLE ping_results (
    monitor_id      BIGINT UNSIGNED NOT NULL,
    scheduled_at    DATETIME(3) NOT NULL,
    started_at      DATETIME(3) NOT NULL,
    generation      BIGINT NOT NULL,
    ok              TINYINT(1) NOT NULL,
    status_code     SMALLINT UNSIGNED NULL,
    latency_ms      INT UNSIGNED NOT NULL,
    dns_ms          INT UNSIGNED NULL,
    connect_ms      INT UNSIGNED NULL,
    tls_ms          INT UNSIGNED NULL,
    first_byte_ms   INT UNSIGNED NULL,
    error_kind      VARCHAR(32) NULL,
    error           VARCHAR(512) NULL,
    cert_expires_at DATETIME(3) NULL,
    PRIMARY KEY (monitor_id, scheduled_at),
    -- Covering index of the hourly rollup (one hour, all monitors): an index-only range
    -- scan instead of reading the whole day's partition.
    KEY ix_ping_results_time (scheduled_at, monitor_id, ok, latency_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
PARTITION BY RANGE COLUMNS (scheduled_at) (
    PARTITION p_future VALUES LESS THAN (MAXVALUE)
);

-- Hourly buckets per monitor. latency_histogram holds counts per fixed latency bucket so
-- daily percentiles can be merged from hourly ones without the raw rows.
CREATE TABLE ping_stats_hourly (
    monitor_id        BIGINT UNSIGNED NOT NULL,
    bucket_start      DATETIME NOT NULL,
    checks            INT UNSIGNED NOT NULL,
    failures          INT UNSIGNED NOT NULL,
    latency_min       INT UNSIGNED NULL,
    latency_max       INT UNSIGNED NULL,
    latency_sum       BIGINT UNSIGNED NOT NULL,
    latency_p95       INT UNSIGNED NULL,
    latency_histogram JSON NOT NULL,
    updated_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (monitor_id, bucket_start),
    KEY ix_ping_stats_hourly_bucket (bucket_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Daily buckets, computed from the hourly ones; kept indefinitely.
CREATE TABLE ping_stats_daily (
    monitor_id        BIGINT UNSIGNED NOT NULL,
    day               DATE NOT NULL,
    checks            INT UNSIGNED NOT NULL,
    failures          INT UNSIGNED NOT NULL,
    latency_min       INT UNSIGNED NULL,
    latency_max       INT UNSIGNED NULL,
    latency_sum       BIGINT UNSIGNED NOT NULL,
    latency_p95       INT UNSIGNED NULL,
    latency_histogram JSON NOT NULL,
    updated_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (monitor_id, day),
    KEY ix_ping_stats_daily_day (day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Progress of idempotent background jobs (rollups): the last completed bucket.
CREATE TABLE job_watermarks (
    job        VARCHAR(64) CHARACTER SET ascii NOT NULL,
    watermark  DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (job)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
