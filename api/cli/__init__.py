"""The ``edoc`` command line. Each command group lives in its own module and is registered in
:mod:`api.cli.main`."""
