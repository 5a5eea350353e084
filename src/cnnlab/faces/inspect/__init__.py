"""Looking into finished Part 2 runs: diagnostics of a run folder (`inspect_run`), guided backprop of one
image (`explain`) and the MLP's weight pictures (`weight_pictures`)."""
