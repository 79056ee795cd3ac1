"""Drop Lesson.school_class/teacher/room and Substitution.school_class (copied by 0003);
at most one change per lesson and date from now on."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("timetable", "0003_copy_lessons_and_changes"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="lesson",
            name="room",
        ),
        migrations.RemoveField(
            model_name="lesson",
            name="school_class",
        ),
        migrations.RemoveField(
            model_name="lesson",
            name="teacher",
        ),
        migrations.RemoveField(
            model_name="substitution",
            name="school_class",
        ),
        migrations.AddConstraint(
            model_name="substitution",
            constraint=models.UniqueConstraint(
                condition=models.Q(("lesson__isnull", False)),
                fields=("lesson", "date"),
                name="one_change_per_lesson_and_date",
            ),
        ),
    ]
