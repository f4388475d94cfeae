"""The web front end: server-rendered pages that call the services through the client SDK."""
