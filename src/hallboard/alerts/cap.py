"""CAP 1.2 (OASIS Common Alerting Protocol) messages in, alerts out.

``parse(body)`` reads one CAP 1.2 ``<alert>`` safely (defusedxml: no DTDs, no
entities, no external references) into a ``CapDocument`` or raises
``CapError`` with an HTTP status and a stable error code. ``receive(...)``
acts on it through ``hallboard.alerts.service``:

- ``msgType`` **Alert** triggers an alert in the school of the URL (or, with
  ``scope=organisation``, in every school of its organisation: only for a
  principal with the alert right over the whole organisation, see
  ``hallboard.alerts.service``);
- **Update** updates the alert(s) its ``references`` point at;
- **Cancel** ends them with an all-clear.

``references`` is a space-separated list of ``sender,identifier,sent``
triples. Every message received is kept (``CapMessage``), so a Cancel that
references an Update that references the Alert still finds it. A message
received again (same sender, identifier and sent, same scope) changes nothing;
it is refused like the first (``service.NotAllowed``) to a principal who may
not act on that scope or alert.

Mapping (docs/api.md has the same table):

- severity: Extreme, Severe, Moderate, Minor map to the same; **Unknown is
  treated as severe**: a sender who cannot say how bad it is gets the screens'
  full attention rather than less;
- kind: words in ``event`` first (evacuat… → evacuation, lockdown/lock down →
  lockdown, shelter → shelter), then ``category`` (Fire → fire, Met →
  weather), else other;
- headline: ``headline``, else ``event``; instructions: ``instruction`` then
  ``description``; both cut to the model's limits;
- ``effective``, else ``onset``, else ``sent`` → starts (a ``sent`` ahead of
  the server's clock counts as now); ``expires`` → expires.

Of several ``<info>`` blocks (languages) the one in the server's language
(``LANGUAGE_CODE``) is used, else the first.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hallboard.alerts import service
from hallboard.alerts.models import Alert, AlertAuditEntry, CapMessage
from hallboard.schools.access import Principal
from hallboard.schools.models import School

logger = logging.getLogger("hallboard.alerts.cap")

NS = "urn:oasis:names:tc:emergency:cap:1.2"
#: Bigger messages are refused (413); CAP resources may embed audio, so be generous.
MAX_BYTES = 1024 * 1024

REQUIRED = ("identifier", "sender", "sent", "status", "msgType", "scope")
REQUIRED_IN_INFO = ("category", "event", "urgency", "severity", "certainty")
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SEVERITY = {
    "Extreme": Alert.Severity.EXTREME,
    "Severe": Alert.Severity.SEVERE,
    "Moderate": Alert.Severity.MODERATE,
    "Minor": Alert.Severity.MINOR,
    "Unknown": Alert.Severity.SEVERE,  # see the module docstring
}
#: Words in <event> that name what people must do (checked in this order).
EVENT_WORDS = (
    (re.compile(r"evacuat", re.IGNORECASE), Alert.Kind.EVACUATION),
    (re.compile(r"lock\s*-?\s*down", re.IGNORECASE), Alert.Kind.LOCKDOWN),
    (re.compile(r"shelter", re.IGNORECASE), Alert.Kind.SHELTER),
)
CATEGORY_KIND = {"Fire": Alert.Kind.FIRE, "Met": Alert.Kind.WEATHER}

HEADLINE_MAX = Alert._meta.get_field("headline").max_length or 160
INSTRUCTIONS_MAX = Alert._meta.get_field("instructions").max_length or 2000


class CapError(Exception):
    """A CAP message refused: the HTTP status, the error code, and what is wrong."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Reference:
    sender: str
    identifier: str
    sent: dt.datetime | None


@dataclass
class CapDocument:
    identifier: str
    sender: str
    sent: dt.datetime
    status: str
    msg_type: str
    references: list[Reference]
    xml: str
    #: What the chosen <info> says, as Alert fields; None for a Cancel without <info>.
    fields: dict[str, Any] | None = None
    #: <effective> or <onset> was given (an Update keeps the start otherwise).
    has_start: bool = False

    @property
    def label(self) -> str:
        return f"CAP {self.msg_type} {self.identifier}"


@dataclass
class CapResult:
    #: "triggered", "updated", "cleared" or "duplicate" (a repeat: nothing changed).
    action: str
    document: CapDocument
    alerts: list[Alert] = field(default_factory=list)


# --- parsing --------------------------------------------------------------------------
def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _text(parent: Element, name: str) -> str | None:
    child = parent.find(_q(name))
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _invalid(detail: str) -> CapError:
    return CapError(422, "cap_invalid_value", detail)


def _datetime(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(
            f"<{name}> {value!r} is not a CAP date and time (e.g. 2003-06-17T14:57:00-07:00)."
        ) from None
    if parsed.tzinfo is None:
        raise _invalid(f"<{name}> {value!r} has no time zone offset.")
    return parsed


def _clean_text(text: str | None) -> str:
    """Undo the line wrapping and indentation of pretty-printed XML text.

    Wrapped lines join into one; a blank line (paragraph) and a line starting
    with a bullet (``*``, ``-``, ``•``, as in NWS texts) start a new line.
    """
    if not text:
        return ""
    lines: list[str] = []
    for raw in text.strip().splitlines():
        line = " ".join(raw.split())
        if not line:
            if lines and lines[-1]:
                lines.append("")
        elif lines and lines[-1] and line[0] not in "*-•":
            lines[-1] += " " + line
        else:
            lines.append(line)
    return "\n".join(lines)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _references(value: str | None) -> list[Reference]:
    refs = []
    for triple in (value or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise _invalid(
                f"<references> entry {triple!r} is not sender,identifier,sent "
                "(entries are separated by spaces)."
            )
        try:
            sent = dt.datetime.fromisoformat(parts[2])
        except ValueError:
            sent = None  # sender and identifier still name the message (CAP: unique per sender)
        refs.append(Reference(parts[0], parts[1], sent))
    return refs


def _choose_info(infos: list[Element]) -> Element:
    wanted = settings.LANGUAGE_CODE.split("-")[0].lower()
    for info in infos:
        language = (_text(info, "language") or "en-US").split("-")[0].lower()
        if language == wanted:
            return info
    return infos[0]


def kind_of(event: str, categories: list[str]) -> str:
    """The alert kind for a CAP ``event`` and its ``category`` values."""
    for pattern, kind in EVENT_WORDS:
        if pattern.search(event):
            return kind
    for category in categories:
        if category in CATEGORY_KIND:
            return CATEGORY_KIND[category]
    return Alert.Kind.OTHER


def _fields(info: Element) -> tuple[dict[str, Any], bool]:
    missing = [f"info/{name}" for name in REQUIRED_IN_INFO if _text(info, name) is None]
    if missing:
        raise CapError(
            422, "cap_missing_element", f"Missing required CAP element(s): {', '.join(missing)}."
        )
    severity = _text(info, "severity") or ""
    if severity not in SEVERITY:
        raise _invalid(f"<severity> {severity!r} is not one of {', '.join(SEVERITY)}.")
    event = _clean_text(_text(info, "event"))
    categories = [c.text.strip() for c in info.findall(_q("category")) if c.text]
    headline = _clean_text(_text(info, "headline")) or event
    parts = [_clean_text(_text(info, "instruction")), _clean_text(_text(info, "description"))]
    start = _datetime(_text(info, "effective"), "effective") or _datetime(
        _text(info, "onset"), "onset"
    )
    fields = {
        "kind": kind_of(event, categories),
        "severity": SEVERITY[severity],
        "headline": _cut(" ".join(headline.split()), HEADLINE_MAX),
        "instructions": _cut("\n\n".join(p for p in parts if p), INSTRUCTIONS_MAX),
        "starts_at": start,
        "expires_at": _datetime(_text(info, "expires"), "expires"),
    }
    return fields, start is not None


def parse(body: bytes) -> CapDocument:
    """Read one CAP 1.2 message, or raise ``CapError`` saying what is wrong with it."""
    if len(body) > MAX_BYTES:
        raise CapError(413, "too_large", f"A CAP message may be at most {MAX_BYTES} bytes.")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise CapError(
            422, "cap_unsafe_xml", "XML with a DTD, entities or external references is refused."
        ) from None
    except ParseError as exc:
        raise CapError(422, "cap_malformed", f"The body is not well-formed XML: {exc}.") from None
    if root.tag != _q("alert"):
        namespace, _, local = root.tag.rpartition("}")
        if local == "alert":
            found = namespace.lstrip("{") or "no namespace"
            raise CapError(
                422,
                "cap_wrong_namespace",
                f"The <alert> is in {found}; only CAP 1.2 ({NS}) is accepted.",
            )
        raise CapError(422, "cap_malformed", f"The root element is <{local}>, not a CAP <alert>.")

    missing = [name for name in REQUIRED if _text(root, name) is None]
    if missing:
        raise CapError(
            422, "cap_missing_element", f"Missing required CAP element(s): {', '.join(missing)}."
        )
    status = _text(root, "status") or ""
    if status not in STATUSES:
        raise _invalid(f"<status> {status!r} is not one of {', '.join(STATUSES)}.")
    if status != "Actual":
        raise CapError(
            422,
            "cap_status_not_actual",
            f"<status> is {status}: only Actual messages reach screens, so nothing was done.",
        )
    msg_type = _text(root, "msgType") or ""
    if msg_type not in MSG_TYPES:
        raise _invalid(f"<msgType> {msg_type!r} is not one of {', '.join(MSG_TYPES)}.")
    if msg_type not in CapMessage.MsgType.values:
        raise CapError(
            422,
            "cap_unsupported_msg_type",
            f"<msgType> {msg_type} is not acted on; send Alert, Update or Cancel.",
        )
    for name in ("identifier", "sender"):
        if len(_text(root, name) or "") > 255:
            raise _invalid(f"<{name}> is longer than 255 characters.")
    sent = _datetime(_text(root, "sent"), "sent")
    assert sent is not None  # required above
    references = _references(_text(root, "references"))
    if msg_type != "Alert" and not references:
        raise CapError(
            422,
            "cap_missing_element",
            f"Missing required CAP element(s): references (a {msg_type} names what it changes).",
        )
    document = CapDocument(
        identifier=_text(root, "identifier") or "",
        sender=_text(root, "sender") or "",
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=references,
        xml=body.decode("utf-8", errors="replace"),
    )
    infos = root.findall(_q("info"))
    if not infos:
        if msg_type != "Cancel":
            raise CapError(422, "cap_missing_element", "Missing required CAP element(s): info.")
        return document
    document.fields, document.has_start = _fields(_choose_info(infos))
    return document


# --- acting on a message ---------------------------------------------------------------
def _scope_key(school: School, scope: str) -> str:
    return f"school:{school.pk}" if scope == "school" else f"org:{school.organisation_id}"


def _store(document: CapDocument, alert: Alert, scope_key: str, actor: service.Actor) -> None:
    CapMessage.objects.create(
        sender=document.sender,
        identifier=document.identifier,
        sent=document.sent,
        msg_type=document.msg_type,
        scope_key=scope_key,
        alert=alert,
        received_by=actor.label[:200],
        xml=document.xml,
    )


def _same_message(document: CapDocument) -> Any:
    return CapMessage.objects.filter(
        sender=document.sender, identifier=document.identifier, sent=document.sent
    )


def resolve(references: list[Reference], school: School) -> list[Alert]:
    """The alerts in ``school``'s scope that these references name (through any message)."""
    found: dict[int, Alert] = {}
    visible = Alert.objects.for_school(school)
    for ref in references:
        messages = CapMessage.objects.filter(
            sender=ref.sender, identifier=ref.identifier, alert__in=visible
        )
        if ref.sent is not None:
            messages = messages.filter(sent=ref.sent)
        for message in messages.select_related("alert"):
            found.setdefault(message.alert_id, message.alert)
    return sorted(found.values(), key=lambda a: a.pk)


def receive(principal: Principal, school: School, scope: str, body: bytes) -> CapResult:
    """Act on one CAP message ``principal`` posted for ``school`` (``scope``: "school" or
    "organisation"); the audit log names both the principal and the CAP sender."""
    document = parse(body)
    actor = service.Actor(principal, AlertAuditEntry.Source.CAP, cap_sender=document.sender)
    if document.msg_type == "Alert":
        result = _alert(actor, school, scope, document)
    else:
        result = _follow_up(actor, school, document)
    logger.info(
        "%s from %s for %s: %s alert(s) %s",
        document.label,
        document.sender,
        school.slug,
        result.action,
        [a.pk for a in result.alerts],
    )
    return result


def _alert(actor: service.Actor, school: School, scope: str, document: CapDocument) -> CapResult:
    key = _scope_key(school, scope)
    # Who may alert this scope first, so a repeat is refused like the first message.
    scoped = Alert(
        organisation_id=school.organisation_id,
        school=school if scope == "school" else None,
        headline=(document.fields or {}).get("headline", ""),
    )
    service.check(actor, scoped, via_school=school)
    seen = _same_message(document).filter(scope_key=key).select_related("alert").first()
    if seen is not None:
        return CapResult("duplicate", document, [seen.alert])
    assert document.fields is not None
    fields = dict(document.fields)
    now = timezone.now()
    fields["starts_at"] = fields["starts_at"] or min(document.sent, now)
    if fields["expires_at"] is not None and fields["expires_at"] <= now:
        raise CapError(
            422,
            "cap_expired",
            f"The message expired at {fields['expires_at'].isoformat()}; nothing was shown.",
        )
    alert = Alert(
        organisation_id=school.organisation_id,
        school=school if scope == "school" else None,
        **fields,
    )
    try:
        with transaction.atomic():
            service.trigger(actor, alert, via_school=school, note=document.label)
            _store(document, alert, key, actor)
    except IntegrityError:  # the same message, received twice at the same moment
        seen = _same_message(document).filter(scope_key=key).select_related("alert").first()
        if seen is None:
            raise
        return CapResult("duplicate", document, [seen.alert])
    return CapResult("triggered", document, [alert])


def _follow_up(actor: service.Actor, school: School, document: CapDocument) -> CapResult:
    visible = Alert.objects.for_school(school)
    seen = list(_same_message(document).filter(alert__in=visible).select_related("alert"))
    if seen:
        for message in seen:  # a repeat is refused like the first message
            service.check(actor, message.alert, via_school=school)
        return CapResult("duplicate", document, sorted({m.alert for m in seen}, key=lambda a: a.pk))
    alerts = resolve(document.references, school)
    if not alerts:
        names = " ".join(f"{r.sender},{r.identifier}" for r in document.references)
        raise CapError(
            404,
            "cap_unknown_reference",
            f"No alert of this school was made by the referenced message(s): {names}.",
        )
    if document.msg_type == "Cancel":
        action, act = "cleared", _cancel
    else:
        action, act = "updated", _update
        alerts = [a for a in alerts if a.cleared_at is None]
        if not alerts:
            raise CapError(
                409,
                "alert_ended",
                "The referenced alert has ended; send an Alert to start a new one.",
            )
    try:
        with transaction.atomic():
            done = [act(actor, alert, school, document) for alert in alerts]
            for alert in done:
                _store(document, alert, f"alert:{alert.pk}", actor)
    except IntegrityError:  # the same message, received twice at the same moment
        seen = list(_same_message(document).filter(alert__in=visible).select_related("alert"))
        if not seen:
            raise
        return CapResult("duplicate", document, sorted({m.alert for m in seen}, key=lambda a: a.pk))
    return CapResult(action, document, done)


def _cancel(actor: service.Actor, alert: Alert, school: School, document: CapDocument) -> Alert:
    return service.clear(actor, alert, via_school=school, note=document.label)


def _update(actor: service.Actor, alert: Alert, school: School, document: CapDocument) -> Alert:
    assert document.fields is not None
    changes = dict(document.fields)
    if not document.has_start:  # an Update without a start keeps the alert's
        changes.pop("starts_at")
    try:
        return service.update(actor, alert, changes, via_school=school, note=document.label)
    except service.AlertEnded:
        raise CapError(
            409, "alert_ended", "The referenced alert has ended; send an Alert to start a new one."
        ) from None
