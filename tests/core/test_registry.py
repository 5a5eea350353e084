"""core.registry: names to factories, and `lazy` functions named by import path."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from cnnlab.core.errors import ConfigError
from cnnlab.core.registry import Registry, lazy


def test_registry_names_are_unique_and_an_unknown_one_lists_the_choices():
    reg: Registry[int] = Registry("widget")
    reg.register("b")(lambda: 2)
    reg.register("a")(lambda: 1)
    assert reg.names() == ["a", "b"] and reg.create("b") == 2 and "a" in reg
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(lambda: 3)
    with pytest.raises(ConfigError, match=r"unknown widget 'c' \(choose from: a, b\)"):
        reg.create("c")


def test_a_lazy_function_imports_its_module_only_when_called_and_pickles():
    fn = lazy("json:dumps")
    assert fn([1, 2]) == "[1, 2]" and pickle.loads(pickle.dumps(fn)) == fn
    with pytest.raises(ValueError, match="package.module:function"):
        lazy("json.dumps")
    code = (
        "import sys; from cnnlab.core.registry import lazy; f = lazy('cnnlab.faces.models.builders:build_mlp'); "
        "print('torch' in sys.modules, f.path)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.split() == ["False", "cnnlab.faces.models.builders:build_mlp"]  # naming it imported nothing
