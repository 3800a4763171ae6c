from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reviewapp.review import detail, selectors
from reviewapp.review.models import Clip, Review, ReviewItem, Tag


class ClipUploadSerializer(serializers.Serializer):
    camera = serializers.SlugField(max_length=100)
    file = serializers.FileField(allow_empty_file=True)  # the service says why an empty file is refused
    recorded_at = serializers.DateTimeField()
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=False)


class DetectionSerializer(serializers.Serializer):
    """A box of a clip's detail (reviewapp.review.detail.DetailBox), or a Detection row kept in the
    database when the detail is gone."""

    frame_index = serializers.IntegerField()
    frame_time = serializers.FloatField()
    box = serializers.SerializerMethodField()
    score = serializers.FloatField()
    label = serializers.CharField()
    suppressed_by = serializers.IntegerField(source="suppressed_by_id", allow_null=True)

    def get_box(self, obj) -> list[float]:
        return [round(obj.x1, 1), round(obj.y1, 1), round(obj.x2, 1), round(obj.y2, 1)]


class ReviewSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    reviewer = serializers.CharField(source="reviewer.username")

    class Meta:
        model = Review
        fields = ["id", "verdict", "tags", "reviewer", "note", "created_at"]


class ClipSerializer(serializers.ModelSerializer):
    camera = serializers.CharField(source="camera.name")
    review = serializers.SerializerMethodField()

    class Meta:
        model = Clip
        fields = [
            "id",
            "camera",
            "recorded_at",
            "external_id",
            "status",
            "error",
            "score",
            "alert",
            "model_version",
            "duration",
            "fps",
            "width",
            "height",
            "size_bytes",
            "created_at",
            "review",
        ]

    def get_review(self, clip) -> dict:
        item = getattr(clip, "review_item", None)  # the reverse one-to-one raises an AttributeError when absent
        # A list's view gives every clip's newest review at once (context "latest_reviews"): no query per clip.
        known = self.context.get("latest_reviews")
        latest = known.get(clip.pk) if known is not None else selectors.latest_review(clip)
        return {
            "state": item.state if item else None,
            "reason": item.reason if item else None,
            "verdict": latest.verdict if latest else None,
            "tags": [t.slug for t in latest.tags.all()] if latest else [],
            "reported": clip.reports.exists(),
        }


class WhatAlertedSerializer(serializers.Serializer):
    """The box that decided the clip, in fractions of the frame, at its time in the clip."""

    time = serializers.FloatField()
    left = serializers.FloatField()
    top = serializers.FloatField()
    width = serializers.FloatField()
    height = serializers.FloatField()


class CustomerAlertSerializer(serializers.ModelSerializer):
    """What a customer sees of an alert (the alert list, a false-alert report, their clip): when,
    which camera, what alerted (the deciding box, where and when in the clip) and whether they
    reported it. Not the score, the model, the processing, the error, nor anything of the review
    (who, its state, why it was queued): the reviewers' internals."""

    camera = serializers.CharField(source="camera.name")
    what_alerted = serializers.SerializerMethodField()
    verdict = serializers.SerializerMethodField()
    reported = serializers.SerializerMethodField()

    class Meta:
        model = Clip
        fields = [
            "id",
            "camera",
            "recorded_at",
            "alert",
            "duration",
            "created_at",
            "what_alerted",
            "verdict",
            "reported",
        ]

    @extend_schema_field(WhatAlertedSerializer(allow_null=True))
    def get_what_alerted(self, clip) -> dict | None:
        if not clip.alert:
            return None
        box = detail.deciding_box_fractions(clip)
        return None if box is None else {k: round(box[k], 4) for k in ("time", "left", "top", "width", "height")}

    @extend_schema_field(serializers.ChoiceField(choices=Review.Verdict.choices, allow_null=True))
    def get_verdict(self, clip) -> str | None:
        """The newest verdict alone (as the alert page shows it), never who nor why; None: not reviewed."""
        if hasattr(clip, "verdict"):  # annotated by the list (Clip.objects.with_verdict)
            return clip.verdict
        latest = selectors.latest_review(clip)
        return latest.verdict if latest else None

    def get_reported(self, clip) -> bool:
        return clip.reports.exists()  # prefetched by the list


class ClipDetailSerializer(CustomerAlertSerializer):
    """A customer's own clip (GET /api/v1/clips/<id>/): the alert's fields and its status."""

    class Meta(CustomerAlertSerializer.Meta):
        fields = [*CustomerAlertSerializer.Meta.fields, "status"]


def clip_detections(clip, serializer) -> list[dict]:
    """Every box of every detected frame (the clip's detail, reviewapp.review.detail); only the
    boxes the database kept once the detail is gone."""
    found = detail.clip_detail(clip)
    boxes = found.boxes if found is not None else list(clip.detections.all())
    return serializer(sorted(boxes, key=lambda d: (d.frame_time, -d.score)), many=True).data


class SecondLookSerializer(serializers.ModelSerializer):
    """The first pass's score and alert, and the detector that decided the clip again (its score is the clip's)."""

    detector = serializers.CharField(source="second_look")
    ms = serializers.FloatField(source="second_look_ms")

    class Meta:
        model = Clip
        fields = ["detector", "first_score", "first_alert", "ms"]


class ReviewerClipSerializer(ClipSerializer):
    """What a reviewer sees: the processing error, the suppression rules, the customer's words too."""

    detections = serializers.SerializerMethodField()
    detail_gone = serializers.SerializerMethodField()
    reports = serializers.SerializerMethodField()
    second_look = serializers.SerializerMethodField()

    class Meta(ClipSerializer.Meta):
        fields = [
            *ClipSerializer.Meta.fields, "frames_sampled", "decode_ms", "detect_ms", "detections", "detail_gone",
            "reports", "second_look",
        ]  # fmt: skip

    @extend_schema_field(DetectionSerializer(many=True))
    def get_detections(self, clip) -> list[dict]:
        return clip_detections(clip, DetectionSerializer)

    @extend_schema_field(SecondLookSerializer(allow_null=True))
    def get_second_look(self, clip) -> dict | None:
        """What the second look (SECOND_LOOK) did to the clip; null when it had none."""
        if not clip.second_look:
            return None
        return SecondLookSerializer(clip).data

    def get_detail_gone(self, clip) -> bool:
        return detail.clip_detail(clip) is None

    def get_reports(self, clip) -> list[dict]:
        return [{"reason": r.reason, "created_at": r.created_at} for r in clip.reports.all()]


class ReviewItemSerializer(serializers.ModelSerializer):
    clip = ReviewerClipSerializer(read_only=True)

    class Meta:
        model = ReviewItem
        fields = ["id", "reason", "priority", "state", "claimed_until", "clip"]


class DecisionSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    tags = serializers.ListField(child=serializers.SlugField(), required=False, default=list, max_length=20)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    suppress_similar = serializers.BooleanField(required=False, default=False)


class GroupDecisionSerializer(serializers.Serializer):
    members = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=50)
    tags = serializers.ListField(child=serializers.SlugField(), required=False, default=list, max_length=20)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class FalseAlertSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["slug", "name", "key"]


# ---------------------------------------------------------- clips by reference, and the list


class ClipReferenceSerializer(serializers.Serializer):
    """A clip already in the clip bucket, ingested by reference (the object stays there)."""

    camera = serializers.SlugField(max_length=100)
    key = serializers.CharField(max_length=1024, help_text="The object's key: clips/<camera>/...")
    recorded_at = serializers.DateTimeField(
        required=False, help_text="Default: the object's x-amz-meta-recorded-at, else its last-modified time."
    )

    def validate(self, attrs):
        if "file" in self.initial_data:
            raise serializers.ValidationError({"key": ["send a file or a key, not both"]})
        return attrs


class ClipFilterSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=200, required=False)
    camera = serializers.SlugField(max_length=100, required=False)
    status = serializers.ChoiceField(choices=Clip.Status.choices, required=False)


class ClipListSerializer(ClipSerializer):
    """A clip in a list: the upload's answer without the review block (one query per page, not
    per clip); GET /api/v1/clips/<id>/ has it."""

    class Meta(ClipSerializer.Meta):
        fields = [f for f in ClipSerializer.Meta.fields if f != "review"]


class CustomerClipSerializer(ClipSerializer):
    """What a customer sees of their own camera's clip in a list: no score, storage or pipeline internals."""

    class Meta(ClipSerializer.Meta):
        fields = ["id", "camera", "recorded_at", "status", "alert", "duration", "created_at"]


class IngestClipSerializer(serializers.ModelSerializer):
    """What the ingest service sees in the list: enough to find its clip (by external_id) and
    whether it was taken in, nothing of what the detector or the reviewers made of it."""

    camera = serializers.CharField(source="camera.name")

    class Meta:
        model = Clip
        fields = ["id", "camera", "recorded_at", "external_id", "status", "created_at"]
