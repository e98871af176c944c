"""The door, made for a phone: choose the event's check-in list, then scan or type codes; the
answer fills the screen. Supervisors also find a guest by name and undo a mistaken check-in."""

import hashlib

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_POST

from ticketing import errors, selectors, services
from ticketing.forms import CheckInForm
from ticketing.models import CheckInList
from ticketing.views.base import allowed_only, attempt


@allowed_only(services.can_check_in)
def door(request):
    """Where to check in: the lists of today's events first."""
    services.open_default_lists(now=timezone.now())
    events = selectors.door_events(user=request.user)
    return render(request, "ticketing/door_choose.html", {"events": events})


@allowed_only(services.can_check_in)
def door_list(request, list_id: int):
    """Scan on one list: a code is an entry, or an exit when the page is in exit mode."""
    check_in_list = _usable(request, list_id)
    outcome, exiting = None, request.POST.get("mode") == "exit" and check_in_list.allow_reentry
    if request.method == "POST":
        form = CheckInForm(request.POST)
        if form.is_valid():
            service = services.let_out if exiting else services.check_in_ticket
            outcome = attempt(
                service,
                qr_token=form.cleaned_data["code"],
                staff_user=request.user,
                check_in_list_id=check_in_list.pk,
            )
            # An empty field is ready for the next scan; the answer stays on screen until then.
            form = CheckInForm()
    else:
        form = CheckInForm()
    return _answer(request, check_in_list, outcome=outcome, form=form, exiting=exiting)


@allowed_only(services.can_check_in)
def door_counts(request, list_id: int):
    check_in_list = _usable(request, list_id)
    return render(request, "ticketing/_door_counts.html", _counts(check_in_list))


@allowed_only(services.can_fix_check_ins)
def door_search(request, list_id: int):
    check_in_list = _usable(request, list_id)
    query = request.GET.get("q", "")
    found = selectors.door_search(check_in_list=check_in_list, query=query)
    context = {"check_in_list": check_in_list, "found": found, "query": query}
    return render(request, "ticketing/_door_search.html", context)


@require_POST
@allowed_only(services.can_fix_check_ins)
def door_admit_by_name(request, list_id: int, ticket_id: int):
    check_in_list = _usable(request, list_id)
    outcome = attempt(
        services.check_in_ticket_by_id,
        ticket_id=ticket_id,
        staff_user=request.user,
        check_in_list_id=check_in_list.pk,
    )
    return _answer(request, check_in_list, outcome=outcome, form=CheckInForm())


@require_POST
@allowed_only(services.can_fix_check_ins)
def door_undo(request, list_id: int, ticket_id: int):
    check_in_list = _usable(request, list_id)
    outcome = attempt(
        services.undo_check_in,
        ticket_id=ticket_id,
        staff_user=request.user,
        check_in_list_id=check_in_list.pk,
    )
    return _answer(request, check_in_list, outcome=outcome, form=CheckInForm(), undone=True)


# What the offline door needs besides its page; the service worker keeps them.
OFFLINE_ASSETS = [
    "css/site.css",
    "img/favicon.svg",
    "js/site.js",
    "js/door.js",
    "js/door-offline.js",
    "vendor/jsqr/jsQR.js",
    "django_htmx/htmx-2.min.js",
    "django_htmx/django-htmx.js",
]


@allowed_only(services.can_check_in)
def door_service_worker(request):
    """The door's service worker, at /door/sw.js so that it may serve the door's pages offline."""
    assets = [static(path) for path in OFFLINE_ASSETS]
    context = {"assets": assets, "version": hashlib.sha256("".join(assets).encode()).hexdigest()[:12]}
    response = render(request, "ticketing/door-sw.js", context, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


def _usable(request, list_id: int) -> CheckInList:
    """The list, through the service's rule on who may use it: unknown is 404, not theirs 403."""
    try:
        return services.usable_list(staff_user=request.user, check_in_list_id=list_id)
    except errors.NotFound as exc:
        raise Http404(exc.message) from None
    except errors.NotAllowed:
        raise PermissionDenied from None


def _counts(check_in_list) -> dict:
    counts = selectors.door_counts(check_in_list=check_in_list)
    return {
        "check_in_list": check_in_list,
        "counts": counts,
        "inside": sum(c.inside for c in counts),
        "valid": sum(c.valid for c in counts),
    }


def _answer(request, check_in_list, *, outcome, form, exiting=False, undone=False):
    context = {
        **_counts(check_in_list),
        "form": form,
        "outcome": outcome,
        "exiting": exiting,
        "undone": undone,
        "can_fix": services.can_fix_check_ins(request.user),
    }
    template = "ticketing/_door_result.html" if request.htmx else "ticketing/door.html"
    return render(request, template, context)
