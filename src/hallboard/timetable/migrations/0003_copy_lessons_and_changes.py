"""Copy each lesson's class, teacher and room into the new many-to-many fields, and link
each change to its regular lesson where one matches (same class, weekday and period).

A lesson with two or more changes on one date keeps the newest linked; the others keep
their class and are shown on their own (0004 allows one change per lesson and date).
"""

from collections import defaultdict

from django.db import migrations


def forwards(apps, schema_editor):
    Lesson = apps.get_model("timetable", "Lesson")
    Substitution = apps.get_model("timetable", "Substitution")
    LessonClasses = Lesson.classes.through
    LessonTeachers = Lesson.teachers.through
    LessonRooms = Lesson.rooms.through
    ChangeClasses = Substitution.classes.through

    classes, teachers, rooms = [], [], []
    slots = defaultdict(list)  # (school, weekday, period, class) -> lesson ids
    for lesson in Lesson.objects.all().iterator():
        classes.append(LessonClasses(lesson_id=lesson.pk, schoolclass_id=lesson.school_class_id))
        if lesson.teacher_id:
            teachers.append(LessonTeachers(lesson_id=lesson.pk, teacher_id=lesson.teacher_id))
        if lesson.room_id:
            rooms.append(LessonRooms(lesson_id=lesson.pk, room_id=lesson.room_id))
        key = (lesson.school_id, lesson.weekday, lesson.period_id, lesson.school_class_id)
        slots[key].append(lesson.pk)
    LessonClasses.objects.bulk_create(classes, batch_size=1000)
    LessonTeachers.objects.bulk_create(teachers, batch_size=1000)
    LessonRooms.objects.bulk_create(rooms, batch_size=1000)

    lesson_class = dict(Lesson.objects.values_list("pk", "school_class_id"))
    linked = defaultdict(list)  # (lesson, date) -> changes, oldest first
    own_classes = []
    for change in Substitution.objects.order_by("pk").iterator():
        if change.lesson_id is None:
            key = (change.school_id, change.date.isoweekday(), change.period_id,
                   change.school_class_id)
            candidates = slots.get(key, [])
            if len(candidates) == 1:
                change.lesson_id = candidates[0]
                change.save(update_fields=["lesson"])
        if change.lesson_id is not None:
            linked[(change.lesson_id, change.date)].append(change)
            if lesson_class.get(change.lesson_id) == change.school_class_id:
                continue
        own_classes.append(
            ChangeClasses(substitution_id=change.pk, schoolclass_id=change.school_class_id)
        )
    for changes in linked.values():
        for older in changes[:-1]:
            older.lesson_id = None
            older.save(update_fields=["lesson"])
            if lesson_class.get(changes[-1].lesson_id) == older.school_class_id:
                own_classes.append(
                    ChangeClasses(substitution_id=older.pk, schoolclass_id=older.school_class_id)
                )
    ChangeClasses.objects.bulk_create(own_classes, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("timetable", "0002_lesson_groups_weeks_validity_calendar"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
