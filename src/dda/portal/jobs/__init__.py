"""Portal jobs: rows in the database, run by an embedded worker pool or by Celery workers.

- :mod:`.models`: statuses, job types and their queues.
- :mod:`.service`: submit, claim (lease), heartbeat, finish, cancel, retry, reap lost jobs.
- :mod:`.pipeline`: the event chain training -> compilation -> packaging -> publishing.
- :mod:`.worker`: runs one claimed job in a child process and keeps its lease alive.
- :mod:`.executors`: the embedded pool, Celery dispatch, and the maintenance (reaper) loop.
- :mod:`.handlers`: what each job type does, calling dda.ml / dda.packaging.
"""
