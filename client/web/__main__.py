"""`python -m scenesearch.client.web ...` is `scenesearch web ...`."""

import sys

from scenesearch.client.cli import main

if __name__ == "__main__":
    main(["web", *sys.argv[1:]])
