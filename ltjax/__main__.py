import sys

from ltjax.cli import main

sys.exit(main())
