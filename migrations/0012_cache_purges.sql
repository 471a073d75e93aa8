-- On-demand front-end cache purges (`paas cache purge [PATH]`). The route
-- table carries an app's purges of the last hour; each router applies every
-- `seq` it has not applied yet. Older rows are pruned when purges are added.
CREATE TABLE cache_purges (
    seq         bigserial PRIMARY KEY,
    app_id      uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- NULL: everything the app has cached.
    path        text CHECK (path IS NULL OR (path LIKE '/%' AND length(path) <= 2048)),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cache_purges_app ON cache_purges (app_id, seq);
CREATE INDEX cache_purges_created ON cache_purges (created_at);

-- A purge is a route change: routers long-polling the version see it at once.
CREATE TRIGGER cache_purges_routes AFTER INSERT ON cache_purges
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
