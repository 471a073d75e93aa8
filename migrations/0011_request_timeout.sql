-- Per-app request timeout: seconds the router waits for an instance's
-- response head before it answers 504. The range is the API's
-- (`PATCH /v1/apps/{app}`); the router reads it from the route table.
ALTER TABLE apps ADD COLUMN request_timeout_secs integer NOT NULL DEFAULT 30
    CONSTRAINT apps_request_timeout_secs_range CHECK (request_timeout_secs BETWEEN 1 AND 3600);

-- Routers carry the timeout in their table: a change moves the route version.
CREATE TRIGGER apps_request_timeout_routes AFTER UPDATE OF request_timeout_secs ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION bump_route_version();
