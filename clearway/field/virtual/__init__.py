"""Virtual field equipment: controllers that behave like cabinets, for tests and demos."""
