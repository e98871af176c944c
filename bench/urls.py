"""The project's URLs plus the trivial authenticated endpoint the ingest figure is divided by."""

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class TrivialView(APIView):
    """Answers any authenticated caller with a constant: the floor of an authenticated DRF request."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"ok": True}, status=202)


urlpatterns = [
    path("bench/trivial", TrivialView.as_view()),
    path("", include("eventtix.urls")),
]
