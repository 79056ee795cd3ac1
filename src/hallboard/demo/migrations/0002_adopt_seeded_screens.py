"""Demo databases seeded before SeededScreen existed: mark the screens the demo made.

The demo created its screens in one transaction, seconds apart; screens people
added came later. So the screens of the demo organisation's schools created
within a minute of its first screen are the demo's. Runs once, at migrate.
"""

import datetime as dt

from django.db import migrations

DEMO_ORGANISATION = "north"  # hallboard.demo.seed.ORG_SLUG when this was written


def adopt(apps, schema_editor):
    Screen = apps.get_model("screens", "Screen")
    SeededScreen = apps.get_model("demo", "SeededScreen")
    screens = Screen.objects.filter(school__organisation__slug=DEMO_ORGANISATION)
    first = screens.order_by("created_at").values_list("created_at", flat=True).first()
    if first is None:
        return
    seeded = screens.filter(created_at__lt=first + dt.timedelta(minutes=1))
    SeededScreen.objects.bulk_create(
        [SeededScreen(screen_id=pk) for pk in seeded.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("demo", "0001_seeded_screen")]

    operations = [migrations.RunPython(adopt, migrations.RunPython.noop)]
