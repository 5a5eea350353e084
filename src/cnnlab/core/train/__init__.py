"""Training: the one `Trainer` with its callbacks, the training configuration, the LR range test and
TensorBoard logging."""
