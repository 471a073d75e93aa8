-- Honest process state: what the supervisor inside each container says
-- (last exit status, last output lines, the web check's HTTP status), and
-- releases that are promoted only once every process type is healthy.

ALTER TABLE instances ADD COLUMN exit_status integer;
ALTER TABLE instances ADD COLUMN last_output jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE instances ADD COLUMN http_status integer;

-- Releases made before this migration were serving already: promoted.
-- From now on a release starts pending; the scheduler promotes or fails it.
-- The API's tests compare this list with paas_types::ReleaseStatus.
ALTER TABLE releases ADD COLUMN status text NOT NULL DEFAULT 'promoted'
    CONSTRAINT releases_status CHECK (status IN ('pending', 'promoted', 'failed'));
ALTER TABLE releases ALTER COLUMN status SET DEFAULT 'pending';
ALTER TABLE releases ADD COLUMN failure text;
