"""Display pairing endpoints: ``POST /api/display/pair/`` and ``GET /api/display/pair/<code>/``."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from hallboard import safejson
from hallboard.display import errors
from hallboard.display.auth import DEVICE_KEY
from hallboard.display.ratelimit import limiter
from hallboard.observability.metrics import count_display_requests
from hallboard.screens import pairing

# New codes per device key, and per client address (a school's screens often
# share one address behind NAT, so that limit is higher).
PAIR_START_LIMITS = {"pair-dk": "10/minute", "pair-ip": "60/minute"}
#: A pairing request carries one device key: anything longer is not one.
MAX_PAIR_BODY_BYTES = 1024


def claim_url(code: str) -> str:
    return f"{settings.PUBLIC_URL}/admin/screens/screen/pair/?code={code}"


def qr_svg(url: str) -> str:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, dark="#111", light="#fff")
    return out.getvalue().decode()


def _client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", "unknown"))


@csrf_exempt  # no cookies involved: the display has no session
@count_display_requests("pair")
@require_POST
def start_view(request: HttpRequest) -> HttpResponseBase:
    if len(request.body) > MAX_PAIR_BODY_BYTES:
        return errors.invalid_body(f"The body is over {MAX_PAIR_BODY_BYTES} bytes.")
    try:
        body = safejson.loads(request.body or b"{}")
    except safejson.Rejected as exc:
        return errors.invalid_body(exc.detail)
    device_key = (body.get("dk") if isinstance(body, dict) else None) or request.headers.get(
        "X-Device-Key", ""
    )
    if not device_key:
        return errors.missing_device_key()
    if not isinstance(device_key, str) or not DEVICE_KEY.fullmatch(device_key):
        return errors.invalid_device_key()
    for scope, value in (("pair-dk", device_key), ("pair-ip", _client_address(request))):
        retry_after = limiter(PAIR_START_LIMITS[scope]).hit(scope, value)
        if retry_after is not None:
            return errors.rate_limited(retry_after)
    code, secret = pairing.start(device_key)
    url = claim_url(code.code)
    return JsonResponse(
        {
            "code": code.code,
            "secret": secret,
            "expires_at": code.expires_at.isoformat(),
            "claim_url": url,
            "qr_svg": qr_svg(url),
        },
        status=201,
    )


@count_display_requests("pair")
@require_GET
def pickup_view(request: HttpRequest, code: str) -> HttpResponseBase:
    secret = request.headers.get("X-Pairing-Secret", "") or request.GET.get("secret", "")
    retry_after = limiter().hit("pair-poll", pairing.normalise(code))
    if retry_after is not None:
        return errors.rate_limited(retry_after)
    try:
        result = pairing.pick_up(code, secret)
    except pairing.PairingError as exc:
        status = {"pairing_gone": 410, "pairing_expired": 410}.get(exc.code, 404)
        return errors.error(status, exc.code, exc.detail)
    body: dict[str, object] = {"status": result.status, "expires_at": result.expires_at.isoformat()}
    if result.token is not None and result.screen is not None:
        body.update(token=result.token, screen={"id": result.screen.pk, "name": result.screen.name})
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response
