"""factlink's queue side: the Celery app and tasks, the Redis keys, cache and job records.

It knows Celery and Redis, uses ``linkers/`` for the linking itself, and never imports
``service/``; its settings arrive as a ``workers.settings.Settings``.
"""
