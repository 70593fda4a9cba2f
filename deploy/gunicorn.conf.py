"""gunicorn's configuration for Beils: `gunicorn -c deploy/gunicorn.conf.py` (Procfile.production,
deploy/systemd/beils-web.service). Everything that differs between machines comes from the
environment; secrets never appear here (Django reads them from its own environment)."""

import multiprocessing
import os
from pathlib import Path

wsgi_app = "beils.wsgi:application"
chdir = str(Path(__file__).resolve().parent.parent)  # the project, whatever the working directory

# Behind nginx on the same machine by default; 0.0.0.0:8000 when the proxy is on another host.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Threaded workers: a long streamed export or backup download keeps its thread busy while the
# worker's main loop still reports alive, so `timeout` does not kill a download half way.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (jittered, so not all at once): bounds slow leaks.
max_requests = 2000
max_requests_jitter = 200
# The heartbeat file in memory: a busy disk (a backup being written) must not stall the workers.
# gunicorn makes it with mkstemp and unlinks it at once, so the shared directory is safe.
SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = SHM if os.path.isdir(SHM) else None

# X-Forwarded-Proto and -For are believed only from these addresses: the proxy in front.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access and error logs on stdout/stderr, where systemd's journal (or honcho) collects them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
proc_name = "beils"
