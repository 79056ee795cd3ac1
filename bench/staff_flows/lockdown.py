"""The lockdown flow as a safety officer performs it in Chromium, counting each action.

``run(page, base_url, count)`` starts on the staff landing page (``/staff/``) of a
signed-in user holding the alert right, and ends when the panel shows the alert
on. ``count(kind, what)`` is called once per deliberate user action: ``click``,
``key``, ``type`` or ``hold`` (the hold-to-confirm on the send button is one
action, however long it lasts). Reading the page is not an action; following a
redirect the server makes is not either. The runner (``bench/staff_actions.py``)
reports the total; the goal for a lockdown is at most 3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Count = Callable[[str, str], None]


def run(page: Any, base_url: str, count: Count) -> None:
    page.goto(f"{base_url}/staff/")
    direct = page.locator('.task-schools a[data-task="emergency"]')
    if page.locator("#template-grid").count() == 0 and direct.count() > 0:
        # The landing page lists the panel of each of the user's schools: the first one.
        direct.first.click()
        count("click", "the school's emergency panel (landing page)")
        page.wait_for_load_state()
    if page.locator("#template-grid").count() == 0:
        # Not sent straight to the panel (the user has other staff pages): the nav link.
        page.click("nav a.task-emergency")
        count("click", "Emergency (staff nav)")
        page.wait_for_load_state()
    if page.locator("#template-grid").count() == 0:
        # Several schools: the panel of the first one listed.
        page.click(".big-links a >> nth=0")
        count("click", "the school")
    page.locator("button.template.kind-lockdown").first.click()
    count("click", "Lockdown")
    hold = page.locator("#send-hold")
    hold.wait_for()
    box = hold.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_selector(".alert-card", timeout=30_000)  # sent once the bar is full
    page.mouse.up()
    count("hold", "Hold to send")


if __name__ == "__main__":  # a tiny runner: python bench/staff_flows/lockdown.py URL USER PW
    import sys

    from playwright.sync_api import sync_playwright

    base, user, password = sys.argv[1:4]
    actions: list[tuple[str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 375, "height": 667})
        page.goto(f"{base}/admin/login/?next=/staff/")
        page.fill("#id_username", user)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        run(page, base, lambda kind, what: actions.append((kind, what)))
        browser.close()
    for kind, what in actions:
        print(f"{kind:5} {what}")
    print(f"lockdown: {len(actions)} actions (goal: at most 3)")
