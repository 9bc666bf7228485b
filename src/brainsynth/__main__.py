import sys

from brainsynth.cli import main

sys.exit(main())
