"""``python -m loopledger``: the ``loopledger`` command."""

from loopledger.cli import main

main()
