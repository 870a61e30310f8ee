"""`python -m nst_tf ...`: the command line (see nst_tf.cli.main); the exit status is the command's."""

from nst_tf.cli.main import main
from nst_tf.runtime import exit_with

exit_with(main())
