"""The runs of questions 2.1-2.4, each through the one cached-run recipe (`cnnlab.core.runs.cached`):
the MLP and small CNN (`small`), the 2.1 recipe grid (`mlp_recipes`), AlexNet features (`transfer`),
fine-tuning (`finetune`, `finetune_classic`) and the layer sweep beyond the handout (`layer_sweep`)."""
