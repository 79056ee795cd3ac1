"""The pure core of the realtime hub: no Django, no asyncio, no I/O, no wall clock.

The data path, and which layer drives which step::

    edit (Django, any replica)
      → School.revision bumped in the same transaction      hallboard.schools.revision
      → after commit: an Event published to the broker      hallboard.realtime.publish
      → broker (memory, or Redis pub/sub per topic)         hallboard.realtime.brokers
      → gateway receives it for a topic it subscribes to    hallboard.realtime.gateway
      → Coalescer: first change now, trailing latest later  core.coalesce
      → Hub: topic → local connections, per-connection
        Outbox (collapse, bound, slow-client policy)        core.hub
      → socket write (websockets.broadcast, encoded once)   gateway
      → display compares revisions, fetches the snapshot    docs/protocol.md

What a client may send is checked here too, once for every transport:
``messages`` (the socket's frames) and ``validation`` (heartbeats and
acknowledgements to the database's limits, also used by the HTTP endpoints).

Everything here is driven by method calls with an explicit ``now`` (monotonic
seconds from an injected clock) and answers with data the adapter acts on, so
it is tested synchronously with a fake clock.
"""
