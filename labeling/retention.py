"""What labeling needs kept when the retention deletes old clips (reviewapp.review.prune, which
cannot import labeling: these are registered from LabelingConfig.ready()).

* A clip whose DynamoDB row is not settled (pending, or failed and retried) is kept until it is:
  the sender reads the clip to build the item. Settled rows (done) go with the clip; its DynamoDB
  item stays (the index of clips, docs/operations.md#retention).
* A clip the near-threshold job copied out (ExtractedClip) is kept: it came with a review item
  anyway; this holds even for one whose item was deleted by hand.

Label Studio's tasks and annotations hang on review items and reviews: a clip with either is
never pruned."""

from django.db.models import Exists, OuterRef

from labeling.models import ExtractedClip, SyncState


def unsettled_sync() -> Exists:
    return Exists(
        SyncState.objects.filter(destination=SyncState.Destination.DYNAMODB, clip=OuterRef("pk")).exclude(
            status=SyncState.Status.DONE
        )
    )


def extracted() -> Exists:
    return Exists(ExtractedClip.objects.filter(clip=OuterRef("pk")))
