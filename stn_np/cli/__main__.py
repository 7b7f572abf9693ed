"""``python -m stn_np.cli`` runs the ``stn-np`` command line."""

import sys

from . import main

sys.exit(main())
