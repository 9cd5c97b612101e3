"""Forms of the approval pages: only the decision's free-text reason."""

from django import forms


class DecisionForm(forms.Form):
    """Approve or reject with an optional reason (shown to the requester on the timeline)."""

    reason = forms.CharField(required=False, max_length=2000, strip=True,
                             widget=forms.TextInput(attrs={"placeholder": "Reason (shown to the requester)"}))
    override_reason = forms.CharField(required=False, max_length=2000, strip=True, label="Override reason",
                                      help_text="Only when the cluster's preflight denies it: why approve anyway (audited)")
