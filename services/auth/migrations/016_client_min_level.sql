-- The lowest assurance level of a session an application accepts (docs/adr/0012).
ALTER TABLE clients ADD COLUMN min_level text NOT NULL DEFAULT 'low';
