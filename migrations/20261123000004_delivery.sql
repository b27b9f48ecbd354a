-- Notification delivery: the `notifications` table doubles as an outbox.
--
-- Evaluation inserts a row (status `pending`) in the same transaction that updates the
-- monitor's state, then publishes the message to RabbitMQ after commit. The notifier
-- claims a row before sending (`pending` → `sending`, lease in next_attempt_at), marks it
-- `sent` before acking the message, and on failure schedules the next attempt
-- (`retry`, next_attempt_at = now + backoff) or gives up (`failed`, dead-lettered).
-- A relay in the notifier picks up rows whose time has come: retries, expired leases of
-- a crashed notifier, and `pending` rows whose message never reached RabbitMQ.

ALTER TABLE notifications
    -- The check slot whose result raised it (event time: cooldowns are measured on it).
    ADD COLUMN slot DATETIME(3) NULL AFTER level,
    -- pending: when the relay may deliver it if the queued message did not arrive;
    -- sending: when the claim expires; retry: when the next attempt is due.
    ADD COLUMN next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) AFTER attempts,
    ADD KEY ix_notifications_due (status, next_attempt_at);
