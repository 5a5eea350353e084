"""Run folders: writing and reading them (`folders`), the one cached, seeded run recipe every run kind
uses (`recipe.run_cached`), the registry of run kinds (`kinds.RUN_KINDS`), the catalogue behind
`cnnlab runs` (`catalog`, torch-free) and checking loaded weights against a model (`state_dicts`)."""
