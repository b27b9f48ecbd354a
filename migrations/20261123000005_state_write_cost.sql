-- monitor_state is rewritten for every check result (5,000 rows/s at 50,000 monitors
-- every 10 s). Its index on updated_at was read by nothing, yet every write moved an
-- entry in it; on a 2-core machine that index maintenance was CPU the pipeline needed.
ALTER TABLE monitor_state DROP INDEX ix_monitor_state_updated;
