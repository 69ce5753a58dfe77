#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Write a set of files in one module run (mailfort's render-in-one-action)."""
from __future__ import annotations

DOCUMENTATION = r"""
module: mailfort_files
short_description: Write several files under one directory in one run, each only when it differs
version_added: "0.1.0"
description:
  - Writes every file of O(files) (contents, usually rendered on the controller with the
    C(ansible.builtin.template) lookup) or copies every file of O(names) from O(src_dir) on the host,
    under O(dest), with one mode and owner.
  - A file is replaced (by rename, never half-written) only when its contents, mode or owner differ,
    so a run that changes nothing writes nothing.
  - One module run instead of one C(template) or C(copy) task per file, so a converge of a role with
    many configuration files makes one round trip to the host instead of one or two per file.
  - Supports check mode and diff mode (one diff per changed file).
options:
  dest:
    description: Absolute directory the relative paths are under. Missing subdirectories are created (0755).
    type: path
    required: true
  files:
    description: Relative path to contents. Exclusive with O(src_dir).
    type: dict
  src_dir:
    description: Absolute directory on the host to copy O(names) from. Exclusive with O(files).
    type: path
  names:
    description: Relative paths to copy from O(src_dir).
    type: list
    elements: str
  mode:
    description: Mode of every file written.
    type: str
    default: "0644"
  owner:
    description: Owner of every file written.
    type: str
    default: root
  group:
    description: Group of every file written.
    type: str
    default: root
author: mailfort
"""

EXAMPLES = r"""
- name: Render the candidate configuration in one action
  mailfort.mail.mailfort_files:
    dest: /etc/postfix/staging
    files:
      main.cf: "{{ lookup('ansible.builtin.template', 'main.cf.j2') }}"
      master.cf: "{{ lookup('ansible.builtin.template', 'master.cf.j2') }}"

- name: Put the checked files live
  mailfort.mail.mailfort_files:
    src_dir: /etc/postfix/staging
    names: [main.cf, master.cf]
    dest: /etc/postfix
"""

RETURN = r"""
changed_files:
  description: The relative paths written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _differs(path: str, content: bytes, mode: int, uid: int, gid: int) -> tuple[bool, bytes | None]:
    current = _read(path)
    if current is None or current != content:
        return True, current
    info = os.stat(path)
    return stat.S_IMODE(info.st_mode) != mode or info.st_uid != uid or info.st_gid != gid, current


def _write(path: str, content: bytes, mode: int, uid: int, gid: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".mailfort-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chown(temporary, uid, gid)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _relative(name: str) -> bool:
    return bool(name) and not os.path.isabs(name) and ".." not in name.split("/")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "files": {"type": "dict"},
            "src_dir": {"type": "path"},
            "names": {"type": "list", "elements": "str"},
            "mode": {"type": "str", "default": "0644"},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
        },
        mutually_exclusive=[("files", "src_dir")],
        required_one_of=[("files", "src_dir")],
        required_together=[("src_dir", "names")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        mode = int(params["mode"], 8)
        uid, gid = pwd.getpwnam(params["owner"]).pw_uid, grp.getgrnam(params["group"]).gr_gid
    except (ValueError, KeyError) as exc:
        module.fail_json(msg=f"mailfort_files: mode {params['mode']!r}, owner {params['owner']!r} or group "
                             f"{params['group']!r} is not usable: {exc}")
    if params["files"] is not None:
        wanted = {name: str(content).encode() for name, content in params["files"].items()}
    else:
        wanted, missing = {}, []
        for name in params["names"]:
            content = _read(os.path.join(params["src_dir"], name)) if _relative(name) else None
            if content is None:
                missing.append(name)
            else:
                wanted[name] = content
        # In check mode on a new host the files to copy were not written either.
        if missing and not module.check_mode:
            module.fail_json(msg=f"mailfort_files: not in {params['src_dir']}: {', '.join(missing)}")
        if missing:
            module.exit_json(changed=True, changed_files=sorted(missing),
                             msg=f"would copy {', '.join(missing)} once they exist in {params['src_dir']}")
    bad = [name for name in wanted if not _relative(name)]
    if bad:
        module.fail_json(msg=f"mailfort_files: paths must be relative and stay under dest: {', '.join(bad)}")
    changed, diffs = [], []
    for name in sorted(wanted):
        path = os.path.join(params["dest"], name)
        differs, current = _differs(path, wanted[name], mode, uid, gid)
        if not differs:
            continue
        changed.append(name)
        if module._diff:
            diffs.append({"before_header": path, "after_header": path,
                          "before": (current or b"").decode("utf-8", "replace"),
                          "after": wanted[name].decode("utf-8", "replace")})
        if not module.check_mode:
            _write(path, wanted[name], mode, uid, gid)
    result = {"changed": bool(changed), "changed_files": changed}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
