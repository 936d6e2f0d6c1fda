"""Adapters for field equipment: real traffic signal controllers over NTCIP 1202 (SNMP).

Like :mod:`clearway.sim`, this package sits outside the core: the core never imports it, and
it is the only place pysnmp is imported.

- :mod:`clearway.field.ntcip` — the NTCIP 1202 object identifiers clearway uses, each with
  its type, access, range, units and the public sources it was checked against;
- :mod:`clearway.field.snmp_client` — the manager (GET/SET over SNMPv3 or v2c) and a
  background event loop so a synchronous control tick can talk to many controllers at once;
  :mod:`~clearway.field.snmp_credentials` holds who it is to a controller and where that
  listens, :mod:`~clearway.field.snmp_replies` what a reply means (values and errors);
- :mod:`clearway.field.snmp_agent` — a command responder serving an object store, used by the
  virtual controller (:mod:`clearway.field.virtual`).
"""
