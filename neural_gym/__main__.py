"""``python -m neural_gym`` is the ``neural-gym`` command."""

import sys

from .cli import main

sys.exit(main())
