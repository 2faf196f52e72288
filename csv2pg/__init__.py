"""csv2pg."""
