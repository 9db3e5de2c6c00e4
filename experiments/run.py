"""Train and test one model: `python experiments/run.py --model minion --hidden 64` (see --help)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.runs.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
