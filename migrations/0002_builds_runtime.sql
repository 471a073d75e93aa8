-- Runtime state for builds, instances, logs and routing.

ALTER TABLE builds ADD COLUMN static_mappings jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE builds ADD COLUMN release_command text;
ALTER TABLE builds ADD COLUMN error text;

ALTER TABLE instances ADD COLUMN container_id text;
ALTER TABLE instances ADD COLUMN restarts integer NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN size text NOT NULL DEFAULT 'standard';
ALTER TABLE instances ADD COLUMN ready_at timestamptz;
CREATE INDEX instances_release ON instances (release_id);

-- Recent output of builds and app processes, per app. Pruned by the API.
CREATE TABLE app_logs (
    id            bigserial PRIMARY KEY,
    app_id        uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    instance_id   uuid,
    process_type  text NOT NULL,
    line          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_logs_app ON app_logs (app_id, id);

-- One counter that moves whenever anything a router needs changes; routers
-- long-poll it. Bumped by triggers so no code path can forget to.
CREATE TABLE route_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL
);
INSERT INTO route_state (version) VALUES (1);

CREATE FUNCTION bump_route_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE route_state SET version = version + 1;
    PERFORM pg_notify('paas_routes', '');
    RETURN NULL;
END $$;

CREATE TRIGGER apps_routes AFTER INSERT OR DELETE OR UPDATE OF name, hostname ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
CREATE TRIGGER domains_routes AFTER INSERT OR DELETE OR UPDATE ON domains
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
CREATE TRIGGER releases_routes AFTER INSERT OR DELETE ON releases
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
CREATE TRIGGER instances_routes_insert_delete AFTER INSERT OR DELETE ON instances
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
-- Agents report state every few seconds: only real changes move the version.
CREATE TRIGGER instances_routes_update AFTER UPDATE ON instances
    FOR EACH ROW
    WHEN (OLD.actual_state IS DISTINCT FROM NEW.actual_state
          OR OLD.desired_state IS DISTINCT FROM NEW.desired_state
          OR OLD.address IS DISTINCT FROM NEW.address)
    EXECUTE FUNCTION bump_route_version();
