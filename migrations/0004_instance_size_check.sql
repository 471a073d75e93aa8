-- Instance sizes are the same set as formation sizes (paas_types::Size);
-- the API's tests compare this list with the Rust enum.
ALTER TABLE instances ADD CONSTRAINT instances_size CHECK (size IN ('small', 'standard', 'large'));
