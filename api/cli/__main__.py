"""`python -m api.cli`, as the tests and benchmarks run it: the same as the `newsroom` script."""

from api.cli import app

if __name__ == "__main__":
    app()
