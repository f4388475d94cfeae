"""What the ``tweestap`` command runs a served process with, and nothing a service imports:
the worker supervisor (``tweestap serve --workers``) and the event loop choice."""
