"""``python -m rmtservice``: the command line (the same as the ``rmtservice`` script)."""

from rmtservice.client.cli import main

raise SystemExit(main())
