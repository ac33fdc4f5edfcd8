# SPDX-License-Identifier: Apache-2.0
"""Check zinc's answers against Tempest's own response schemas (python3-tempest).

Used by test_api.sh (compute 2.1) and test_volume.sh (Cinder v3): each makes a Checker with the
service's base URL and a token, calls check(name, schema, method, path[, body]) per answer, and
ends with finish(). Every check prints "ok - tempest schema: NAME" or "not ok - ...: why"."""
import json
import sys
import urllib.error
import urllib.request

from tempest.lib.common import jsonschema_validator as v


class Checker:
    def __init__(self, base, token):
        self.base = base
        self.token = token
        self.failed = []

    def call(self, method, path, body=None):
        """(status, JSON document or None) of METHOD on base + PATH."""
        req = urllib.request.Request(
            self.base + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Auth-Token": self.token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text) if text else None
            except ValueError:
                return e.code, None

    def check(self, name, schema, method, path, body=None):
        """Call, then validate status and body as Tempest does; returns the document."""
        status, doc = self.call(method, path, body)
        try:
            if status not in schema["status_code"]:
                raise Exception("status %d, want %s" % (status, schema["status_code"]))
            if "response_body" in schema:
                v.JSONSCHEMA_VALIDATOR(schema["response_body"],
                                       format_checker=v.FORMAT_CHECKER).validate(doc)
            print("ok - tempest schema: %s" % name)
        except Exception as e:
            self.failed.append(name)
            print("not ok - tempest schema: %s: %s" % (name, str(e).splitlines()[0][:300]))
        return doc

    def finish(self):
        sys.exit(1 if self.failed else 0)
