"""The OpenID Provider at the web front door (docs/adr/0011-openid-provider.md): the browser's
endpoints (``/authorize``, ``/end-session``) with the SSO session and the pending request in
the sealed session cookie, and the relays of the relying parties' calls (discovery, JWKS,
token, PAR, userinfo, revocation, introspection) to auth in either zone through the SDK."""
