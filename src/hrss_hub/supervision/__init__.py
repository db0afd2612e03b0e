"""Cross-department supervision checks (疑点比对) over the published exchange.

``supervision/*.yaml`` holds the checks (:mod:`.spec`), DuckDB runs them out of core over
the published tables (:mod:`.duck`, :mod:`.evaluate`), the ledger keeps each finding's
lifecycle (:mod:`.lifecycle`) and :func:`.run.supervise` ties these together and stages the
``finding`` dataset.
"""
