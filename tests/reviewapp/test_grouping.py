"""Many clips, one decision (#16): a camera's open items showing the same thing at the same
place, by the suppression rules' own matching, decided together; the rules made once."""

from reviewapp.review import grouping, queue
from reviewapp.review.models import Review, ReviewItem
from reviewapp.tuning.models import SuppressionRule
from tests.conftest import api_client
from tests.factories import CameraFactory, ClipFactory
from tests.reviewapp.test_rules_api import clip_with_cat


def test_the_group_is_the_cameras_open_items_with_the_same_thing_at_the_same_place(world):
    _c, lead = clip_with_cat(world.cam_a)
    _c, twin = clip_with_cat(world.cam_a)
    _c, decided_twin = clip_with_cat(world.cam_a)
    ReviewItem.objects.filter(id=decided_twin.id).update(state=ReviewItem.State.DONE)
    _c, elsewhere = clip_with_cat(CameraFactory(customer=world.acme, name="acme-yard"))
    other_thing = queue.review_item_enqueue(clip=ClipFactory(camera=world.cam_a), reason="near_threshold")
    _c, held = clip_with_cat(world.cam_a)
    # Another reviewer holds this one: not in anyone else's group.
    ReviewItem.objects.filter(id=held.id).update(claimed_by=world.reviewer2, claimed_until="2999-01-01T00:00:00Z")

    group = grouping.review_group(item=lead, reviewer=world.reviewer)
    assert [m.id for m in group] == [twin.id]
    assert elsewhere.id not in group and other_thing.id not in group


def test_a_group_decision_records_every_member_and_makes_the_rules_once(world):
    _c, lead = clip_with_cat(world.cam_a)
    _c, twin = clip_with_cat(world.cam_a)
    _c, third = clip_with_cat(world.cam_a)
    client = api_client(world.reviewer)
    response = client.post(
        f"/api/v1/review/{lead.id}/group/", {"members": [twin.id, third.id], "tags": ["dog"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert sorted(response.json()["decided"]) == sorted([twin.id, third.id])
    for member in (lead, twin, third):
        review = Review.objects.get(item=member)
        assert review.verdict == "no_person" and [t.slug for t in review.tags.all()] == ["dog"]
    rules = SuppressionRule.objects.all()
    assert rules.count() >= 1 and {r.source_review.item_id for r in rules} == {lead.id}


def test_a_group_that_changed_meanwhile_is_refused_and_nothing_is_stored(world):
    _c, lead = clip_with_cat(world.cam_a)
    _c, twin = clip_with_cat(world.cam_a)
    unrelated = queue.review_item_enqueue(clip=ClipFactory(camera=world.cam_a), reason="near_threshold")
    response = api_client(world.reviewer).post(
        f"/api/v1/review/{lead.id}/group/", {"members": [twin.id, unrelated.id]}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "group_changed"
    assert not Review.objects.exists() and not SuppressionRule.objects.exists()
    bad = api_client(world.reviewer).post(f"/api/v1/review/{lead.id}/group/", {"members": ["x"]}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
