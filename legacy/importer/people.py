"""Clients and staff (the old ``users``), consents, questionnaires and revocations."""

import json

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from crm.models import Client, Consent, ConsentStatus, ConsentType, Questionnaire, Revoke, Role, User
from legacy import mapping as m
from legacy.importer.base import ImporterBase
from legacy.models import LegacyKey

ERASED = gettext_lazy("the client was erased in Beils (GDPR)")


class PeopleImport(ImporterBase):
    def import_users(self) -> None:
        for rows in self.batches("users", "user_id"):
            with self.batch("users", rows):
                staff = [r for r in rows if (r["role"] or "").upper() in ("ADMIN", "STAFF")]
                clients = [r for r in rows if r not in staff]
                self._staff(staff)
                self._clients(clients)

    def _clients(self, rows: list[dict]) -> None:
        items = []
        known = self.keys("users", [r["user_id"] for r in rows], model=Client)
        for row in rows:
            lid, created = row["user_id"], m.aware(row["created_at"])
            if known.get(lid) in self.erased:
                self.skip("users", lid, str(ERASED), gettext("not imported again: the client stays erased"))
                continue
            if (row["role"] or "").upper() != "CLIENT":
                self.problem("users", lid, gettext("unknown role %(role)r") % {"role": row["role"]},
                             gettext("imported as a client"))  # fmt: skip
            email = m.email(row["email"])
            if email is None and m.text(row["email"]):
                self.problem("users", lid, gettext("placeholder email (@cliente.local)"), gettext("imported without email"),
                             level="info")  # fmt: skip
            born, why = m.birth_date(row["birth_date"], created=row["created_at"])
            if why:
                self.problem(
                    "users", lid, gettext("impossible birth date"), gettext("birth date left unknown"), detail=why
                )
            country = m.country(row["country"])
            if country is None and m.text(row["country"]):
                self.problem("users", lid, gettext("country %(country)r is not a known country") % {"country": row["country"]},
                             gettext("country left unknown"))  # fmt: skip
            number = m.text(row["document_number"])
            status = m.on_off(row["status"])
            items.append((lid, {
                "name": m.text(row["name"]) or "?", "surname": m.text(row["surname"]), "email": email,
                "phone": m.text(row["phone"]), "address": m.text(row["address"]), "city": m.text(row["city"]),
                "postal_code": m.text(row["postal_code"]), "country": country, "gender": m.gender(row["gender"]),
                "birth_date": born, "document_type": m.document_type(row["document_type"], number),
                "document_number": number, "notes": m.text(row["annotations"]), "status": status,
                "deactivated_at": m.aware(row["updated_at"]) if status == "OFF" else None, "legacy_id": lid,
                "created_at": created,
            }))  # fmt: skip
        if items:
            self.upsert("users", Client, items, match=("legacy_id", "email"))

    def _staff(self, rows: list[dict]) -> None:
        keys = self.keys("users", [r["user_id"] for r in rows], model=User)
        counts = self.counts["users"]
        for row in rows:
            lid = row["user_id"]
            email = m.email(row["email"])
            if email is None:
                email = f"staff-{lid[:8].lower()}@legacy.invalid"
                self.problem("users", lid, gettext("staff account without a real email"),
                             gettext("login email set to %(email)s") % {"email": email})  # fmt: skip
            values = {"name": m.text(row["name"]) or email, "surname": m.text(row["surname"]) or "",
                      "phone": m.text(row["phone"]), "status": m.on_off(row["status"]),
                      "role": Role.ADMIN if row["role"].upper() == "ADMIN" else Role.STAFF}  # fmt: skip
            user = User.all_objects.filter(pk=keys[lid]).first() if lid in keys else None
            user = user or User.all_objects.filter(email=email).first()
            if user is None:
                user = User(email=email, **values)
                # Old bcrypt hashes are not carried over: every account sets a new password.
                user.set_unusable_password()
                user.save()
                counts.created += 1
            elif any(getattr(user, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(user, k, v)
                user.save()
                counts.updated += 1
            else:
                counts.unchanged += 1
            if keys.get(lid) != user.pk:
                LegacyKey.objects.update_or_create(
                    entity="users", legacy_id=lid, defaults={"content_type_id": self.ct(User), "object_id": user.pk}
                )
            if not user.has_usable_password():
                self.password_steps.append(_password_step(user))

    def import_consents(self) -> None:
        for rows in self.batches("consents", "consent_id"):
            with self.batch("consents", rows):
                clients = self.keys("users", [r["user_id"] for r in rows], model=Client)
                mine = self.keys("consents", [r["consent_id"] for r in rows])
                taken = {
                    (c, k): pk
                    for pk, c, k in Consent.objects.filter(client_id__in=clients.values()).values_list(
                        "pk", "client_id", "kind"
                    )
                }
                items = []
                for row in rows:
                    lid, client = row["consent_id"], clients.get(row["user_id"])
                    if client is None:
                        self.skip("consents", lid, gettext("consent of nobody (no client with that id)"))
                        continue
                    if client in self.erased:
                        self.skip(
                            "consents",
                            lid,
                            str(ERASED),
                            gettext("not imported again: personal data of an erased client"),
                        )
                        continue
                    kind = m.CONSENT_TYPES.get((row["consent_type"] or "").upper())
                    if kind is None:
                        kind = ConsentType.DATA_PROTECTION
                        self.problem("consents", lid, gettext("consent without a type"), gettext("recorded as data protection (LGPD)"),
                                     level="info")  # fmt: skip
                    if taken.get((client, kind), mine.get(lid)) != mine.get(lid):
                        self.skip("consents", lid, gettext("a second consent of the same type for one client"),
                                  gettext("skipped: Beils keeps one consent per client and type; review it by hand"))  # fmt: skip
                        continue
                    taken[(client, kind)] = mine.get(lid, -1)
                    status = m.CONSENT_STATUSES.get((row["status"] or "").lower())
                    if status is None:
                        status = ConsentStatus.UNSIGNED
                        self.problem(
                            "consents",
                            lid,
                            gettext("unknown consent status %(status)r") % {"status": row["status"]},
                            gettext("imported as unsigned"),
                        )
                    signed = m.aware(row["signed_date"]) if status != ConsentStatus.UNSIGNED else None
                    items.append((lid, {
                        "client_id": client, "kind": kind, "status": status, "signed_at": signed,
                        "document_url": m.text(row["document_url"]), "notes": m.text(row["notes"]),
                        "created_at": m.aware(row["created_at"]) or timezone.now(),
                    }))  # fmt: skip
                if items:
                    self.upsert("consents", Consent, items)

    def import_questionnaires(self) -> None:
        for rows in self.batches("questionnaires", "questionnaire_id"):
            with self.batch("questionnaires", rows):
                clients = self.keys("users", [r["user_id"] for r in rows], model=Client)
                items = []
                for row in rows:
                    lid, client = row["questionnaire_id"], clients.get(row["user_id"])
                    if client is None:
                        self.skip("questionnaires", lid, gettext("questionnaire of nobody (no client with that id)"))
                        continue
                    if client in self.erased:
                        self.skip(
                            "questionnaires",
                            lid,
                            str(ERASED),
                            gettext("not imported again: personal data of an erased client"),
                        )
                        continue
                    try:
                        answers = json.loads(row["data"] or "{}")
                    except ValueError:
                        answers = {"text": row["data"]}
                        self.problem(
                            "questionnaires", lid, gettext("answers are not JSON"), gettext("kept as text under 'text'")
                        )
                    items.append((lid, {"client_id": client, "title": m.text(row["title"]) or "Questionnaire",
                                        "answers": answers, "created_at": m.aware(row["created_at"])}))  # fmt: skip
                if items:
                    self.upsert("questionnaires", Questionnaire, items)

    def import_revokes(self) -> None:
        for rows in self.batches("revokes", "revoke_id"):
            with self.batch("revokes", rows):
                clients = self.keys("users", [r["user_id"] for r in rows], model=Client)
                items = []
                for row in rows:
                    lid, client = row["revoke_id"], clients.get(row["user_id"])
                    if client is None:
                        self.skip("revokes", lid, gettext("revocation of nobody (no client with that id)"))
                        continue
                    if client in self.erased:
                        self.skip(
                            "revokes",
                            lid,
                            str(ERASED),
                            gettext("not imported again: personal data of an erased client"),
                        )
                        continue
                    # The old table does not say which consent was revoked, and the old app left
                    # the consent's status alone: kept as written, for a person to review.
                    self.problem("revokes", lid, gettext("the revocation names no consent"), gettext("kept unlinked; consents unchanged"),
                                 level="info")  # fmt: skip
                    items.append((lid, {"client_id": client, "reason": m.text(row["reason"]),
                                        "revoked_at": m.aware(row["date_revoked"]),
                                        "created_at": m.aware(row["created_at"])}))  # fmt: skip
                if items:
                    self.upsert("revokes", Revoke, items)


def _password_step(user: User) -> dict:
    url = None
    for name in ("admin:crm_user_password_change", "admin:crm_user_change"):
        try:
            url = reverse(name, args=[user.pk])
            break
        except NoReverseMatch:
            continue
    return {"email": user.email, "command": f"manage.py changepassword {user.email}", "admin_url": url}
