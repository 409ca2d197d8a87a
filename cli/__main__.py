"""``python -m cli`` runs the ``journeys`` command."""

from cli.app import main

main()
