"""Serializers: how the API's objects look on the wire (contract sections 2-4)."""

from rest_framework import serializers


class HealthSerializer(serializers.Serializer):
    """What `GET health/` reports: "ok" or "failing" per dependency."""

    database = serializers.ChoiceField(choices=["ok", "failing"])
    cache = serializers.ChoiceField(choices=["ok", "failing"])
