"""Probes and token scrapes answered before host validation, sessions and redirects.

Load balancers and Kubernetes probe ``/healthz`` and ``/readyz`` by address
(``Host: 10.0.3.7:8000``), and Prometheus scrapes each replica by address
too: Django's host validation would answer them 400, and an HTTPS redirect
would answer 301. This middleware, first in the list, answers those requests
itself: the probes always, ``/metrics`` when it carries the metrics token (a
staff session goes the normal way, through the URL map). Both paths end in
the same views.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from hallboard.observability import access, views

View = Callable[[HttpRequest], HttpResponseBase]

PROBES: dict[str, View] = {"/healthz": views.healthz_view, "/readyz": views.readyz_view}


class ProbeMiddleware:
    def __init__(self, get_response: View) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info.rstrip("/") or "/"
        probe = PROBES.get(path)
        if probe is not None:
            return probe(request)
        if path == "/metrics" and access.bearer_token_ok(request):
            return views.metrics_view(request)
        return self.get_response(request)
