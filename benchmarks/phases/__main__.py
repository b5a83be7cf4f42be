"""`python -m benchmarks.phases`: see the package's docstring (why it is a package)."""

from benchmarks.phases import main

main()
