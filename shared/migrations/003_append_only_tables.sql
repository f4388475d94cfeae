-- Tables the services' own database role may only read and add to (the audit trail): a
-- component's migration lists its own here. shared/db.py `migrate`, run as the tables' owner
-- (TWEESTAP_DATABASE_OWNER_URL), grants the service's role (TWEESTAP_DATABASE_URL's) SELECT,
-- INSERT, UPDATE and DELETE on every table, then takes UPDATE, DELETE and TRUNCATE on these
-- back. Not the owner, that role can neither ALTER (disable a trigger) nor DROP them.
CREATE TABLE append_only_tables (
    name text PRIMARY KEY
);
