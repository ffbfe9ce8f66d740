"""The `driftline` command line: database, migrations, API server, model registry, file ingest, rollups.

Entry point `engine.cli.main:main`. Each subcommand family lives in its own module with a
`register(subparsers)` function; handlers take the parsed arguments and the settings and return an exit code.
"""
