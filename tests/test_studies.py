"""The study framework's shared rules: the run fields' checks and the checkpoint interval."""

import dataclasses

import pytest

from ganflow.studies import RUN_FIELDS, check_run_fields, checkpoint_interval


@dataclasses.dataclass(frozen=True)
class _Cfg:
    seeds: int = 4
    seed: int = 0
    num_steps: int = 100
    save_every: int = 20
    dtype: str = "float64"


@pytest.mark.parametrize("field, value, message", [
    ("seeds", 0, "seeds must be >= 1"),
    ("seed", -1, "seed must be >= 0"),
    ("num_steps", 0, "num_steps must be >= 1"),
    ("save_every", 30, "save_every=30 must divide num_steps=100"),
    ("dtype", "float16", "unknown dtype 'float16'"),
    ("seeds", 2.5, "seeds must be an integer"),
])
def test_check_run_fields_names_the_field(field, value, message):
    check_run_fields(_Cfg())
    with pytest.raises(ValueError, match=message):
        check_run_fields(dataclasses.replace(_Cfg(), **{field: value}))


def test_check_run_fields_skips_fields_a_config_lacks():
    @dataclasses.dataclass(frozen=True)
    class Small:
        seed: int = 3

    check_run_fields(Small())
    assert set(RUN_FIELDS) == {f.name for f in dataclasses.fields(_Cfg)}


def test_checkpoint_interval():
    assert checkpoint_interval(400, 100) == 100          # 4 saves: a checkpoint at each
    assert checkpoint_interval(2000, 100) == 300         # 20 saves, at most 8 checkpoints
    assert checkpoint_interval(3000, 250, 10) == 500     # 12 saves, at most 10
    for n, s, c in [(1000, 10, 8), (90, 30, 10), (5, 5, 3)]:
        k = checkpoint_interval(n, s, c)
        assert k % s == 0 and k >= s and -(-n // k) <= c
