"""``legctl``: the technician's client of the daemon's local socket (its own package: it
 needs nothing of the machine but the published models)."""
