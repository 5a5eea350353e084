"""Diagnostics of a trained classifier: confusion, per-class metrics, confused pairs and top losses
(`metrics`), their figures (`plots`), and captum attributions (`attribution`, the registry of
`cnnlab explain`)."""
