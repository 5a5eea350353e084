import pytest

from cnnlab.art.config import ModelConfig
from cnnlab.art.models.receptive import layers_from_config, parse_spec, receptive_field
from cnnlab.core.errors import ConfigError


def test_handout_question_5x5_then_3x3_gives_7x7():
    info = receptive_field(parse_spec("conv5,conv3"))
    assert [i.size for i in info] == [5, 7]
    assert [i.jump for i in info] == [1, 1]


@pytest.mark.parametrize(
    "spec, size, jump",
    [
        ("conv3,conv3,conv3", 7, 1),
        ("conv5s2,conv5s2", 13, 4),  # the starter network
        ("conv5s2,pool2s2,conv5s2,pool2s2", 31, 16),
        ("conv3s2p1,conv3s2p1", 7, 4),
        ("pool2", 2, 2),
    ],
)
def test_known_stacks(spec, size, jump):
    last = receptive_field(parse_spec(spec))[-1]
    assert (last.size, last.jump) == (size, jump)


def test_start_accounts_for_padding():
    # padding 1 on a 3x3 conv centres the first unit on the first pixel
    assert receptive_field(parse_spec("conv3p1"))[0].start == pytest.approx(0.5)


def test_from_model_config_matches_spec():
    cfg = ModelConfig(pool=True)
    assert receptive_field(layers_from_config(cfg)) == receptive_field(parse_spec("conv5s2,pool2s2,conv5s2,pool2s2"))


@pytest.mark.parametrize("spec", ["", "conv", "dense3", "conv0", "conv3s0"])
def test_bad_spec(spec):
    with pytest.raises(ConfigError):
        parse_spec(spec)
