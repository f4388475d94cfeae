"""Pure rules of the certificate store: parsing and describing certificates, expiry, use."""
