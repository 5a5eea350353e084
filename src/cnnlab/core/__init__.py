"""The shared core: errors, registries, atomic I/O, configuration machinery, the Trainer, run folders,
statistics and plotting. It imports nothing from cnnlab.art, cnnlab.faces, cnnlab.report or cnnlab.cli."""
