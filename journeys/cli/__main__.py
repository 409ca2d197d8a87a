"""``python -m journeys.cli`` runs the ``journeys`` command."""

from journeys.cli.app import main

main()
