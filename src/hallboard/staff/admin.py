"""The admin index links to the live screens dashboard (``staff/admin_index.html``)."""

from __future__ import annotations

from django.contrib import admin

admin.site.index_template = "staff/admin_index.html"
