-- Incidents and the notifications sent for them.
--
-- MariaDB/MySQL difference: `open_monitor_id` is a STORED generated column. MySQL spells
-- it STORED; MariaDB calls it PERSISTENT and accepts STORED as a synonym (10.2+). Neither
-- has partial unique indexes, so this column (NULL once resolved) is how "at most one open
-- incident per monitor" is enforced: UNIQUE ignores NULLs on both.

CREATE TABLE incidents (
    -- UUIDv7: sortable, and usable as PagerDuty's dedup_key.
    id                       CHAR(36) CHARACTER SET ascii NOT NULL,
    monitor_id               BIGINT UNSIGNED NOT NULL,
    opened_at                DATETIME(3) NOT NULL,
    -- The slot of the check that opened it: opening twice for the same result (a
    -- redelivery, two replicas) hits uq_incidents_opened instead of a second incident.
    opened_slot              DATETIME(3) NOT NULL,
    resolved_at              DATETIME(3) NULL,
    duration_ms              BIGINT UNSIGNED NULL,
    first_error_kind         VARCHAR(32) NULL,
    first_error              VARCHAR(512) NULL,
    max_consecutive_failures INT UNSIGNED NOT NULL DEFAULT 0,
    open_monitor_id          BIGINT UNSIGNED AS (IF(resolved_at IS NULL, monitor_id, NULL)) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY uq_incidents_open (open_monitor_id),
    UNIQUE KEY uq_incidents_opened (monitor_id, opened_slot),
    KEY ix_incidents_monitor (monitor_id, opened_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- No foreign key to monitors: incidents are history and outlive a deleted monitor.

CREATE TABLE notifications (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    -- crds::contract::Notification::key: incident + rule or level + kind. UNIQUE makes a
    -- redelivered or re-evaluated notification a no-op.
    idempotency_key VARCHAR(255) CHARACTER SET ascii NOT NULL,
    incident_id     CHAR(36) CHARACTER SET ascii NULL,
    monitor_id      BIGINT UNSIGNED NOT NULL,
    channel_id      BIGINT UNSIGNED NOT NULL,
    kind            VARCHAR(16) NOT NULL,
    level           INT UNSIGNED NULL,
    -- pending → sending → sent | failed (dead-lettered) | skipped (channel disabled).
    status          VARCHAR(16) NOT NULL DEFAULT 'pending',
    attempts        INT UNSIGNED NOT NULL DEFAULT 0,
    last_error      VARCHAR(512) NULL,
    payload         JSON NOT NULL,
    created_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    sent_at         DATETIME(3) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_notifications_key (idempotency_key),
    KEY ix_notifications_incident (incident_id),
    KEY ix_notifications_status (status, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
