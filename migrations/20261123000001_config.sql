-- The objects the operator reconciles from the four CRDs.
--
-- Written for MariaDB 10.11 and MySQL 8.0 alike. Where the two differ:
--  * JSON columns: MySQL stores binary JSON; MariaDB makes JSON an alias of LONGTEXT with
--    a JSON_VALID check. Both accept the same JSON functions we use.
--  * Upserts elsewhere use `ON DUPLICATE KEY UPDATE c = VALUES(c)`: it works on both
--    (MySQL 8.0.20+ warns it is deprecated; its `AS new` alias replacement fails on MariaDB).
--
-- Every object is keyed by its Kubernetes UID (`uid`) and carries namespace and name for
-- people; the numeric `id` is what the hot tables (`ping_results`, rollups) store.
-- No secret value is stored in plain text: channels and monitors keep the *name* of their
-- Secret and its values only sealed (AES-256-GCM, key from a Kubernetes Secret).

CREATE TABLE monitors (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    uid           CHAR(36) CHARACTER SET ascii NOT NULL,
    namespace     VARCHAR(253) NOT NULL,
    name          VARCHAR(253) NOT NULL,
    generation    BIGINT NOT NULL,
    labels        JSON NOT NULL,
    check_type    VARCHAR(16) NOT NULL DEFAULT 'HTTP',
    url           VARCHAR(2048) NOT NULL,
    interval_ms   INT UNSIGNED NOT NULL,
    timeout_ms    INT UNSIGNED NOT NULL,
    paused        TINYINT(1) NOT NULL DEFAULT 0,
    -- The contract CheckConfig (crds::contract::CheckConfig) the scheduler copies into
    -- each check request, so the checker never reads this table.
    check_config  JSON NOT NULL,
    -- Header values taken from Secrets, sealed with AES-256-GCM under the credentials key
    -- (itself from a Secret); NULL when no header uses a Secret.
    credentials   TEXT CHARACTER SET ascii NULL,
    -- The next slot to dispatch. NULL until the scheduler assigns the first slot (spread
    -- across the interval by a hash of the id).
    next_check_at DATETIME(3) NULL,
    created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_monitors_uid (uid),
    UNIQUE KEY uq_monitors_name (namespace, name),
    -- The scheduler's due query: WHERE paused = 0 AND next_check_at <= ?
    KEY ix_monitors_due (paused, next_check_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Live state of each monitor, written by the checker, read by status sync.
CREATE TABLE monitor_state (
    monitor_id            BIGINT UNSIGNED NOT NULL,
    health                VARCHAR(16) NOT NULL DEFAULT 'Pending',
    health_since          DATETIME(3) NULL,
    consecutive_failures  INT UNSIGNED NOT NULL DEFAULT 0,
    consecutive_successes INT UNSIGNED NOT NULL DEFAULT 0,
    -- The newest slot applied: an older result arriving late never rolls state back.
    last_slot             DATETIME(3) NULL,
    last_check_at         DATETIME(3) NULL,
    last_status_code      SMALLINT UNSIGNED NULL,
    last_latency_ms       INT UNSIGNED NULL,
    last_error_kind       VARCHAR(32) NULL,
    last_error            VARCHAR(512) NULL,
    cert_expires_at       DATETIME(3) NULL,
    current_incident_id   CHAR(36) CHARACTER SET ascii NULL,
    updated_at            DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (monitor_id),
    KEY ix_monitor_state_updated (updated_at),
    CONSTRAINT fk_monitor_state_monitor FOREIGN KEY (monitor_id) REFERENCES monitors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE notification_channels (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    uid          CHAR(36) CHARACTER SET ascii NOT NULL,
    namespace    VARCHAR(253) NOT NULL,
    name         VARCHAR(253) NOT NULL,
    generation   BIGINT NOT NULL,
    channel_type VARCHAR(16) NOT NULL,
    enabled      TINYINT(1) NOT NULL DEFAULT 1,
    -- Non-secret settings only (the spec's type block).
    settings     JSON NOT NULL,
    -- Name of the Secret holding the credentials; never its values.
    secret_name  VARCHAR(253) NULL,
    -- The Secret's keys this channel type reads, sealed with AES-256-GCM under the
    -- credentials key; never stored in plain text.
    credentials  TEXT CHARACTER SET ascii NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_channels_uid (uid),
    UNIQUE KEY uq_channels_name (namespace, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE alert_rules (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    uid               CHAR(36) CHARACTER SET ascii NOT NULL,
    namespace         VARCHAR(253) NOT NULL,
    name              VARCHAR(253) NOT NULL,
    generation        BIGINT NOT NULL,
    -- Exactly one of monitor_ref (a name) and monitor_selector (a LabelSelector as JSON).
    monitor_ref       VARCHAR(253) NULL,
    monitor_selector  JSON NULL,
    channel_ref       VARCHAR(253) NOT NULL,
    alert_type        VARCHAR(16) NOT NULL,
    failure_threshold INT UNSIGNED NOT NULL,
    cooldown_ms       BIGINT UNSIGNED NOT NULL,
    enabled           TINYINT(1) NOT NULL DEFAULT 1,
    created_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_alert_rules_uid (uid),
    UNIQUE KEY uq_alert_rules_name (namespace, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE escalation_policies (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    uid              CHAR(36) CHARACTER SET ascii NOT NULL,
    namespace        VARCHAR(253) NOT NULL,
    name             VARCHAR(253) NOT NULL,
    generation       BIGINT NOT NULL,
    -- Both NULL: the policy covers every monitor in the namespace.
    monitor_ref      VARCHAR(253) NULL,
    monitor_selector JSON NULL,
    enabled          TINYINT(1) NOT NULL DEFAULT 1,
    created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_escalation_policies_uid (uid),
    UNIQUE KEY uq_escalation_policies_name (namespace, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE escalation_levels (
    policy_id      BIGINT UNSIGNED NOT NULL,
    -- 1-based position in the policy.
    level          INT UNSIGNED NOT NULL,
    -- Fires when consecutive failures equal this exactly.
    after_failures INT UNSIGNED NOT NULL,
    channel_ref    VARCHAR(253) NOT NULL,
    PRIMARY KEY (policy_id, level),
    UNIQUE KEY uq_escalation_levels_failures (policy_id, after_failures),
    CONSTRAINT fk_escalation_levels_policy FOREIGN KEY (policy_id) REFERENCES escalation_policies (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Leader election in standalone mode (in a cluster it is a coordination.k8s.io Lease): one
-- row per role; a holder renews expires_at, a candidate takes an expired row over.
CREATE TABLE leader_leases (
    name        VARCHAR(64) CHARACTER SET ascii NOT NULL,
    holder      VARCHAR(255) NOT NULL,
    renewed_at  DATETIME(3) NOT NULL,
    expires_at  DATETIME(3) NOT NULL,
    transitions INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
