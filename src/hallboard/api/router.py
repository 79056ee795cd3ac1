"""The management API (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs."""

from ninja import NinjaAPI

import hallboard

api = NinjaAPI(
    title="hallboard management API", version=hallboard.__version__, urls_namespace="api-v1"
)
