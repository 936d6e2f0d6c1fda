"""``python -m clearway.cli``: the same as the ``clearway`` console script."""

from clearway.cli.app import main

main()
