"""Entry point for ``python -m fluoroscope``."""

from fluoroscope.cli.main import main

raise SystemExit(main())
