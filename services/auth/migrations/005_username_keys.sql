-- Usernames are one key whatever their case or width (issue 10 #15): NFKC and Unicode case
-- folding, computed by the writer (shared/usernames.py; PostgreSQL has no case folding). Rows
-- from before get lower(NFKC), the same key for every username but the few whose folding
-- differs from lower() (such as ß); their next employee.upserted sets the folded key.
ALTER TABLE employees ADD COLUMN username_key text;
UPDATE employees SET username_key = lower(normalize(username, NFKC));
ALTER TABLE employees ALTER COLUMN username_key SET NOT NULL;
DROP INDEX employees_username;
CREATE UNIQUE INDEX employees_username_key ON employees (practice, username_key);
