"""Processes of LoopLedger that put the library (``ledger``), the gateway (``api``) and the
pilots together:

- ``loopledger.app``: the gateway's app factory, reading ``LOOPLEDGER_*`` settings
  (``uvicorn --factory loopledger.app:create_gateway``);
- ``loopledger.cli``: the ``loopledger`` command: the library's commands (``ledger.cli``) plus
  ``serve`` (N stateless gateway workers).
"""
