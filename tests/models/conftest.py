"""The model zoo's pytest options: `--zoo full` runs every model (the default run takes the subset
marked `default` in zoo.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser):
    parser.addoption("--zoo", choices=("default", "full"), default=None,
                     help="which zoo models to run (default: $METALNN_ZOO or 'default')")


def pytest_configure(config):
    # The exporters warn about every traced Python branch of transformers' code; the tests check
    # the exported graphs' outputs instead.
    config.addinivalue_line("filterwarnings", "ignore::UserWarning")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::FutureWarning")
