"""The ``fluoroscope`` command."""
