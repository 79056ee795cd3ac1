"""Reliability tools: fault runs, fuzzing and a soak with churn (docs/reliability.md).

Like ``bench/``: runnable scripts that start every process they use on
127.0.0.1, stop them again by PID, and are bounded in time. ``make
reliability`` runs them all and writes docs/reliability.md; small versions run
in ``make test`` (tests/reliability/).
"""
