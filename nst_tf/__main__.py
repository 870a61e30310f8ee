"""`python -m nst_tf ...`: the command line (see nst_tf.cli.main)."""

import sys

from nst_tf.cli.main import main

sys.exit(main())
