import sys

from tests.rehearsal.runner import main

sys.exit(main())
