"""``Team.clean``: a budget holds quantities Kubernetes accepts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.teams.models import Team


@pytest.mark.parametrize("budget", [{}, {"requests.cpu": "20", "limits.memory": "1.5Ti", "pods": 200}])
def test_budget_of_valid_quantities_is_clean(budget):
    Team(slug="payments", name="Payments", budget=budget).clean()


@pytest.mark.parametrize(("budget", "message"), [
    ({"requests.memory": "2 Gi"}, 'requests.memory: "2 Gi" is not a Kubernetes quantity: remove the spaces'),
    ({"requests.cpu": "NaN"}, 'requests.cpu: "NaN" is not a Kubernetes quantity'),
    ({"pods": "-1"}, "pods: must be greater than zero"),
    (["20"], "must be an object of resource name to quantity"),
])
def test_budget_with_a_value_kubernetes_refuses_is_an_error_on_the_budget_field(budget, message):
    with pytest.raises(ValidationError) as exc:
        Team(slug="payments", name="Payments", budget=budget).clean()
    assert exc.value.message_dict["budget"][0].startswith(message)
