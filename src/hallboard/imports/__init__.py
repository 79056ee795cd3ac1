"""Importing timetables from the files schools already have (issue 13).

Two layers:

* the **parsers** (``text``, ``untis_gpu``, ``untis_html``, ``hallboard_csv``,
  ``detect``) turn bytes into typed records (``records``) and touch no model;
  every bad input ends in ``ImportFileError`` naming file, line and field;
* the **pipeline** maps those records onto a school's timetable, all or nothing.

docs/import.md describes each format, what maps to what and what is ignored.
"""
