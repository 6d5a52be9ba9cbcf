from django.urls import re_path

from .views import webhook

urlpatterns = [re_path(r"^hooks/(?P<channel>[a-z][a-z0-9_-]{0,31})/(?P<token>[A-Za-z0-9_-]{1,64})/$", webhook, name="webhook")]
