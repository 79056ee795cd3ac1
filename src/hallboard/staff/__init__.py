"""The live screens dashboard for school IT admins and district operators (docs/dashboard.md)."""
