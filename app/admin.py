"""Django admin for every model: list columns, search, filters, autocompletes, inline images."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from app.models import Category, Product, ProductImage, User


class UserCreateForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "username")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "username", "role", "is_premium", "is_active", "is_staff", "date_joined")
    list_filter = ("role", "is_premium", "is_active", "is_staff")
    search_fields = ("email", "username", "first_name", "last_name")
    ordering = ("-date_joined",)
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Catalog", {"fields": ("role", "is_premium")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "username", "role", "password1", "password2")}),)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent", "created_at")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    list_filter = (("parent", admin.EmptyFieldListFilter),)
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("image", "thumbnail", "medium", "thumbnail_status", "alt_text", "position")
    readonly_fields = ("thumbnail", "medium", "thumbnail_status")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "sku",
        "price",
        "stock",
        "is_featured",
        "is_active",
        "category",
        "seller",
        "created_at",
    )
    list_select_related = ("category", "seller")
    list_filter = ("is_active", "is_featured", "category")
    list_editable = ("is_featured", "is_active")
    search_fields = ("name", "sku", "seller__username", "seller__email")
    autocomplete_fields = ("category", "seller")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    inlines = [ProductImageInline]
    show_full_result_count = False  # COUNT(*) over a million rows on every page is not free


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ("product", "alt_text", "position", "thumbnail_status", "created_at")
    list_filter = ("thumbnail_status",)
    readonly_fields = ("thumbnail", "medium", "thumbnail_status")
    list_select_related = ("product",)
    search_fields = ("product__name", "alt_text")
    autocomplete_fields = ("product",)
