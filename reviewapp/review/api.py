"""The JSON API: thin views that validate, call a service, and serialize."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.core.errors import ApplicationError
from reviewapp.core.roles import IsCustomer, IsIngest, IsReviewer, is_ingest, is_reviewer
from reviewapp.review import ingest, ingest_reference, queue, reports, selectors
from reviewapp.review.models import Camera, ReviewItem
from reviewapp.review.serializers import (
    ClipDetailSerializer,
    ClipFilterSerializer,
    ClipListSerializer,
    ClipReferenceSerializer,
    ClipSerializer,
    ClipUploadSerializer,
    CustomerClipSerializer,
    DecisionSerializer,
    FalseAlertSerializer,
    ReviewerClipSerializer,
    ReviewItemSerializer,
    ReviewSerializer,
)


class ClipPagination(CursorPagination):
    # A cursor, not an offset: no COUNT over every clip, and a page deep in a year of clips
    # costs the same as the first (the camera / recorded_at indexes).
    ordering = ("-recorded_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ClipUploadView(GenericAPIView):
    """POST: a clip, uploaded (multipart, `file`) or already in the clip bucket (JSON,
    `{"camera", "key"}`: ingested by reference). GET: clips, filtered, newest first."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]
    pagination_class = ClipPagination

    def get_permissions(self):
        return [IsIngest()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_serializer_class(self):
        if is_reviewer(self.request.user) or is_ingest(self.request.user):
            return ClipListSerializer
        return CustomerClipSerializer  # a customer's own cameras' clips, without the internals

    @extend_schema(parameters=[ClipFilterSerializer], responses=ClipListSerializer(many=True))
    def get(self, request):
        filters = ClipFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        clips = selectors.clips_list(user=request.user, **filters.validated_data)
        page = self.paginate_queryset(clips)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": ClipUploadSerializer, "application/json": ClipReferenceSerializer},
        responses={201: ClipSerializer, 200: ClipSerializer},
    )
    def post(self, request):
        if "key" in request.data:
            return self._post_reference(request)
        form = ClipUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        camera = _camera(data["camera"])
        upload = data["file"]
        clip, created = ingest.clip_ingest(
            camera=camera,
            path=upload.temporary_file_path(),
            recorded_at=data["recorded_at"],
            external_id=data.get("external_id"),
        )
        return Response(ClipSerializer(clip).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def _post_reference(self, request):
        form = ClipReferenceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        clip, created = ingest_reference.clip_ingest_reference(
            camera=_camera(data["camera"]),
            bucket=settings.CLIP_BUCKET,
            key=data["key"],
            recorded_at=data.get("recorded_at"),
        )
        return Response(ClipSerializer(clip).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _camera(name: str) -> Camera:
    camera = Camera.objects.filter(name=name).select_related("customer").first()
    if camera is None:
        raise ApplicationError(f"unknown camera {name!r}", fields={"camera": ["unknown camera"]})
    return camera


class ClipDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReviewerClipSerializer)
    def get(self, request, clip_id):
        clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
        serializer = ReviewerClipSerializer if is_reviewer(request.user) else ClipDetailSerializer
        return Response(serializer(clip).data)


class AlertListView(ListAPIView):
    permission_classes = [IsCustomer]
    serializer_class = ClipSerializer

    def get_queryset(self):
        return selectors.alerts_for_customer(user=self.request.user).prefetch_related("reports", "reviews")


class FalseAlertView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(request=FalseAlertSerializer, responses={201: ClipSerializer, 200: ClipSerializer})
    def post(self, request, clip_id):
        clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
        form = FalseAlertSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        _report, created = reports.false_alert_report(
            clip=clip, user=request.user, reason=form.validated_data["reason"]
        )
        return Response(ClipSerializer(clip).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReviewNextView(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(responses={200: ReviewItemSerializer, 204: OpenApiResponse(description="The queue is empty.")})
    def get(self, request):
        item = queue.review_next(reviewer=request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ReviewItemSerializer(item).data)


class ReviewDecisionView(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(request=DecisionSerializer, responses={201: ReviewSerializer})
    def post(self, request, item_id):
        item = get_object_or_404(ReviewItem, id=item_id)
        form = DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        review = queue.review_record(item=item, reviewer=request.user, **form.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)
