"""``python -m clearway.cli``: the same as the ``clearway`` console script."""

from clearway.cli.app import main

# Guarded: evaluation workers are spawned processes, which import this module again as
# ``__mp_main__``; they must not run the command line a second time.
if __name__ == "__main__":
    main()
