"""Console pages (being written for issue 5)."""

urlpatterns = []
