"""`python -m nst_tf ...`: the command line (see nst_tf.cli)."""

import sys

from nst_tf.cli import main

sys.exit(main())
