from django.urls import path

from . import views

app_name = "links"
urlpatterns = [
    path("s/<str:slug>", views.short_link, name="short_link"),
]
