"""Replaying a past incident: what the audit log shows the corridor did for one request, and
what every strategy does on the same demand re-run on the twin (``clearway replay``)."""
