"""Uploaded files (signed consents, product images) served to the people allowed to see them.

Media is personal data: a signed consent names a client and carries their signature. So no web
server serves ``MEDIA_ROOT`` as a directory, in development or production; every file goes through
``media_serve``, which asks the person's permissions on the kind of record the file belongs to.
With ``STORAGES["default"]`` on S3, a file's URL is the bucket's own, signed and short-lived, and
this view serves only old links.
"""

import posixpath
from pathlib import PurePosixPath

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe

# The folder each model uploads to (its FileField's ``upload_to``) and the permission that shows it.
# Anything else (import and export job files, which their own pages serve) is not found.
MEDIA_PERMISSIONS = {
    "consents": "crm.view_consent",
    "products": "catalog.view_product",
}


@require_safe
def media_serve(request, name: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    path = PurePosixPath(name)
    permission = MEDIA_PERMISSIONS.get(path.parts[0]) if path.parts else None
    # The same answer for a file that is not there and one this person may not see.
    if permission is None or not request.user.has_perm(permission) or posixpath.normpath(name) != name:
        raise Http404
    try:
        if not default_storage.exists(name):
            raise Http404
        handle = default_storage.open(name, "rb")
    except (SuspiciousFileOperation, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, filename=path.name)
    response["Cache-Control"] = "private, no-store"
    return response
