"""The console's URLs: log in and out, the home redirect, and every console area's routes (see areas.py)."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .areas import area_urlpatterns

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    *area_urlpatterns(),
]
