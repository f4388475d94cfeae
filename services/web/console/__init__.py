"""The web front end's admin console: practice settings and the two-factor switch, employees,
certificates and the audit trail — pages for a token of rights group 1 of its practice.

``forms`` turns posted form fields into the services' JSON bodies (and problem+json answers
back into messages tied to fields); ``views`` shapes the services' answers for the templates.
Both are pure; the page handlers live in ``services/web/pages/console_*.py``."""
