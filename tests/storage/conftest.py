"""The database fixtures (``db_url``, ``empty_db_url``, ``engine``, ``sessions``, ``backend``)
live in ``tests/conftest.py``, shared with the service tests so that each pytest process
starts one PostgreSQL cluster and migrates one template, not one per test directory."""
