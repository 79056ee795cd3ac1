"""The pure core of the realtime hub: no Django, no asyncio, no I/O, no wall clock.

The data path, and which layer drives which step::

    edit (Django, any replica)
      → School.revision bumped in the same transaction      hallboard.schools.revision
      → after commit: a typed event published               hallboard.realtime.publish,
                                                            core.events
      → broker (memory, or Redis pub/sub per topic)         hallboard.realtime.brokers
      → gateway receives it for a topic it subscribes to,
        parses it and hands it to the node                  hallboard.realtime.gateway
      → Node: what each connection is sent, and when        core.node
        → Coalescer: first change now, trailing latest later  core.coalesce
        → Hub: topic → local connections, per-connection
          Outbox (collapse, bound, slow-client policy)      core.hub
      → socket write (encoded once, written to each)        gateway
      → display compares revisions, fetches the snapshot    docs/protocol.md

What a client may send is checked here too, once for every transport:
``messages`` (the socket's frames) and ``validation`` (heartbeats and
acknowledgements to the database's limits, also used by the HTTP endpoints).

Everything here is driven by method calls with an explicit ``now`` (monotonic
seconds from an injected clock) and answers with data the adapter acts on, so
it is tested synchronously with a fake clock.
"""
