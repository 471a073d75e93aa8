-- `paas pg psql` / `paas redis cli`: a run whose process is the add-on's
-- interactive client, exec'd in the add-on's container on its node (the
-- agent takes the login from its desired state; nothing secret is stored
-- with the run). NULL for `paas run`.
ALTER TABLE runs ADD COLUMN addon_id uuid REFERENCES addons (id) ON DELETE CASCADE;
