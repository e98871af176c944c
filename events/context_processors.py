"""Template context shared by every page."""

from events.models import SaleState


def sale_states(request):
    """SaleState for templates: `{% if event.sale_state == SaleState.OPEN %}`."""
    return {"SaleState": SaleState}
