-- A claim takes a concurrency key's next due jobs with it (a group run in order by one
-- worker): found by key, in run order.
CREATE INDEX jobs_queued_by_key ON jobs(concurrency_key, run_at, id) WHERE state = 'queued';
