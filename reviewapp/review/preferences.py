"""A user's settings page: the time zone a reviewer (or operator) sees times in. The language is
the header's switch (Django's set_language); a customer's zone is their customer's."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from reviewapp.core.roles import is_customer
from reviewapp.core.timezones import available_timezones
from reviewapp.review.models import Profile


class TimezoneForm(forms.Form):
    timezone = forms.ChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [("", _("The server's default (UTC)"))] + [
            (name, name) for name in available_timezones()
        ]


@login_required
def preferences(request):
    """GET shows the form; POST saves a reviewer's zone. A customer's users see their customer's
    zone (set by an operator); a user without a profile (a bare operator) keeps the default."""
    profile = getattr(request.user, "profile", None)
    customer_zone = profile.customer.timezone if is_customer(request.user) and profile.customer_id else None
    can_choose = profile is not None and customer_zone is None
    form = TimezoneForm(request.POST or None, initial={"timezone": profile.timezone if profile else ""})
    if request.method == "POST" and can_choose and form.is_valid():
        Profile.objects.filter(pk=profile.pk).update(timezone=form.cleaned_data["timezone"])
        messages.success(request, _("Your time zone is saved."))
        return redirect("preferences")
    context = {"form": form, "customer_zone": customer_zone, "can_choose": can_choose}
    return render(request, "preferences.html", context, status=400 if request.method == "POST" else 200)
