"""One router per resource; each route is a thin call into :mod:`clearway.service.usecases`."""
