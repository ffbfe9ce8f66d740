"""Database access: connection pools, edition detection, named SQL statements."""
