"""Recipients read their outboxes over the open Delta Sharing protocol.

``hrss-hub share serve`` runs a Delta Sharing server (PROTOCOL.md of delta-io/delta-sharing)
over the recipients' outbox Delta tables; pandas, Spark, Power BI, Tableau and every other
Delta Sharing client read a share with a profile file and no hub installed.

- :mod:`.shares`: one share per sharing agreement, its tables, and whether the outbox is
  still covered by the agreement in force;
- :mod:`.tables`: a table's versions, snapshots and change data feed from its Delta log;
- :mod:`.protocol`: the wire format (NDJSON actions, capabilities, errors, page tokens);
- :mod:`.tokens`: recipients' bearer tokens, stored hashed in the ledger, and profiles;
- :mod:`.urls`: short-lived signed file URLs (presigned on S3);
- :mod:`.audit`: the queries and downloads recorded in the hash-chained audit log;
- :mod:`.service`: who is calling and what they may read (checked on every request);
- :mod:`.params`: the parameters of protocol requests;
- :mod:`.predicates`: best-effort file pruning by JSON predicate hints;
- :mod:`.settings` / :mod:`.storage`: the ``share:`` settings, where the outboxes live;
- :mod:`.app` / :mod:`.server`: the ASGI application and running it on uvicorn;
- :mod:`.catalog`: the shares as the catalog shows them.
"""
