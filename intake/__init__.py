"""Alert intake: a storm of alerts becomes a handful of incidents, each investigated once.

Modules, one job each:

- ``settings``: the ``intake:`` section of config.yaml.
- ``events``: `AlertEvent`, the slotted alert inside intake; severity, environment and time parsing.
- ``sources/``: one normalizer per source (Alertmanager, Grafana, PagerDuty, Datadog, CloudWatch/SNS,
  Opsgenie, generic JSON); ``alertmanager``: the same parser for ``firstline respond``.
- ``topology``, ``suppression``, ``correlation``: the engine (dedup, flap, suppression, grouping,
  material change), pure and in memory; ``pipeline``: normalize then correlate, shared by all.
- ``auth``, ``db``, ``inbox``, ``deadletters``, ``store``, ``investigation``, ``ids``, ``starter``,
  ``service``, ``server``, ``openapi``: ``firstline serve``.
- ``replay``, ``storm``, ``bench``, ``scoring``: ``firstline intake replay|bench`` and their results.
"""
