"""The admin page "Import from another salon system": the same flow as ``import_from``.

Choose the product and upload its files; a file whose columns the profile does not know (and
every file of the generic profile) goes through the mapping step (a dropdown per column, the
first rows as they will be stored, "remember for this source"); then a dry run's report; then,
confirmed, the import and its report. Synchronous: the files are a salon's export, small enough
for one request. Uploaded files wait between the steps in the media storage (shared by every web
node: the next step may be served by another), under a random token that only the uploader's
session knows, and are deleted once imported, or a day later when the page was left. Only those who may run the legacy import (ADMIN) see it.
"""

import contextlib
import secrets
from itertools import islice

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from legacy.peers.profiles import get_profile, profiles
from legacy.peers.targets import ENTITIES, ENTITY_LABELS
from transfer.mapping import ColumnMappingForm, preview, remember_mapping

# The readers (tablib, openpyxl) and the engine are imported where used: ``manage.py`` loads
# every admin module at start-up, and a backup at 3 a.m. should not wait for them.

SESSION_KEY = "legacy_peers_upload"
PREVIEW_ROWS = 5
MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files if f] or super().clean(None)


class PeersUploadForm(forms.Form):
    profile = forms.ChoiceField(label=gettext_lazy("The system the files come from"))
    entity = forms.ChoiceField(
        label=gettext_lazy("What the files hold"), required=False,
        help_text=gettext_lazy("Leave it to Beils to tell from each file's columns, or say it for every file."),
    )  # fmt: skip
    files = MultipleFileField(label=gettext_lazy("Files (CSV or XLSX)"))
    source = forms.CharField(
        label=gettext_lazy("Source name"), required=False, max_length=100,
        help_text=gettext_lazy("A name for where the files come from (“Fresha Salón Centro”): the column mapping "
                               "chosen for it is remembered for its next files."),
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["profile"].choices = [(name, p.label) for name, p in profiles().items()]
        self.fields["entity"].choices = [("", _("— tell from the columns —"))] + [
            (e, ENTITY_LABELS[e]) for e in ENTITIES
        ]

    def clean_files(self):
        from beils.lib.formats import file_too_large_message, max_import_bytes

        files = self.cleaned_data["files"]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(_("Upload at most %(count)s files at a time.") % {"count": MAX_FILES})
        for upload in files:
            if upload.size > max_import_bytes():
                raise forms.ValidationError(f"{upload.name}: {file_too_large_message(upload.size)}")
        return files


UPLOADS = "peers-uploads"


def _stored(token: str, index: int) -> str:
    return f"{UPLOADS}/{token}/{index}"


def _delete_uploads(state: dict) -> None:
    for index in range(len(state.get("names", []))):
        with contextlib.suppress(OSError):
            default_storage.delete(_stored(state["token"], index))


def _state(request, token: str) -> dict:
    state = request.session.get(SESSION_KEY) or {}
    if not token or state.get("token") != token or not default_storage.exists(_stored(token, 0)):
        raise PermissionDenied
    return state


def _contents(state: dict) -> list[tuple[str, bytes]]:
    contents = []
    for index, name in enumerate(state["names"]):
        with default_storage.open(_stored(state["token"], index), "rb") as stored:
            contents.append((name, stored.read()))
    return contents


def _needs_mapping(profile, name: str, content: bytes, entity: str | None) -> tuple[bool, str | None]:
    from legacy.peers.reading import choose_mapping, detect_entity, missing_fields, open_table

    headers, _rows, _sha, _count = open_table(name, content)
    entity = entity or detect_entity(profile, name, headers)
    if profile.generic or entity is None:
        return True, entity
    mapping = choose_mapping(profile, entity, headers, source=None, overrides={})
    return bool(missing_fields(entity, mapping, profile.targets[entity])), entity


class PeersAdminViews:
    """Mixed into the legacy import's ModelAdmin: its URLs, permission and templates."""

    def peers_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("peers/", view(self.peers_upload_view), name="legacy_peers_upload"),
            path("peers/<str:token>/map/", view(self.peers_map_view), name="legacy_peers_map"),
            path("peers/<str:token>/review/", view(self.peers_review_view), name="legacy_peers_review"),
        ]

    def _peers_context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.opts,
                "title": _("Import from another salon system"), **extra}  # fmt: skip

    def _peers_allowed(self, request):
        if not self._can_start(request):
            raise PermissionDenied

    def peers_upload_view(self, request):
        from legacy.peers.reading import PeersError

        self._peers_allowed(request)
        form = PeersUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                return self._peers_store(request, form.cleaned_data)
            except PeersError as exc:
                form.add_error("files", str(exc))
        return TemplateResponse(request, "admin/legacy/peers/upload.html", self._peers_context(request, form=form))

    def _peers_store(self, request, data):
        from legacy.peers.reading import PeersError
        from transfer.import_mapping import sweep_abandoned

        sweep_abandoned(folder=UPLOADS)
        profile = get_profile(data["profile"])
        entity = data["entity"] or None
        token = secrets.token_urlsafe(16)
        names, entities, to_map = [], {}, []
        try:
            for i, upload in enumerate(data["files"]):
                content = b"".join(upload.chunks())
                needs, found = _needs_mapping(profile, upload.name, content, entity)
                default_storage.save(_stored(token, i), ContentFile(content))
                names.append(upload.name)
                entities[upload.name] = found
                if needs:
                    to_map.append(upload.name)
        except PeersError:
            _delete_uploads({"token": token, "names": [*names, None]})
            raise
        request.session[SESSION_KEY] = {"token": token, "profile": profile.name, "source": data["source"] or "",
                                        "names": names, "entities": entities, "to_map": to_map, "mappings": {}}  # fmt: skip
        target = "admin:legacy_peers_map" if to_map else "admin:legacy_peers_review"
        return redirect(reverse(target, args=[token]))

    def peers_map_view(self, request, token):
        from legacy.peers.reading import choose_mapping, open_table

        self._peers_allowed(request)
        state = _state(request, token)
        profile = get_profile(state["profile"])
        contents = dict(_contents(state))
        steps, all_valid = [], True
        for i, name in enumerate(state["to_map"]):
            entity = request.POST.get(f"f{i}-entity") or state["entities"].get(name) or "clients"
            if entity not in ENTITIES:
                entity = "clients"
            headers, rows, _sha, _count = open_table(name, contents[name])
            rows = list(islice(rows, PREVIEW_ROWS))
            targets = profile.targets[entity]
            guess = choose_mapping(profile, entity, headers, source=state["source"] or None, overrides={})
            bound = request.method == "POST" and request.POST.get(f"f{i}-shown") == entity
            form = ColumnMappingForm(request.POST if bound else None, headers=headers, targets=targets, prefix=f"f{i}",
                                     initial=ColumnMappingForm.initial_for(headers, guess))  # fmt: skip
            valid = bound and form.is_valid()
            all_valid = all_valid and valid
            mapping = form.mapping if valid else guess
            labels = {t.name: t.label for t in targets}
            steps.append({"index": i, "name": name, "entity": entity, "form": form, "mapping": mapping,
                          "preview": preview(rows, mapping, targets, date_order=profile.date_order),
                          "targets_chosen": [labels[n] for n in mapping.values() if n],
                          "entities": [(e, ENTITY_LABELS[e]) for e in ENTITIES]})  # fmt: skip
        if request.method == "POST" and all_valid and "confirm" in request.POST:
            for step in steps:
                state["mappings"][step["name"]] = step["mapping"]
                state["entities"][step["name"]] = step["entity"]
                if request.POST.get("remember") and state["source"]:
                    remember_mapping(source=state["source"], resource=f"peers.{step['entity']}",
                                     mapping=step["mapping"], actor=request.user)  # fmt: skip
            request.session[SESSION_KEY] = state
            return redirect(reverse("admin:legacy_peers_review", args=[token]))
        context = self._peers_context(request, steps=steps, state=state, token=token)
        return TemplateResponse(request, "admin/legacy/peers/map.html", context)

    def peers_review_view(self, request, token):
        from legacy.peers.reading import PeersError
        from legacy.peers.report import report_tables

        self._peers_allowed(request)
        state = _state(request, token)
        confirmed = request.method == "POST" and "import" in request.POST
        skip_invalid = bool(request.POST.get("skip_invalid") or request.GET.get("skip_invalid"))
        try:
            report = self._peers_run(request, state, dry_run=not confirmed, skip_invalid=skip_invalid)
        except PeersError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("admin:legacy_peers_upload"))
        if confirmed:
            _delete_uploads(state)
            request.session.pop(SESSION_KEY, None)
            level = messages.SUCCESS if report["reconciled"] else messages.WARNING
            messages.add_message(
                request, level, _("Imported. The import is recorded in the audit log with its counts and totals.")
            )
        context = self._peers_context(request, report=report, tables=report_tables(report), token=token,
                                      confirmed=confirmed, skip_invalid=skip_invalid)  # fmt: skip
        return TemplateResponse(request, "admin/legacy/peers/report.html", context)

    def _peers_run(self, request, state, *, dry_run: bool, skip_invalid: bool) -> dict:
        from legacy.peers.engine import peers_import

        return peers_import(
            profile=state["profile"], files=_contents(state), dry_run=dry_run, actor=request.user,
            source=state["source"] or None, mappings=state["mappings"] or None, skip_invalid=skip_invalid,
            entities={name: entity for name, entity in state["entities"].items() if entity},
        )  # fmt: skip
