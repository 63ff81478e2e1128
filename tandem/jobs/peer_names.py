"""Names a training host's process resolves its peers by: ``algo-k`` to that host's address.

SageMaker's hosts are named ``algo-1``..``algo-N`` in SM_HOSTS and resourceconfig.json, and a
distributed script connects to ``algo-1`` by name. tandem's hosts are processes (on this
machine or on a Ray node), so nothing resolves those names by itself. Where util-linux
``unshare`` can give the process a private mount namespace (root, or an unprivileged user
namespace), the process starts with a hosts file bind-mounted over ``/etc/hosts``: the node's
own entries followed by one line per host. The file is built where the process runs (its
node's /etc/hosts), and the command is exec'd in place, so the host's process is still the one
tandem started. Where no namespace can be made the command runs as it is: the names do not
resolve there, and the addresses are in SM_HOST_ADDRESSES / SM_MASTER_ADDR.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["HOSTS_FILE_NAME", "hosts_entries", "named_hosts_argv"]

# Written in the host's own directory (its /opt/ml), beside input/ and model/.
HOSTS_FILE_NAME = "hosts"

# $1: where to write the hosts file; $2: the entries; the rest: the command. The mount is made
# in the namespace `unshare` made; if it cannot be, the command still runs (names unresolved).
_MOUNT_HOSTS_AND_EXEC = r"""
file=$1 entries=$2
shift 2
if { cat /etc/hosts 2>/dev/null; printf '\n%s' "$entries"; } > "$file" 2>/dev/null; then
  mount --bind "$file" /etc/hosts 2>/dev/null || :
fi
exec "$@"
"""

# $1: the script above; $2.. as it takes them. Tries the namespace first: a refused one leaves
# the command unwrapped.
_TRY_NAMESPACE = r"""
inner=$1
shift
if command -v unshare >/dev/null 2>&1 && unshare %(flags)s true 2>/dev/null; then
  exec unshare %(flags)s /bin/sh -c "$inner" sh "$@"
fi
shift 2
exec "$@"
"""


def hosts_entries(addresses: Mapping[str, str]) -> str:
    """``/etc/hosts`` lines mapping each host name to its address, in host-name order."""
    return "".join(f"{addresses[name]}\t{name}\n" for name in sorted(addresses))


def _flags() -> str:
    flags = "--mount --propagation private"
    if os.geteuid() != 0:
        flags += " --map-root-user"  # an unprivileged user may mount in its own namespace
    return flags


def named_hosts_argv(root: Path, addresses: Mapping[str, str],
                     command: Sequence[str]) -> list[str]:
    """``command`` with ``addresses``' names resolving in it, where a namespace can be made;
    the hosts file is written to ``root``/hosts when the process starts."""
    script = _TRY_NAMESPACE % {"flags": _flags()}
    return ["/bin/sh", "-c", script, "sh", _MOUNT_HOSTS_AND_EXEC, str(root / HOSTS_FILE_NAME),
            hosts_entries(addresses), *command]
