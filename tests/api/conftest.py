"""API clients authenticated as keys of a given scope and role."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from hallboard.api.models import ApiKey
from hallboard.schools.models import Organisation, School
from tests.conftest import Tenant


class ApiClient:
    def __init__(self, secret: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def _send(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        url = f"/api/v1/{path.lstrip('/')}"
        if method == "get":
            return self.client.get(url, params, headers=self.headers)
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return getattr(self.client, method)(
            url,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            headers=self.headers,
        )

    def get(self, path: str, **params: Any) -> Any:
        return self._send("get", path, **params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self._send("post", path, body if body is not None else {}, **params)

    def put(self, path: str, body: Any, **params: Any) -> Any:
        return self._send("put", path, body, **params)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("patch", path, body)

    def delete(self, path: str) -> Any:
        return self._send("delete", path)


KeyFactory = Callable[..., ApiClient]


@pytest.fixture
def api_as(tenant: Tenant) -> KeyFactory:
    """api_as(role, school=tenant.school | None for the organisation) → an ApiClient."""

    def make(
        role: str, school: School | None = tenant.school, organisation: Organisation | None = None
    ) -> ApiClient:
        _, secret = ApiKey.create(
            name=f"test {role}",
            organisation=organisation or tenant.organisation,
            school=school,
            role=role,
        )
        return ApiClient(secret)

    return make
