"""Training: dataset formats, the face-crop cache, self-blended fakes, training and evaluation.

Import the submodules directly (``deepverify.training.datasets`` ...); this package imports
nothing at load time so the CLI stays quick to start.
"""
