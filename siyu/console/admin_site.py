"""The admin site: open to superusers and to staff with the owner or admin role in a workspace."""
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class SiyuAdminSite(admin.AdminSite):
    site_header = "Siyu 私域"
    site_title = "Siyu"

    def has_permission(self, request):
        from siyu.core.admin_scope import admin_workspace_ids  # models are not ready when this module loads

        user = request.user
        return user.is_active and (user.is_superuser or bool(admin_workspace_ids(user)))


class SiyuAdminConfig(AdminConfig):
    default_site = "siyu.console.admin_site.SiyuAdminSite"
