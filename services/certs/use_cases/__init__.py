"""The certificate store's use cases, one module each; :mod:`services.certs.bootstrap` wires
them."""
