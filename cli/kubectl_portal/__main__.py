"""``python -m kubectl_portal``: the same as the ``kubectl-portal`` command."""

import sys

from kubectl_portal import main

sys.exit(main())
