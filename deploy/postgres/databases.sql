-- One database per service in each zone's PostgreSQL. Run by the one-shot `databases-a` and
-- `databases-b` services of docker-compose.yml (psql, as the `tweestap` role) before the
-- services start; the services then create their own tables (migrations at start).
-- Idempotent: a database that exists is left alone. Add a line per new service.
SELECT 'CREATE DATABASE auth' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'auth')\gexec
SELECT 'CREATE DATABASE enrolment' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'enrolment')\gexec
SELECT 'CREATE DATABASE certs' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'certs')\gexec
SELECT 'CREATE DATABASE notifier' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'notifier')\gexec
