"""``python -m edgekd`` runs the CLI."""

from edgekd.cli import main

main()
