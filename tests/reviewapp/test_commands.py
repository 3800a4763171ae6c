from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from reviewapp.review.models import Camera, Customer, Profile


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_operator_commands_create_a_working_setup():
    run("add_customer", "Acme")
    run("add_camera", "Acme", "acme-door", "--threshold", "0.7")
    output = run("add_user", "alice", "--role", "customer", "--customer", "Acme", "--password", "pw-123456")
    token = output.strip().splitlines()[-1]
    assert Token.objects.get(key=token).user.username == "alice"
    assert Profile.objects.get(user__username="alice").customer.name == "Acme"
    assert Camera.objects.get(name="acme-door").threshold == 0.7
    # again: nothing duplicated, the threshold updated, the same token printed
    run("add_customer", "Acme")
    run("add_camera", "Acme", "acme-door", "--threshold", "0.4")
    assert run("add_user", "alice", "--role", "customer", "--customer", "Acme").strip().splitlines()[-1] == token
    assert (Customer.objects.count(), Camera.objects.get().threshold) == (1, 0.4)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["add_camera", "Nobody", "cam-1"], "no customer named"),
        (["add_camera", "Acme", "Bad Name!"], "may only hold"),
        (["add_user", "u1", "--role", "customer"], "--customer is required"),
        (["add_user", "u1", "--role", "customer", "--customer", "Nobody"], "no customer named"),
        (["add_user", "u1", "--role", "reviewer", "--customer", "Acme"], "only applies"),
        # Django's standard password validators, as on the site
        (["add_user", "u1", "--role", "reviewer", "--password", "short"], "too short"),
        (["add_user", "u1", "--role", "reviewer", "--password", "password123"], "too common"),
        (["add_user", "u1", "--role", "reviewer", "--password", "84619370251"], "entirely numeric"),
        (["add_user", "reviewer-rita", "--role", "reviewer", "--password", "reviewer-rita1"], "too similar"),
        (["add_customer", "  "], "must not be empty"),
    ],
)
def test_bad_operator_input_is_a_clear_error(args, message):
    Customer.objects.create(name="Acme")
    with pytest.raises(CommandError, match=message):
        call_command(*args, stdout=StringIO())


@pytest.mark.django_db
def test_a_camera_of_another_customer_is_not_taken_over():
    run("add_customer", "Acme")
    run("add_customer", "Globex")
    run("add_camera", "Acme", "cam-1")
    with pytest.raises(CommandError, match="another customer"):
        call_command("add_camera", "Globex", "cam-1", stdout=StringIO())


@pytest.mark.django_db
def test_an_out_of_range_threshold_is_refused():
    run("add_customer", "Acme")
    with pytest.raises(CommandError, match="invalid unit_interval"):
        call_command("add_camera", "Acme", "cam-1", "--threshold", "1.5", stdout=StringIO())


@pytest.mark.django_db
def test_demo_setup_ingests_demo_clips_idempotently(settings):
    first = run("demo_setup")
    assert first.count("queued: clip") == 3
    second = run("demo_setup")
    assert second.count("exists: clip") == 3
