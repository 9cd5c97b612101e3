"""Serializers of the notifications API (output only; marking read takes no fields)."""

from rest_framework import serializers

from apps.core.api.serializers import StrictInputSerializer
from apps.notifications.models import Kind, Notification


class NotificationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    url = serializers.SerializerMethodField(help_text="Absolute link to what it is about in the portal; empty if none")
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read", "read_at"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(obj.url) if obj.url and request else obj.url

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class KindListField(serializers.ListField):
    """A list of notification kinds; anything else is one flat message naming the kinds."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=Kind.choices), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, list) or any(not isinstance(value, str) or value not in Kind.values for value in data):
            raise serializers.ValidationError(f"must be a list of notification kinds, each one of: {', '.join(Kind.values)}")
        return sorted(set(data))


class EmailSettingsSerializer(StrictInputSerializer):
    """``email_off``: the kinds you get no email for (the inbox keeps every kind)."""

    email_off = KindListField(allow_empty=True, help_text="Kinds with email turned off")
