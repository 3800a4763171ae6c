"""`{% load player %}`: what the clip player draws over the video (reviewapp.review.media)."""

from django import template

from reviewapp.review.media import player_overlay

register = template.Library()


@register.simple_tag
def clip_overlay(clip):
    """The deciding box of the clip, placed and timed for the player; None when there is none.
    Read here rather than from the page's context, so every page with a player gets it."""
    if clip.status != clip.Status.DONE:
        return None
    return player_overlay(clip, list(clip.detections.defer("descriptor")))
