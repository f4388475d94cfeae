"""Page modules: each has ``ROUTES``, a list of :class:`services.web.context.WebRoute`."""
