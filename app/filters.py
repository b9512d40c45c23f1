"""django-filter FilterSets: each query parameter a list endpoint takes, validated (bad → 400)."""

import copy

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django_filters.rest_framework import DjangoFilterBackend

from app.caching import category_tree, filtered_lists
from app.models import Category, Product, User
from app.utils import ApplicationError, EnvelopePagination, UnprocessableError


class FilterSet(django_filters.FilterSet):
    """A FilterSet that does its per-class work once per class, not once per request.

    django-filter deep-copies every filter and makes a new form class for each instance, and
    Django deep-copies every field of each form: together a fifth of a filtered list's time.
    Filters and filter forms here keep no per-request state, so an instance gets shallow copies
    of the filters bound to it, the form class is made once, and its forms share its fields.
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method is not None:
                filter_.method = filter_.method  # its FilterMethod must point at this copy

    def get_form_class(self):
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            form_class = super().get_form_class()
            form_class.base_fields = SharedFields(form_class.base_fields)
            cls._form_class = form_class
        return cls._form_class


class RememberedFilterBackend(DjangoFilterBackend):
    """django-filter's backend, whose filtered queryset a read that knows its catalog version
    (an anonymous catalog read: `caching.request_version`) remembers.

    Validating a list's parameters and applying them (a FilterSet, its form, a filter per
    parameter) costs a fifth of the instructions of a filtered list. Within one catalog version a
    list (its view and action, and `EnvelopePagination.list_key`: its path, parameters and
    caller) always filters to the same queryset, so this process keeps it, as it keeps the
    list's count and compiled pages (`caching.filtered_lists`, for the version this request
    read), and the next read of the list starts from a copy of it, whatever queryset the view
    passes (each view's own depends on nothing else). Only valid parameters get that far:
    invalid ones are refused every time. A result that is not a queryset (a search read in
    tiers) is built every time."""

    def filter_queryset(self, request, queryset, view):
        if self.get_filterset_class(view, queryset) is None:
            return queryset
        key = f"{type(view).__qualname__}.{getattr(view, 'action', None)}|{EnvelopePagination.list_key(request)}"
        filtered = filtered_lists.get(key)
        if filtered is None:
            filtered = super().filter_queryset(request, queryset, view)
            if not isinstance(filtered, QuerySet):
                return filtered
            filtered_lists.keep(key, filtered)
        return filtered.all()  # a copy: the one kept is never evaluated nor changed


class SharedFields(dict):
    """A form class's fields, shared by its forms. Django deep-copies them for every form in case
    a form changes its own; a filter form never does (no field here has a queryset or choices
    set per request), so each form gets a new dict of the same fields."""

    def __deepcopy__(self, memo):
        return dict(self)


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=User.Role.choices)
    search = django_filters.CharFilter(method="filter_search", max_length=100, label="Email or username contains")

    class Meta:
        model = User
        fields = ["role"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(email__icontains=value) | Q(username__icontains=value))


class CategoryFilter(FilterSet):
    parent = django_filters.CharFilter(method="filter_parent", max_length=120, label="Parent category id or slug")
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=100, label="Name contains"
    )

    class Meta:
        model = Category
        fields = []

    def filter_parent(self, queryset, name, value):
        parent = Category.objects.by_ref(value).first()
        if parent is None:
            raise ApplicationError(details={"parent": ["No category with this slug or id."]})
        return queryset.filter(parent=parent)


STRICT_BOOLEAN = [("true", "true"), ("false", "false")]


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400 (django-filter's BooleanFilter ignores it silently)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", STRICT_BOOLEAN)
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """`?ordering=` from an explicit list; unknown fields are a 400. Ties broken by id, so pages never overlap."""

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        tiebreak = "-id" if ordering[-1].startswith("-") else "id"
        return qs.order_by(*ordering, tiebreak)


class ProductFilter(FilterSet):
    """Every product list's filters (contract section 4), combinable."""

    category = django_filters.CharFilter(
        method="filter_category", max_length=100, label="Category slug or UUID; includes its descendants"
    )
    min_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="gte", min_value=0, max_digits=12, decimal_places=2, label="Minimum price"
    )
    max_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="lte", min_value=0, max_digits=12, decimal_places=2, label="Maximum price"
    )
    search = django_filters.CharFilter(method="filter_search", max_length=200, label="Words to search for")
    seller = django_filters.CharFilter(method="filter_seller", max_length=150, label="Seller username or UUID")
    is_featured = StrictBooleanFilter(field_name="is_featured", label="true or false")
    in_stock = StrictBooleanFilter(method="filter_in_stock", label="true or false")
    ordering = StableOrderingFilter(
        fields=(("price", "price"), ("created_at", "created_at"), ("name", "name")),
        label="price, -price, created_at, -created_at, name, -name (default -created_at)",
    )

    class Meta:
        model = Product
        fields = []

    def is_valid(self):
        valid = super().is_valid()
        if valid:
            low, high = self.form.cleaned_data.get("min_price"), self.form.cleaned_data.get("max_price")
            if low is not None and high is not None and low > high:
                raise UnprocessableError(
                    "min_price is greater than max_price",
                    details={"min_price": ["Must not be greater than max_price."]},
                )
        return valid

    def filter_category(self, queryset, name, value):
        tree = category_tree()
        category_id = tree.resolve(value)
        if category_id is None:
            raise ApplicationError(details={"category": ["No category with this slug or id."]})
        return queryset.in_categories(tree.subtree(category_id))

    def filter_seller(self, queryset, name, value):
        seller = User.objects.by_ref(value).first()
        if seller is None:
            raise ApplicationError(details={"seller": ["No seller with this username or id."]})
        return queryset.filter(seller=seller)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.search(value) if value else queryset

    def filter_in_stock(self, queryset, name, value):
        return queryset.filter(stock__gt=0) if value else queryset.filter(stock=0)


class ProductSearchFilter(ProductFilter):
    """`products/search/`: the product filters plus `q` (required, or `search`), ranked by relevance
    unless `ordering` is given."""

    q = django_filters.CharFilter(
        method="filter_search", max_length=200, label="Words to search for (required; `search` is an alias)"
    )
    required_params = ("q",)

    def filter_search(self, queryset, name, value):
        return queryset  # applied once, ranked, in filter_queryset

    def is_valid(self):
        valid = super().is_valid()
        if valid and not self._terms():
            raise ApplicationError("Search terms are required", details={"q": ["This parameter is required."]})
        return valid

    @classmethod
    def words_alone(cls, params) -> str | None:
        """The words of a search that names nothing else but its page (`q`, `page`, `page_size`),
        when `q` is valid: what this FilterSet would search for, without building it. None for any
        other search, which the FilterSet reads (and answers when it is invalid)."""
        if not set(params) <= {"q", EnvelopePagination.page_query_param, EnvelopePagination.page_size_query_param}:
            return None
        try:
            return cls.base_filters["q"].field.clean(params.get("q")) or None  # stripped, as the form does
        except ValidationError:
            return None

    def _terms(self) -> str:
        data = self.form.cleaned_data
        return (data.get("q") or data.get("search") or "").strip()

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.search(self._terms(), ranked=not self.form.cleaned_data.get("ordering"))
