"""API tests use ApiClient and the api_as fixture from tests/conftest.py."""
