"""The live progress panel of a job: its place in the queue and its ETA while it waits, its
step and a progress bar while it runs. Pages show it with ``{% job_progress job %}``, and the
page's htmx polls ``portrait:job_progress`` for a fresh one every two seconds while the job
is active.

The panel is built here in Python rather than in a template: everyone who waits polls it, and
this renders it in half the time (``python -m bench.web``).
"""

import math

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from .. import eta
from ..services import styles

register = template.Library()


@register.simple_tag
def job_progress(job):
    """A job's progress panel, as HTML."""
    return panel_html(progress_context(job))


def panel_html(context, url=None):
    """The panel's HTML; only an active job's panel asks to be polled, at ``url``, the panel's
    own address (which the poll itself already has)."""
    job, bar = context["job"], context["bar"]
    polling = (
        format_html(
            ' hx-get="{}" hx-trigger="every 2s" hx-swap="outerHTML"',
            url or reverse("portrait:job_progress", args=[job.pk]),
        )
        if job.is_active
        else ""
    )
    progress = ""
    if bar and bar["max"]:
        progress = format_html(
            '<progress max="{}" value="{}" aria-label="{}"></progress>',
            bar["max"],
            bar["value"],
            _("Progress"),
        )
    elif bar:
        progress = format_html('<progress aria-label="{}"></progress>', _("Progress"))
    no_script = (
        format_html(
            '<noscript><p><a href="">{}</a></p></noscript>', _("Refresh to see the latest progress")
        )
        if job.is_active
        else ""
    )
    return format_html(
        '<div class="job" id="job-{}"{}><p class="job-title"><strong>{}</strong>: '
        '<span class="status-{}">{}</span></p>{}{}{}</div>',
        job.pk,
        polling,
        context["title"],
        job.status,
        # Rather than get_status_display(), which builds a map of all the choices every time.
        job.Status(job.status).label,
        progress,
        format_html_join("", '<p class="{}">{}</p>', context["lines"]),
        no_script,
    )


def progress_context(job, style=None):
    """What the panel shows; ``style`` saves looking up a render's style where it is known."""
    if job.kind == job.Kind.RENDER and style is None:
        render = getattr(job, "render", None)
        style = render.style if render else None
    title = style_name(style) if style else job.Kind(job.kind).label
    estimate = eta.estimate(job) if job.is_active else None
    bar, lines = None, []
    if job.status == job.Status.QUEUED:
        lines.append(("job-line", _queue_sentence(job, estimate)))
        lines.append(
            (
                "job-line",
                _("Expected to start in %(start)s and to be done in %(done)s.")
                % {
                    "start": duration(estimate.wait_seconds),
                    "done": duration(estimate.remaining_seconds),
                }
                if estimate.workers
                else _(
                    "No worker is running at the moment, so no time can be estimated: "
                    "your job starts as soon as one runs."
                ),
            )
        )
    elif job.status == job.Status.RUNNING:
        bar = {"max": job.total_steps, "value": job.step}
        if job.total_steps:
            doing = _("Step %(step)s of %(total)s") % {"step": job.step, "total": job.total_steps}
        elif job.kind == job.Kind.REFINE:
            doing = _("Measuring how much your clone looks like you…")
        else:
            doing = _("Getting ready…")
        if estimate.remaining_seconds is not None:
            doing += " · " + _("%(left)s left") % {"left": duration(estimate.remaining_seconds)}
        lines.append(("job-line", doing))
    elif job.status == job.Status.FAILED:
        failed = _("This job failed.")
        if job.error_code == "consent_missing":
            failed += " " + _("A consent it needs was withdrawn.")
        elif job.error_code == "worker_lost":
            failed += " " + _(
                "The worker running it stopped every time it tried, so Sitter gave up: "
                "start it again."
            )
        lines.append(("error", failed))
    if estimate and estimate.workers:
        lines.append(
            (
                "muted small",
                ngettext(
                    "Estimated from the jobs ahead, how long recent jobs took here, "
                    "and the %(count)d worker serving this queue.",
                    "Estimated from the jobs ahead, how long recent jobs took here, "
                    "and the %(count)d workers serving this queue.",
                    estimate.workers,
                )
                % {"count": estimate.workers},
            )
        )
    return {"job": job, "title": title, "estimate": estimate, "bar": bar, "lines": lines}


def _queue_sentence(job, estimate):
    if not estimate.position:
        return _("Yours is next in the queue.")
    sentence = ngettext(
        "%(count)d job is ahead of yours in the queue.",
        "%(count)d jobs are ahead of yours in the queue.",
        estimate.position,
    ) % {"count": estimate.position}
    if len(estimate.ahead) > 1:
        kinds = ", ".join(
            f"{job.Kind(kind).label}: {count}" for kind, count in sorted(estimate.ahead.items())
        )
        sentence += f" ({kinds})"
    return sentence


@register.filter
def duration(seconds):
    """A wait in words, in whole minutes: an estimate reads as one."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("less than a minute")
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return ngettext("about %(count)d minute", "about %(count)d minutes", minutes) % {
            "count": minutes
        }
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return ngettext("about %(count)d hour", "about %(count)d hours", hours) % {"count": hours}
    return _("about %(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}


@register.filter
def style_name(slug):
    """A style's name in the active language (the slug of a style no longer offered)."""
    style = styles().get(slug)
    return style.name_for(get_language()) if style else slug
