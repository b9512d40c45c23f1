"""django-filter FilterSets: each query parameter a list endpoint takes, validated (bad → 400)."""

import django_filters
from django.db.models import Q

from app.models import User


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=User.Role.choices)
    search = django_filters.CharFilter(method="filter_search", max_length=100, label="Email or username contains")

    class Meta:
        model = User
        fields = ["role"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(email__icontains=value) | Q(username__icontains=value))
