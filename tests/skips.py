"""Why a test skips, with the command that installs what it lacks (make test names every skip)."""

NO_TRAIN = (
    "the train extra (torch, onnx) is not installed: make install, or pip install -e '.[train]'"
)
NO_ESPEAK = "espeak-ng is not installed: apt-get install espeak-ng"
