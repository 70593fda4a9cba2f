"""What every Celery task of Beils shares."""

from django.contrib.auth import get_user_model


def task_actor(user_id: int | None):
    """The user a task runs for (``user_id`` None: a scheduled job, the system), found even if
    the account was deactivated since the task was queued."""
    if not user_id:
        return None
    User = get_user_model()  # noqa: N806 - a model class
    return User.all_objects.filter(pk=user_id).first()
