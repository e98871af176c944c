"""Door check-in, made for a phone: scan or type a code, the answer fills the screen."""

from django.shortcuts import render

from ticketing import services
from ticketing.forms import CheckInForm
from ticketing.views.base import allowed_only, attempt


@allowed_only(services.can_check_in)
def door(request):
    outcome = None
    if request.method == "POST":
        form = CheckInForm(request.POST)
        if form.is_valid():
            outcome = attempt(
                services.check_in_ticket, qr_token=form.cleaned_data["code"], staff_user=request.user
            )
            # An empty field is ready for the next scan; the answer stays on screen until then.
            form = CheckInForm()
    else:
        form = CheckInForm()
    context = {"form": form, "outcome": outcome}
    template = "ticketing/_door_result.html" if request.htmx else "ticketing/door.html"
    return render(request, template, context)
