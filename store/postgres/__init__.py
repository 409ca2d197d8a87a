"""The PostgreSQL backend of the store (``postgresql://`` URLs; optional extra ``postgres``).

    client.PostgresStore   the store's operations (store.interface.JourneyStore)
    schema                 DDL, roles, forward-only migrations (``journeys store init``)
    connections            connections, read endpoints (hot standbys) with primary fallback
    arrow_io               Arrow in and out (CSV COPY; rows for lookups)
    errors                 psycopg exceptions → store.errors

Only :mod:`store` imports this package (an import-linter contract checks it).
"""
