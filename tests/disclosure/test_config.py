import pytest

from impact.disclosure import DisclosureConfig
from impact.errors import ParameterError


def test_defaults_follow_acro_default_yaml():
    c = DisclosureConfig()
    assert (c.min_count, c.zeros_disclosive, c.nk_n, c.nk_k, c.p_ratio, c.min_dof) == (10, True, 2, 0.90, 0.10, 10)
    assert c.rounding_base is None and c.block_extremes is True
    assert "*pupilmatchingref*" in c.identifier_patterns


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"min_count": 0}, "'min_count' parameter of DisclosureConfig must be an int in [1, inf). Got 0"),
        ({"nk_k": 1.5}, "'nk_k' parameter of DisclosureConfig must be a float in (0, 1]"),
        ({"rounding_base": 1}, "'rounding_base'"),
        ({"zeros_disclosive": "yes"}, "'zeros_disclosive' parameter of DisclosureConfig must be a bool"),
        ({"identifier_patterns": ()}, "'identifier_patterns' parameter of DisclosureConfig must be a non-empty list"),
        ({"identifier_patterns": [3]}, "glob strings. Got [3] instead"),
    ],
)
def test_bad_config_names_parameter_and_value(kwargs, fragment):
    with pytest.raises(ParameterError) as e:
        DisclosureConfig(**kwargs)
    assert fragment in str(e.value)


def test_config_is_frozen_and_json_ready():
    c = DisclosureConfig(identifier_patterns=["*id*"])
    assert c.identifier_patterns == ("*id*",)
    with pytest.raises(AttributeError):
        c.min_count = 3
    assert c.to_dict()["identifier_patterns"] == ["*id*"]
