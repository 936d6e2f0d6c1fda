"""Use cases behind the routes: what each request does, free of HTTP (routes stay thin).

One module per resource; the names are re-exported here for the routers.
"""

from clearway.service.usecases.access import (
    create_user,
    exchange_key_for_token,
    issue_key,
    list_users,
    require_signing,
    revoke_key,
)
from clearway.service.usecases.audit import (
    incident_log,
    query_audit,
    replay_figure,
    replay_status,
    start_replay,
    verify_audit,
)
from clearway.service.usecases.junctions import (
    junction_model,
    junction_state,
    list_junctions,
    switch_strategy,
)
from clearway.service.usecases.priority import (
    add_position,
    add_positions,
    cancel_priority_request,
    create_priority_request,
    get_convoy,
    get_priority_request,
    list_priority_requests,
    renew_priority_request,
)

__all__ = [
    "add_position",
    "add_positions",
    "cancel_priority_request",
    "create_priority_request",
    "create_user",
    "exchange_key_for_token",
    "get_convoy",
    "get_priority_request",
    "incident_log",
    "replay_figure",
    "replay_status",
    "start_replay",
    "issue_key",
    "junction_model",
    "junction_state",
    "list_junctions",
    "list_priority_requests",
    "list_users",
    "query_audit",
    "renew_priority_request",
    "require_signing",
    "revoke_key",
    "switch_strategy",
    "verify_audit",
]
