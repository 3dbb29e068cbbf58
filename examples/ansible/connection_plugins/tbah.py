# A connection plugin for Ansible: the "host" is a tbah working container.
# GNU General Public License v3.0+ (as Ansible's own plugins), or Apache-2.0.
#
# Each command runs with `tbah run` in the container. Ansible's modules need a
# Python and, for users and groups, useradd/groupadd: the controller lends its
# own, mounted read-only for the run only (/usr/bin, /usr/sbin, /usr/lib,
# /usr/lib64, /usr/share, /lib, /lib64), so none of it reaches the image, and
# /usr/local stays the container's own. Ansible's temporary files go to
# /run/ansible, a host directory mounted into every run, so they never reach
# the image either. Other files are put in with `tbah copy`.
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = '''
    name: tbah
    short_description: run tasks in a tbah working container
    description:
      - Runs each command with C(tbah run) in the working container named by the
        inventory host (or C(ansible_host)), with the controller's /usr
        directories mounted read-only; transfers files with C(tbah copy) and a
        host directory mounted at /run/ansible (set C(remote_tmp) below it).
    author: tbah examples
    extends_documentation_fragment:
      - connection_pipelining
    options:
      tbah_command:
        description: how to call tbah (split like a shell would)
        default: tbah
        env:
          - name: TBAH
        vars:
          - name: ansible_tbah_command
'''

import os
import shlex
import shutil
import subprocess
import tempfile

from ansible.errors import AnsibleError, AnsibleFileNotFound
from ansible.module_utils._text import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# Where Ansible's temporary files live inside the container (remote_tmp must be below it).
TMP_IN_CONTAINER = '/run/ansible'
# The controller's directories lent to the container, read-only, for each run.
LENT = ['/usr/bin', '/usr/sbin', '/usr/lib', '/usr/lib64', '/usr/share', '/lib', '/lib64']


class Connection(ConnectionBase):
    transport = 'tbah'
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        self._tmp_on_host = None

    def _tbah(self):
        return shlex.split(self.get_option('tbah_command'))

    def _connect(self):
        if not self._connected:
            self._tmp_on_host = tempfile.mkdtemp(prefix='tbah-ansible-')
            # remote_tmp (ansible.cfg) made here, so that modules do not make it and warn.
            os.mkdir(os.path.join(self._tmp_on_host, 'tmp'), 0o700)
            display.vvv(u'TBAH CONTAINER %s (temp files in %s)' % (self._play_context.remote_addr, self._tmp_on_host))
            self._connected = True
        return self

    def _mount_args(self):
        args = ['-v', '%s:%s' % (self._tmp_on_host, TMP_IN_CONTAINER)]
        for d in LENT:
            if os.path.isdir(d):
                # /lib is often a symlink to usr/lib: mount what it points to.
                args += ['-v', '%s:%s:ro' % (os.path.realpath(d), d)]
        return args

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        argv = self._tbah() + ['run'] + self._mount_args() + [self._play_context.remote_addr, '--', '/bin/sh', '-c', cmd]
        display.vvv(u'EXEC %s' % cmd, host=self._play_context.remote_addr)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = p.communicate(in_data)
        return (p.returncode, stdout, stderr)

    def _on_host(self, path):
        """The host path of a file in the mounted temp directory, or None."""
        if path == TMP_IN_CONTAINER or path.startswith(TMP_IN_CONTAINER + '/'):
            return os.path.join(self._tmp_on_host, os.path.relpath(path, TMP_IN_CONTAINER))
        return None

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        display.vvv(u'PUT %s TO %s' % (in_path, out_path), host=self._play_context.remote_addr)
        if not os.path.exists(to_bytes(in_path, errors='surrogate_or_strict')):
            raise AnsibleFileNotFound('file or module does not exist: %s' % to_native(in_path))
        host = self._on_host(out_path)
        if host is not None:
            shutil.copyfile(in_path, host)
            return
        # Anywhere else: tbah copy resolves the destination inside the container.
        p = subprocess.run(self._tbah() + ['copy', '-q', self._play_context.remote_addr, in_path, out_path], capture_output=True)
        if p.returncode != 0:
            raise AnsibleError('tbah copy to %s failed: %s' % (out_path, to_native(p.stderr)))

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        display.vvv(u'FETCH %s TO %s' % (in_path, out_path), host=self._play_context.remote_addr)
        host = self._on_host(in_path)
        if host is not None:
            shutil.copyfile(host, out_path)
            return
        with open(out_path, 'wb') as out:
            p = subprocess.run(self._tbah() + ['run', self._play_context.remote_addr, '--', 'cat', in_path], stdout=out, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise AnsibleError('reading %s from the container failed: %s' % (in_path, to_native(p.stderr)))

    def close(self):
        if self._tmp_on_host is not None:
            shutil.rmtree(self._tmp_on_host, ignore_errors=True)
            self._tmp_on_host = None
        self._connected = False
