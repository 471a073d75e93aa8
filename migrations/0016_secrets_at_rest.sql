-- Secrets at rest (issue 15): config var values, release and one-off
-- environments and add-on logins are stored encrypted under the operator's
-- key (see api/src/crypto.rs), each bound to its row. Postgres never sees the
-- key, so the API seals rows that are still plain text when it starts after
-- this migration (`paas-api migrate` does too) and NULLs (or empties) the
-- plain columns. Config var names stay plain: they are names, not secrets.
--
-- The CHECKs are NOT VALID: rows from before this migration may still be
-- plain until they are sealed, but no new or updated row may carry plain text.

ALTER TABLE config_vars ADD COLUMN value_sealed bytea;
ALTER TABLE config_vars ALTER COLUMN value DROP NOT NULL;
ALTER TABLE config_vars ADD CONSTRAINT config_vars_sealed
    CHECK (value IS NULL AND value_sealed IS NOT NULL) NOT VALID;

-- The whole snapshot (a JSON object) is sealed as one value; `config` stays '{}'.
ALTER TABLE releases ADD COLUMN config_sealed bytea;
ALTER TABLE releases ADD CONSTRAINT releases_config_sealed
    CHECK (config = '{}'::jsonb AND config_sealed IS NOT NULL) NOT VALID;

ALTER TABLE runs ADD COLUMN env_sealed bytea;
ALTER TABLE runs ADD CONSTRAINT runs_env_sealed
    CHECK (env = '{}'::jsonb AND env_sealed IS NOT NULL) NOT VALID;

ALTER TABLE addons ADD COLUMN admin_password_sealed bytea;
ALTER TABLE addons ALTER COLUMN admin_password DROP NOT NULL;
ALTER TABLE addons ADD CONSTRAINT addons_admin_password_sealed
    CHECK (admin_password IS NULL AND admin_password_sealed IS NOT NULL) NOT VALID;

-- The URL holds the password too: both are sealed (the username is a name).
ALTER TABLE addon_credentials ADD COLUMN password_sealed bytea;
ALTER TABLE addon_credentials ADD COLUMN url_sealed bytea;
ALTER TABLE addon_credentials ALTER COLUMN password DROP NOT NULL;
ALTER TABLE addon_credentials ALTER COLUMN url DROP NOT NULL;
ALTER TABLE addon_credentials ADD CONSTRAINT addon_credentials_sealed
    CHECK (password IS NULL AND url IS NULL AND password_sealed IS NOT NULL AND url_sealed IS NOT NULL) NOT VALID;
