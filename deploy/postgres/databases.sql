-- One database per service in each zone's PostgreSQL, and the services' own role. Run by the
-- one-shot `databases-a` and `databases-b` services of docker-compose.yml (psql, as the
-- `tweestap` role) before the services start; the services then create their own tables
-- (migrations at start, as `tweestap`, which owns them and grants `tweestap_service` what a
-- service may do). Idempotent: a database that exists is left alone. Add a line per new service.
SELECT 'CREATE DATABASE auth' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'auth')\gexec
SELECT 'CREATE DATABASE enrolment' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'enrolment')\gexec
SELECT 'CREATE DATABASE certs' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'certs')\gexec
SELECT 'CREATE DATABASE notifier' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'notifier')\gexec
-- The role the services serve requests as (TWEESTAP_DATABASE_URL): it owns no table, so it
-- cannot alter, drop or truncate them, nor change or delete audit records (NEN 7513). Its
-- password follows POSTGRES_SERVICE_PASSWORD in .env on every run.
\getenv service_password POSTGRES_SERVICE_PASSWORD
SELECT 'CREATE ROLE tweestap_service LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tweestap_service')\gexec
ALTER ROLE tweestap_service WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'service_password';
