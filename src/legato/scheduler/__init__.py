"""Schedules, partitions and their time arithmetic; triggers behind one interface.

- ``timezones``: IANA timezones, and the one rule that turns a local wall time into an
  instant across DST changes.
- ``cron``, ``interval``: the two cadences (``lg.cron``, ``lg.every``); ``ticks``: a tick
  and the ticks between two instants; ``catch_up``: which missed ticks run.
- ``spec``: the authoring side (``lg.cron(...)``, ``lg.every(...)``).
- ``trigger``: what every trigger (schedule, later sensor, asset event) implements.
- ``partitions``, ``time_partitions``, ``mapping``: partitions of assets and how an
  asset's partitions map to its upstream's.

Nothing here touches the store: the scheduler loop, run queue and backfills build on it.
"""
