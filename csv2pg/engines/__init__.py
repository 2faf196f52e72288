"""Import engines: ways of getting a CSV file into a staging table.

Each engine only loads rows and reports what it saw; the staging table, verification,
reject limits, swap and stamp are the importer's (``csv2pg.stages.importer``), so every
engine has the same semantics.
"""
