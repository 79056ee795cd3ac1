"""hallboard's PostgreSQL backend: Django's, with bounded waits and fail-fast outages.

``settings.py`` selects it for ``postgres://`` URLs; see ``hallboard.dbhealth``.
"""
