"""``python -m hrss_hub`` runs the CLI."""

from hrss_hub.cli import main

main()
