"""Asks the app itself where its static files are (run by the agent inside
the built image, with the app's config vars, as the app user).

Django: STATIC_URL and STATIC_ROOT from the project's settings (through
manage.py, so DJANGO_SETTINGS_MODULE is resolved as at run time), then
`manage.py collectstatic --noinput` unless DISABLE_COLLECTSTATIC=1.
Flask: the app object's static routes (the app's and each blueprint's
`static_url_path` -> `static_folder`).

Prints one line `PAAS-STATICS {json}` for the agent; everything else is
build output for people.
"""

import importlib
import json
import os
import shlex
import subprocess
import sys

MARKER = "PAAS-STATICS "
APP_DIR = "/app"

DJANGO_QUERY = r"""
import json
from django.conf import settings
root = settings.STATIC_ROOT
print("PAAS-DJANGO " + json.dumps({"static_url": settings.STATIC_URL, "static_root": str(root) if root else None}))
"""


def report(**fields):
    print(MARKER + json.dumps(fields), flush=True)


def django():
    ask = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", DJANGO_QUERY],
        cwd=APP_DIR, capture_output=True, text=True, timeout=300,
    )
    found = [l for l in ask.stdout.splitlines() if l.startswith("PAAS-DJANGO ")]
    if ask.returncode != 0 or not found:
        tail = (ask.stderr.strip().splitlines() or ["(no output)"])[-1]
        return report(framework="django", error="could not read the settings: " + tail, mappings=[])
    settings = json.loads(found[-1][len("PAAS-DJANGO "):])
    url, root = settings["static_url"], settings["static_root"]
    if os.environ.get("DISABLE_COLLECTSTATIC") == "1":
        return report(framework="django", note="DISABLE_COLLECTSTATIC=1: collectstatic skipped, the app serves its static files", mappings=[])
    if not root:
        return report(framework="django", note="STATIC_ROOT is not set: collectstatic skipped, the app serves its static files", mappings=[])
    print("$ python manage.py collectstatic --noinput", flush=True)
    done = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=APP_DIR)
    if done.returncode != 0:
        return report(framework="django", failed=done.returncode, mappings=[])
    if not url or not url.startswith("/"):
        return report(framework="django", collected=root, note=f"STATIC_URL {url!r} is not a path on this host: the router does not serve it", mappings=[])
    report(framework="django", collected=root, mappings=[{"url_prefix": url if url.endswith("/") else url + "/", "path": root}])


def wsgi_target(command):
    """`module:variable` of a gunicorn command line (the last such argument)."""
    words = shlex.split(command)
    if not words or os.path.basename(words[0]) != "gunicorn":
        return None
    targets = [w for w in words[1:] if ":" in w and not w.startswith("-") and "=" not in w]
    return targets[-1] if targets else None


def flask(command):
    target = wsgi_target(command or "")
    if not target:
        return report(framework=None, mappings=[])
    module, _, attr = target.partition(":")
    sys.path.insert(0, APP_DIR)
    try:
        obj = importlib.import_module(module)
        call = attr.endswith("()")
        for part in attr.removesuffix("()").split("."):
            obj = getattr(obj, part)
        if call:
            obj = obj()
    except Exception as error:  # the app may need services absent at build time
        return report(framework=None, error=f"could not import {target}: {error.__class__.__name__}: {error}", mappings=[])
    if not (hasattr(obj, "url_map") and hasattr(obj, "view_functions") and hasattr(obj, "blueprints")):
        return report(framework=None, mappings=[])
    mappings = []
    for rule in obj.url_map.iter_rules():
        if rule.endpoint == "static":
            folder = obj.static_folder
        elif rule.endpoint.endswith(".static"):
            blueprint = obj.blueprints.get(rule.endpoint[: -len(".static")])
            folder = blueprint.static_folder if blueprint else None
        else:
            continue
        prefix = rule.rule.split("<", 1)[0]
        if getattr(rule, "host", None) or getattr(rule, "subdomain", None) or not prefix.endswith("/"):
            continue
        if folder and os.path.isdir(folder):
            mappings.append({"url_prefix": prefix, "path": os.path.realpath(folder)})
    report(framework="flask", mappings=mappings)


def main():
    os.chdir(APP_DIR)
    if os.path.isfile("manage.py"):
        django()
    else:
        flask(os.environ.get("PAAS_WEB_COMMAND"))


main()
