#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""zinc_files: a host's zinc directories and files in one module run.

Ansible's file/copy/template modules cost a process per file; a zinc controller has some thirty
files (keys, token keys, configs). This module takes them all at once, writes only what differs
(atomically: temporary file, fsync, rename), and says which files changed, tagged, so that the
roles restart exactly the agents whose configuration or keys changed.

  dirs:  [{path, owner, group, mode}]
  files: [{path, content, owner, group, mode, tag, if_dir_empty}]
         if_dir_empty: write the file only if its directory held no file when the run began
         (token keys: identity rotates them in place afterwards).
Returns changed, changed_tags (sorted, unique) and changed_paths.
"""
import grp
import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule


def ids(owner, group):
    uid = pwd.getpwnam(owner).pw_uid if owner else -1
    gid = grp.getgrnam(group).gr_gid if group else -1
    return uid, gid


def fix_meta(path, uid, gid, mode, check):
    st = os.lstat(path)
    changed = False
    if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
        changed = True
        if not check:
            os.chown(path, uid, gid)
    if mode is not None and (st.st_mode & 0o7777) != mode:
        changed = True
        if not check:
            os.chmod(path, mode)
    return changed


def ensure_dir(spec, check):
    path = spec["path"]
    uid, gid = ids(spec.get("owner"), spec.get("group"))
    mode = int(spec["mode"], 8) if spec.get("mode") else None
    if not os.path.isdir(path):
        if not check:
            os.makedirs(path, exist_ok=True)
            fix_meta(path, uid, gid, mode, False)
        return True
    return fix_meta(path, uid, gid, mode, check)


def ensure_file(spec, check):
    path = spec["path"]
    data = spec["content"].encode()
    uid, gid = ids(spec.get("owner"), spec.get("group"))
    mode = int(spec["mode"], 8) if spec.get("mode") else 0o644
    try:
        with open(path, "rb") as f:
            same = f.read() == data
    except FileNotFoundError:
        same = False
    if same:
        return fix_meta(path, uid, gid, mode, check)
    if check:
        return True
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".zinc.", dir=directory)
    try:
        os.fchmod(fd, mode)
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "dirs": {"type": "list", "elements": "dict", "default": []},
            "files": {"type": "list", "elements": "dict", "default": [], "no_log": True},
        },
        supports_check_mode=True,
    )
    check = module.check_mode
    changed_tags, changed_paths = set(), []
    try:
        for spec in module.params["dirs"]:
            if ensure_dir(spec, check):
                changed_paths.append(spec["path"])
        files = module.params["files"]
        empty = {}
        for spec in files:
            d = os.path.dirname(spec["path"])
            if spec.get("if_dir_empty") and d not in empty:
                empty[d] = not os.path.isdir(d) or not any(
                    not n.startswith(".") for n in os.listdir(d))
        for spec in files:
            if spec.get("if_dir_empty") and not empty[os.path.dirname(spec["path"])]:
                continue
            if ensure_file(spec, check):
                changed_paths.append(spec["path"])
                changed_tags.add(spec.get("tag") or "")
    except (OSError, KeyError) as e:
        module.fail_json(msg="zinc_files: %s" % e)
    module.exit_json(changed=bool(changed_paths), changed_tags=sorted(changed_tags),
                     changed_paths=changed_paths)


if __name__ == "__main__":
    main()
