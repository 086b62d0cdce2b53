"""The HTTP API: routes per resource, their dependencies, schemas and middleware."""
