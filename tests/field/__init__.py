"""Field equipment: NTCIP objects, the SNMP manager and agent, the virtual controller."""
