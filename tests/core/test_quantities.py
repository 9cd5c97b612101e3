"""``apps.core.quantities.parse`` accepts exactly what the API server's ParseQuantity accepts, with the same value.

kubesim's parser is a step-by-step port of apimachinery's scanner; the portal's
is written differently (a regular expression plus the suffix rules). A
property-based test checks that the two agree on generated strings, and table
tests pin both to apimachinery's own test cases.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.core import quantities
from apps.core.quantities import QuantityError, parse, quota_errors
from kubesim import quantity as sim


def portal(text):
    """The portal's verdict: the value, or None when refused."""
    try:
        return parse(text)
    except QuantityError:
        return None


def kubesim(text):
    """kubesim's verdict (ParseQuantity, strict): the value, or None when refused."""
    try:
        return sim.decode(text)[0]
    except sim.QuantityError:
        return None


def assert_agree(text):
    ours, theirs = portal(text), kubesim(text)
    assert (ours is None) == (theirs is None), f"{text!r}: portal {ours!r}, kubesim {theirs!r}"
    if ours is not None:
        assert ours == theirs, f"{text!r}: portal {ours!r}, kubesim {theirs!r}"
        if abs(ours.adjusted()) < 60:
            # kubesim's Quantity (exact fractions) holds the same number.
            assert sim.parse(text).value == Fraction(ours), text


# --- apimachinery's own cases (quantity_test.go: TestQuantityParse) ---------------------

UPSTREAM_VALID = {
    "0": 0, "0n": 0, "0u": 0, "0m": 0, "0Ki": 0, "0k": 0, "0Mi": 0, "0M": 0, "0Gi": 0, "0G": 0, "0Ti": 0, "0T": 0,
    "1": 1, "1Ki": 1024, "8Ki": 8 * 1024, "7Mi": 7 * 2**20, "6Gi": 6 * 2**30, "5Ti": 5 * 2**40, "4Pi": 4 * 2**50,
    "3Ei": 3 * 2**60, "10Ti": 10 * 2**40, "100Ti": 100 * 2**40,
    "5n": Decimal("5e-9"), "4u": Decimal("4e-6"), "3m": Decimal("0.003"), "9": 9, "8k": 8000, "50k": 50000,
    "7M": 7 * 10**6, "6G": 6 * 10**9, "5T": 5 * 10**12, "40T": 4 * 10**13, "300T": 3 * 10**14, "2P": 2 * 10**15,
    "1E": 10**18, "1E-3": Decimal("0.001"), "1e3": 1000, "1E6": 10**6, "1e9": 10**9, "1E12": 10**12, "1e15": 10**15,
    "1E18": 10**18, "1e14": 10**14, "1e13": 10**13, "100.035k": 100035,
    "0.001": Decimal("0.001"), "0.0005k": Decimal("0.5"), "0.005": Decimal("0.005"), "0.05": Decimal("0.05"),
    "0.5": Decimal("0.5"), "0.00050k": Decimal("0.5"), "0.00500": Decimal("0.005"), "0.05000": Decimal("0.05"),
    "0.50000": Decimal("0.5"), "0.5e0": Decimal("0.5"), "0.5e-1": Decimal("0.05"), "0.5e-2": Decimal("0.005"),
    "10.035M": 10035000, "1.2e3": 1200, "1.3E+6": 1300000, "1.40e9": 1400000000, "1.53E12": 1530000000000,
    "1.6e15": 16 * 10**14, "1.7E18": 17 * 10**17, "9.01": Decimal("9.01"), "8.1k": 8100, "7.123456M": 7123456,
    "6.987654321G": 6987654321, "5.444T": 5444 * 10**9, "40.1T": 401 * 10**11, "300.2T": 3002 * 10**11,
    "2.5P": 25 * 10**14, "1.01E": 101 * 10**16,
    # saturate / round up to the nano
    "3.001n": Decimal("4e-9"), "1.1E-9": Decimal("2e-9"), "0.0000000001": Decimal("1e-9"),
    "0.0000000005": Decimal("1e-9"), "0.00000000050": Decimal("1e-9"), "0.5e-9": Decimal("1e-9"),
    "0.9n": Decimal("1e-9"), "0.00000012345": Decimal("124e-9"), "0.00000012354": Decimal("124e-9"),
    "9Ei": 2**63 - 1, "9223372036854775807Ki": 2**63 - 1, "12E": 12 * 10**18,
    # fractional binary
    "100.035Ki": Decimal("102435.84"), "0.5Mi": 2**19, "0.05Gi": Decimal("53687091.2"),
    "0.025Ti": Decimal("27487790694.4"),
    # "written by trolls"
    "0.000000000001Ki": Decimal("2e-9"), ".001": Decimal("0.001"), ".0001k": Decimal("0.1"), "1.": 1, "1.G": 10**9,
}

UPSTREAM_INVALID = ["", "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 ",
                    "1e2147483648", "1e-2147483648", "1e4294967297", "1E9223372036854775808"]


@pytest.mark.parametrize(("text", "value"), UPSTREAM_VALID.items())
@pytest.mark.parametrize("sign", ["", "+", "-"])
def test_apimachinery_valid_cases_parse_to_the_same_value(text, value, sign):
    expected = Decimal(value) * (-1 if sign == "-" else 1)
    assert parse(sign + text) == expected
    assert sim.decode(sign + text)[0] == expected


@pytest.mark.parametrize("text", UPSTREAM_INVALID)
def test_apimachinery_invalid_cases_are_refused_by_both(text):
    with pytest.raises(QuantityError):
        parse(text)
    with pytest.raises(sim.QuantityError):
        sim.decode(text)


# --- the cases the issue names, and the real parser's corners ------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e3", 1000), ("1.5Gi", 1536 * 2**20), ("500m", Decimal("0.5")), ("+1", 1), ("-1", -1), (".5", Decimal("0.5")),
        ("5.", 5), ("1E", 10**18),
        # accepted by ParseQuantity as zero: "+", "-", ".", bare units, "e-9"
        ("+", 0), ("-", 0), (".", 0), ("Ki", 0), ("Ti", 0), ("m", 0), ("e-9", 0), ("0Pi", 0),
        ("1e2147483647", Decimal("1e2147483647")),
        # the scale is an int32 that overflows: the server reads 155e2147483647
        ("1.55e-2147483647", Decimal("1.55e2147483649")),
    ],
)
def test_accepted_like_the_api_server(text, value):
    assert parse(text) == value
    assert_agree(text)


@pytest.mark.parametrize(
    "text",
    ["2 Gi", "NaN", "nan", "inf", "Infinity", " 1", "1 ", "1\n", "1e", "1E+", "0x10", "1_000", "1,5", "2gi", "2GB",
     "\u0661", "\uff11", "1\u00a0", ".Pi", "-.Ei", "+Pi", "Ei", "e-10", "1e-", "--1", "1.2.3", ""],
)
def test_refused_like_the_api_server(text):
    with pytest.raises(QuantityError):
        parse(text)
    assert kubesim(text) is None


def test_message_for_a_space_says_to_remove_it():
    with pytest.raises(QuantityError) as exc:
        parse("2 Gi")
    assert str(exc.value) == ('"2 Gi" is not a Kubernetes quantity: remove the spaces (write 2Gi, not 2 Gi); '
                              "examples: 500m, 2, 1.5, 512Mi, 2Gi, 1e3")


def test_message_for_surrounding_spaces_shows_the_value_without_them():
    with pytest.raises(QuantityError) as exc:
        parse(" 1Gi\t")
    assert str(exc.value).startswith('" 1Gi\\t" is not a Kubernetes quantity: remove the spaces around it (write 1Gi)')


def test_message_for_nan_lists_the_units_and_examples():
    with pytest.raises(QuantityError) as exc:
        parse("NaN")
    assert str(exc.value).startswith('"NaN" is not a Kubernetes quantity: write a number followed by an optional unit: Ki Mi Gi')
    assert "examples: 500m, 2, 1.5, 512Mi, 2Gi, 1e3" in str(exc.value)


def test_message_shows_invisible_characters_and_stays_short():
    with pytest.raises(QuantityError) as exc:
        parse("1\u00a0" + "9" * 500)
    message = str(exc.value)
    assert message.startswith('"1\\xa0999') and len(message) < 300


def test_json_integers_parse_and_other_types_are_refused():
    assert parse(20) == 20
    for value in (True, 1.5, None, ["1"], {"v": "1"}, 10**5000):
        with pytest.raises(QuantityError):
            parse(value)


def test_kubesim_decodes_json_like_unmarshaljson_trimming_whitespace():
    # The API server trims a JSON string before ParseQuantity; the portal does
    # not rely on that and refuses the spaces (checked above).
    assert sim.from_json(" 1Gi\u00a0").value == 2**30
    with pytest.raises(sim.QuantityError):
        sim.parse(" 1Gi")


# --- quota rules on top of the syntax ---------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "must be greater than zero"), ("+", "must be greater than zero"), ("Ki", "must be greater than zero"),
        ("1e-2147483647", "use an exponent from e-9 to e18"), ("1e19", "use an exponent from e-9 to e18"),
        ("1e2147483647", "use an exponent from e-9 to e18"), ("2 Gi", '"2 Gi" is not a Kubernetes quantity'),
    ],
)
def test_quota_refuses_values_the_cluster_would_take_but_no_one_means(value, message):
    errors = quota_errors({"requests.memory": value})
    assert list(errors) == ["requests.memory"]
    assert errors["requests.memory"][0].startswith(message)


@pytest.mark.parametrize("value", ["1e3", "1E+3", "1000m", "+2", "1.5", "5.", ".5", "500m", "2e0"])
def test_quota_accepts_unusual_but_sane_spellings(value):
    assert quota_errors({"requests.cpu": value}) == {}


def test_module_no_longer_uses_the_kubernetes_client():
    source = open(quantities.__file__).read()
    assert "import kubernetes" not in source and "from kubernetes" not in source


# --- property: the portal and kubesim agree on generated strings ------------------------------

SIGNS = st.sampled_from(["", "", "+", "-"])
DIGITS = st.text("0123456789", max_size=22)
SUFFIXES = st.one_of(
    st.sampled_from(["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]),
    st.builds(lambda e, sign, n: e + sign + n, st.sampled_from(["e", "E"]), SIGNS,
              st.one_of(st.integers(0, 40).map(str), st.sampled_from(
                  ["", "2147483647", "2147483648", "2147483646", "4294967296", "9223372036854775807",
                   "9223372036854775808", "0009", "00000000000000000000012"]))),
    st.text("eEinumkKMGTP+-0123456789", max_size=4),
)
SHAPED = st.builds(
    lambda sign, whole, dot, frac, suffix: sign + whole + (("." + frac) if dot else "") + suffix,
    SIGNS, DIGITS, st.booleans(), DIGITS, SUFFIXES,
)
NOISE = st.sampled_from([" ", "\t", "\n", "\u00a0", "\u2009", "\u0661", "\uff11", "\u00b2", "NaN", "inf", "x", "_", ",",
                         ".", "+", "-", "e", "i", "0x", "Gi", "\x00", "\u00e9"])
MUTATED = st.builds(lambda s, i, noise: s[: i % (len(s) + 1)] + noise + s[i % (len(s) + 1):], SHAPED,
                    st.integers(0, 40), NOISE)
ARBITRARY = st.text(st.sampled_from(list("0123456789.+-eEinumkKMGTP ") + ["\u00a0", "\u0661", "N", "a", "f", "x"]),
                    max_size=12)


@settings(max_examples=2000, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(SHAPED, SHAPED, MUTATED, ARBITRARY, st.text(max_size=8)))
@example("2 Gi")
@example("NaN")
@example("1.55e-2147483647")
def test_portal_accepts_exactly_what_kubesim_accepts_with_the_same_value(text):
    assert_agree(text)


# --- end to end: what the portal accepts, a real ResourceQuota apply accepts -----------------

def apply_quota(api, namespace: str, name: str, hard: dict):
    """Server-side apply a ResourceQuota as the portal does (apply-patch, strict field validation)."""
    from kubernetes import client as k8s

    body = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": namespace},
            "spec": {"hard": hard}}
    return k8s.CoreV1Api(api).patch_namespaced_resource_quota(
        name, namespace, body, field_manager="quantity-test", force=True, field_validation="Strict",
        _content_type="application/apply-patch+yaml")


@pytest.fixture
def sim_api(kubesim_cluster):
    """An admin client of a fresh kubesim with an empty namespace ``q``."""
    from kubernetes import client as k8s

    from tests.conftest import official_client

    handle, _ = kubesim_cluster
    with official_client(handle.admin_kubeconfig) as api:
        k8s.CoreV1Api(api).create_namespace({"metadata": {"name": "q"}})
        yield api


def hard_status(api, name: str) -> dict:
    from kubernetes import client as k8s

    from tests.conftest import wait_for

    core = k8s.CoreV1Api(api)
    wait_for(lambda: (core.read_namespaced_resource_quota(name, "q").status or k8s.V1ResourceQuotaStatus()).hard,
             message=f"status.hard of quota {name}")
    return core.read_namespaced_resource_quota(name, "q").status.hard


SANE_QUOTA_VALUES = st.builds(
    lambda whole, dot, frac, suffix: whole + ("." + frac if dot else "") + suffix,
    st.text("0123456789", min_size=1, max_size=4), st.booleans(), st.text("0123456789", max_size=10),
    st.sampled_from(["", "m", "u", "n", "k", "M", "G", "Ki", "Mi", "Gi", "e2", "E-1", "e+3", "e0"]),
).filter(lambda text: quota_errors({"requests.memory": text}) == {})


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(value=SANE_QUOTA_VALUES)
@example(value="1.5Gi")
@example(value="500m")
@example(value="1e3")
@example(value="+2")
@example(value=".5")
@example(value="5.")
@example(value="0.1n")
@example(value="100.035Ki")
def test_a_quota_value_the_portal_accepts_is_applied_by_the_cluster_with_the_same_value(sim_api, value):
    name = "q-" + hashlib.sha1(value.encode()).hexdigest()[:12]
    apply_quota(sim_api, "q", name, {"requests.memory": value})
    # The quota controller re-prints spec.hard canonically; it is the same number.
    assert parse(hard_status(sim_api, name)["requests.memory"]) == parse(value)


@pytest.mark.parametrize("value", ["2 Gi", "NaN", "1_000", "\u0661"])
def test_a_value_the_portal_refuses_is_refused_by_the_cluster_too(sim_api, value):
    from kubernetes.client.exceptions import ApiException

    assert portal(value) is None
    with pytest.raises(ApiException) as exc:
        apply_quota(sim_api, "q", "bad", {"requests.memory": value})
    assert "quantities must match the regular expression" in exc.value.body
