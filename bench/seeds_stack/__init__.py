"""The seeds' design, minimal, for the benchmark: what a deployment that followed them runs.

Django Channels 4 ``AsyncWebsocketConsumer`` with one group per school
(``group_add("school_<id>")``), ``channels_redis.core.RedisChannelLayer`` with
its default capacity (100), served by daphne. It authenticates with
hallboard's own screens and tokens, so the very same simulated screens and the
same load generator drive both stacks. Nothing here is tuned: the point is to
measure what the seeds would give.
"""
