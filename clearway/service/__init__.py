"""The HTTP service: FastAPI app factory (:func:`clearway.service.app.create_app`), routers
per resource, authentication and roles. The core never imports this package."""
