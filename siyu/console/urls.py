from django.contrib.auth import views as auth_views
from django.urls import path

from . import bot_connect, dashboard, group_rules, link_pages, outbox_pages, segment_pages, staff_pages, views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("w/<slug:slug>/", dashboard.dashboard, name="dashboard"),
    path("w/<slug:slug>/refresh/", dashboard.analytics_refresh, name="analytics_refresh"),
    path("w/<slug:slug>/events/", views.events, name="events"),
    path("w/<slug:slug>/groups/", views.groups, name="groups"),
    path("w/<slug:slug>/groups/<int:group_id>/figures/", dashboard.group_analytics, name="group_analytics"),
    path("w/<slug:slug>/groups/<int:group_id>/", views.group_detail, name="group"),
    path("w/<slug:slug>/groups/<int:group_id>/staff/", views.group_staff, name="group_staff"),
    path("w/<slug:slug>/members/", views.members, name="members"),
    path("w/<slug:slug>/members/<int:number>/", views.member_detail, name="member"),
]

# The bot's pages: each module lists its own paths (all under w/<slug>/).
urlpatterns += bot_connect.urlpatterns + group_rules.urlpatterns + outbox_pages.urlpatterns + link_pages.urlpatterns
urlpatterns += segment_pages.urlpatterns + staff_pages.urlpatterns
from . import member_import  # noqa: E402
urlpatterns += member_import.urlpatterns
from . import member_people  # noqa: E402
urlpatterns += member_people.urlpatterns
from . import member_privacy  # noqa: E402
urlpatterns += member_privacy.urlpatterns
