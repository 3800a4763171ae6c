"""The JSON API: thin views that validate, call a service, and serialize."""

from django.conf import settings
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.core.errors import ApplicationError
from reviewapp.core.pagination import DeferredJoinLimitOffsetPagination
from reviewapp.core.parsers import SafeJSONParser
from reviewapp.core.roles import IsCustomer, IsIngest, IsReviewer, is_customer, is_ingest, is_reviewer
from reviewapp.core.uploads import LimitedUploadHandler
from reviewapp.review import grouping, ingest, ingest_reference, queue, reports, selectors
from reviewapp.review.models import Camera, Detection, ReviewItem
from reviewapp.review.serializers import (
    ClipDetailSerializer,
    ClipFilterSerializer,
    ClipListSerializer,
    ClipReferenceSerializer,
    ClipSerializer,
    ClipUploadSerializer,
    CustomerAlertSerializer,
    CustomerClipSerializer,
    DecisionSerializer,
    FalseAlertSerializer,
    GroupDecisionSerializer,
    IngestClipSerializer,
    ReviewerClipSerializer,
    ReviewItemSerializer,
    ReviewSerializer,
)


def _by_role(name: str, serializers: list, *, many: bool = False) -> PolymorphicProxySerializer:
    """One answer per role (the role picks the serializer, not a field of the body): in the
    schema `anyOf` (reviewapp/core/openapi.py), as a reviewer's clip has every customer field."""
    return PolymorphicProxySerializer(
        component_name=name, serializers=serializers, resource_type_field_name=None, many=many
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

    parser_classes = [MultiPartParser, FormParser, SafeJSONParser]
    pagination_class = ClipPagination

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: the size limit applies while it streams in (413).
        request.upload_handlers = [LimitedUploadHandler(request, max_bytes=settings.CLIP_MAX_BYTES)]
        return super().initialize_request(request, *args, **kwargs)

    def get_permissions(self):
        return [IsIngest()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_serializer_class(self):
        if is_reviewer(self.request.user):
            return ClipListSerializer
        if is_ingest(self.request.user):
            return IngestClipSerializer  # finds its clips (by external_id), reads nothing of them
        return CustomerClipSerializer  # a customer's own cameras' clips, without the internals

    @extend_schema(
        parameters=[ClipFilterSerializer],
        responses=_by_role(
            "ClipForRole", [ClipListSerializer, CustomerClipSerializer, IngestClipSerializer], many=True
        ),
    )
    def get(self, request):
        filters = ClipFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        clips = selectors.clips_list(user=request.user, **filters.validated_data)
        page = self.paginate_queryset(clips)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": ClipUploadSerializer, "application/json": ClipReferenceSerializer},
        responses={
            201: ClipSerializer,
            200: OpenApiResponse(ClipSerializer, description="The clip was already stored: that clip."),
            202: OpenApiResponse(
                ClipSerializer,
                description="Stored and `queued`, but the broker was unreachable: the stuck-clip sweep sends it later.",
            ),
            413: OpenApiResponse(description="The upload is over CLIP_MAX_BYTES (refused while it streams in)."),
        },
    )
    def post(self, request):
        if not hasattr(request.data, "keys"):  # JSON `null`, a number, a list, a string: not a form
            raise ApplicationError("the body must be a JSON object or a multipart form", code="invalid")
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
        if not created:
            code = status.HTTP_200_OK
        elif getattr(clip, "sent_to_worker", True):
            code = status.HTTP_201_CREATED
        else:
            code = status.HTTP_202_ACCEPTED
        return Response(ClipSerializer(clip).data, status=code)

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
        raise ApplicationError(_("unknown camera %(name)r") % {"name": name}, fields={"camera": ["unknown camera"]})
    return camera


class ClipDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=_by_role("ClipDetailForRole", [ReviewerClipSerializer, ClipDetailSerializer]),
        description="Reviewers see ReviewerClipSerializer; customers their own clips without internals.",
    )
    def get(self, request, clip_id):
        if not (is_reviewer(request.user) or is_customer(request.user)):
            # The ingest service uploads for every tenant: it finds its clips in the list
            # (IngestClipSerializer) and reads none of their details.
            raise Http404("clip not found")
        clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
        serializer = ReviewerClipSerializer if is_reviewer(request.user) else ClipDetailSerializer
        return Response(serializer(clip).data)


class AlertListView(ListAPIView):
    permission_classes = [IsCustomer]
    serializer_class = CustomerAlertSerializer
    # ?limit=&offset= as every list; a deep offset reads keys from clip_alerts, then the page (#13).
    pagination_class = DeferredJoinLimitOffsetPagination

    def get_queryset(self):
        return (
            selectors.alerts_for_customer(user=self.request.user)
            .with_verdict()
            .select_related("camera")
            .prefetch_related("reports", Prefetch("detections", Detection.objects.defer("descriptor")))
        )


class FalseAlertView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(request=FalseAlertSerializer, responses={201: CustomerAlertSerializer, 200: CustomerAlertSerializer})
    def post(self, request, clip_id):
        clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
        form = FalseAlertSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        _report, created = reports.false_alert_report(
            clip=clip, user=request.user, reason=form.validated_data["reason"]
        )
        data = CustomerAlertSerializer(clip).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


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


class ReviewSkipView(APIView):
    """The queue page's S key: the item goes back to the queue, not offered to this reviewer again."""

    permission_classes = [IsReviewer]

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Skipped.")})
    def post(self, request, item_id):
        item = get_object_or_404(ReviewItem, id=item_id)
        queue.review_skip(item=item, reviewer=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewUndoView(APIView):
    """The queue page's U key: this reviewer's last decision on the item, taken back (400 when
    it is too late or not theirs)."""

    permission_classes = [IsReviewer]

    @extend_schema(request=None, responses={200: ReviewItemSerializer})
    def post(self, request, item_id):
        item = get_object_or_404(ReviewItem, id=item_id)
        item = queue.review_undo(item=item, reviewer=request.user)
        return Response(ReviewItemSerializer(item).data)


class ReviewGroupDecisionView(APIView):
    """The queue page's G key: "no person" on the item and its group (`members`, as the page showed
    them), the rules made once from the item. 409 `group_changed` when the group moved meanwhile."""

    permission_classes = [IsReviewer]

    @extend_schema(request=GroupDecisionSerializer, responses={201: ReviewSerializer})
    def post(self, request, item_id):
        item = get_object_or_404(ReviewItem.objects.select_related("clip", "clip__camera"), id=item_id)
        form = GroupDecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        review, decided = grouping.review_group_decide(
            item=item, reviewer=request.user, member_ids=data["members"], tags=data["tags"], note=data["note"]
        )
        return Response({**ReviewSerializer(review).data, "decided": decided}, status=status.HTTP_201_CREATED)
