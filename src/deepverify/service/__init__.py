"""The verification service: a FastAPI app over the pipeline core, with accounts and jobs.

``create_app(settings)`` in :mod:`deepverify.service.main` builds the app; ``deepverify serve``
runs it with an in-process worker, ``deepverify worker`` runs Celery workers for several machines.
"""
