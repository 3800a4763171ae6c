from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from labeling.sync import label_studio as ls
from labeling.sync import senders


class Command(BaseCommand):
    help = "Create the Label Studio project (our labelling config) and its webhook back to Vigia."

    def handle(self, *args, **options):
        if not ls.enabled():
            raise CommandError("LABEL_STUDIO_URL is not set")
        if not settings.LABEL_STUDIO_WEBHOOK_SECRET:
            raise CommandError("LABEL_STUDIO_WEBHOOK_SECRET is not set")
        config = senders.labelling_config()
        try:
            project = ls.project_ensure(title=settings.LABEL_STUDIO_PROJECT, config=config)
            ls.config_ensure(project=project, config=config)  # an existing project gets today's tags
            url = settings.VIGIA_PUBLIC_URL.rstrip("/") + reverse("labeling-ls-webhook")
            hook = ls.webhook_ensure(project=project, url=url, secret=settings.LABEL_STUDIO_WEBHOOK_SECRET)
        except ls.LabelStudioError as exc:
            raise CommandError(str(exc)) from exc
        ls.reset()
        self.stdout.write(f"project {project} ({settings.LABEL_STUDIO_PROJECT!r}), webhook {hook} -> {url}")
