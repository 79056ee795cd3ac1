"""Staff flows the action counter (bench/staff_actions.py) performs in Chromium.

Each module has ``run(page, base_url: str, count) -> None``: it performs one flow
on a signed-in ``page`` as a person would and calls ``count(kind, what)`` for each
user action (``"click"``, ``"key"``, ``"type"`` or ``"hold"``). An optional ``ROLE``
names the role the flow is done in (default: the runner's, per flow).
"""
