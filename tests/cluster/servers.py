"""Throw-away Redis topologies on loopback: a six-node Cluster, and a Sentinel-watched pair.

Every process is a tests.support.redis_server.RedisServer (its files and log in the
given directory) with the flags its role needs; `close()` stops them all, whatever
happened before; every wait is bounded. An `Access` locks a topology as managed Redis
is locked: an ACL user with the default user off, and TLS on every port (plain ports
closed), between the servers too.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support.ports import free_ports
from tests.support.redis_server import RedisServer
from tests.support.services import REDIS_CLI
from tests.support.waits import wait_until

from .certificates import Certificates

SERVICE = "tether-primary"
# Replicas attach within ~2.4 s with these (instead of ~12 s with the defaults).
_FAST_REPLICATION = ("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1")


@dataclass(frozen=True)
class Access:
    """How a server is entered: an ACL user (None: `default`, with `requirepass`), a
    password, and TLS with these certificates (None: plain TCP)."""

    username: str | None = None
    password: str | None = None
    tls: Certificates | None = None

    @property
    def scheme(self) -> str:
        return "rediss" if self.tls else "redis"

    def server_args(self, port: int) -> list[str]:
        """A data node's flags: its users (the replication link logs in as one) and TLS."""
        args = list(_tls_args(self.tls, port)) if self.tls else []
        if self.username:
            acl = f"{self.username} on >{self.password} ~* &* +@all".split()
            args += ["--user", "default", "off", "--user", *acl, "--masteruser", self.username]
        elif self.password:
            args += ["--requirepass", self.password]
        return args + (["--masterauth", self.password] if self.password else [])

    def client_options(self) -> dict[str, Any]:
        """redis-py's options for a client logging in this way (the tests' own clients
        check certificates against the CA only: some name another host on purpose)."""
        options: dict[str, Any] = {"username": self.username, "password": self.password}
        if self.tls:
            options |= {"ssl": True, "ssl_ca_certs": str(self.tls.ca), "ssl_check_hostname": False}
        return options

    def cli_args(self) -> list[str]:
        args = ["--tls", "--cacert", str(self.tls.ca)] if self.tls else []
        args += ["--user", self.username] if self.username else []
        return args + (["--pass", self.password, "--no-auth-warning"] if self.password else [])


def _tls_args(tls: Certificates, port: int) -> Sequence[str]:
    """TLS on `port`, the plain port closed; replicas and sentinels use TLS outward too."""
    return [
        *("--port", "0", "--tls-port", str(port), "--tls-replication", "yes"),
        *("--tls-cert-file", str(tls.cert), "--tls-key-file", str(tls.key)),
        *("--tls-ca-cert-file", str(tls.ca), "--tls-auth-clients", "no"),
    ]


class _Server(RedisServer):
    """A RedisServer whose readiness probe and client() enter it with `access`."""

    def __init__(
        self, workdir: Path, port: int, args: Sequence[str], config: Path | None, access: Access
    ) -> None:
        super().__init__(workdir, port=port, args=args, config=config, password=access.password)
        self.access = access

    def client(
        self, socket_timeout: float = 5.0, socket_connect_timeout: float = 2.0
    ) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            **self.access.client_options(),
        )


class _Servers:
    """redis-server processes by port, all in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: dict[int, _Server] = {}

    def add(self, port: int, *args: str, access: Access, config: Path | None = None) -> RedisServer:
        server = _Server(self.workdir, port, args, config, access)
        self.servers[port] = server
        return server

    def client(self, port: int) -> redis.Redis:
        """A client on the server at `port`, entering it as its `Access` says."""
        return self.servers[port].client(socket_timeout=2, socket_connect_timeout=2)

    def close(self) -> None:
        for server in self.servers.values():
            server.close()

    def _role(self, port: int) -> str:
        return str(self.servers[port].info("replication").get("role"))


class LockedRedis(_Servers):
    """One server, entered only as `access` says."""

    def __init__(self, workdir: Path, access: Access) -> None:
        super().__init__(workdir)
        (self.port,) = free_ports(1)
        self.access = access

    def start(self) -> LockedRedis:
        self.add(self.port, *self.access.server_args(self.port), access=self.access).start()
        return self


class RedisClusterNodes(_Servers):
    """Six nodes: three primaries, one replica each, every slot covered."""

    def __init__(self, workdir: Path, size: int = 6, access: Access | None = None) -> None:
        super().__init__(workdir)
        ports = free_ports(2 * size)
        self.ports, self._bus_ports = ports[:size], ports[size:]
        self.access = access or Access()

    @property
    def url(self) -> str:
        """The first node's URL, without the user and password."""
        return f"{self.access.scheme}://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisClusterNodes:
        nodes = [
            self.add(port, *_node_args(port, bus, self.access), access=self.access)
            for port, bus in self._pairs()
        ]
        for node in nodes:
            node.spawn()
        for node in nodes:
            node.wait_ready()
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        create = ["--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"]
        command = [_cli(), *self.access.cli_args(), *create]
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        wait_until(self._ok, 20, "cluster_state:ok on every node")
        wait_until(self._replicated, 20, "every replica in sync with its primary")
        return self

    def primaries(self) -> list[int]:
        return [port for port in self.ports if self._role(port) == "master"]

    def keyslot(self, key: str) -> int:
        with self.client(self.ports[0]) as client:
            return int(client.execute_command("CLUSTER KEYSLOT", key))

    def keys(self, pattern: str) -> dict[int, list[bytes]]:
        """Keys matching `pattern`, by the primary holding them."""
        found: dict[int, list[bytes]] = {}
        for port in self.primaries():
            with self.client(port) as client:
                found[port] = list(client.scan_iter(match=pattern, count=1000))
        return found

    def _pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.ports, self._bus_ports, strict=True))

    def _ok(self) -> bool:
        return all(self._cluster_state(port) == "ok" for port in self.ports)

    def _cluster_state(self, port: int) -> str | None:
        try:
            with self.client(port) as client:
                info: dict[str, str] = client.execute_command("CLUSTER INFO")
                return info.get("cluster_state")
        except (redis.RedisError, OSError):
            return None

    def _replicated(self) -> bool:
        replicas = [port for port in self.ports if self._role(port) == "slave"]
        return len(replicas) == len(self.ports) // 2 and all(
            self.servers[port].info("replication").get("master_link_status") == "up"
            for port in replicas
        )


def _node_args(port: int, bus: int, access: Access) -> list[str]:
    return [
        *("--cluster-enabled", "yes", "--cluster-port", str(bus)),
        *("--cluster-config-file", f"nodes-{port}.conf", *_FAST_REPLICATION),
        *(("--tls-cluster", "yes") if access.tls else ()),  # the cluster bus too
        *access.server_args(port),
    ]


def _cli() -> str:
    found = shutil.which(REDIS_CLI)
    if found is None:
        raise RuntimeError(f"{REDIS_CLI} not found: install it or set TETHER_TEST_REDIS_CLI")
    return found


class SentinelGroup(_Servers):
    """A primary, its replica and one sentinel, all with passwords (a quorum of one);
    with `acl`, each entered as a user of its own (the default user off); with `tls`,
    every port TLS only."""

    PASSWORD = "primary-secret"
    SENTINEL_PASSWORD = "sentinel-secret"
    USER, SENTINEL_USER = "tether", "sentinel-admin"  # with `acl`

    def __init__(self, workdir: Path, *, acl: bool = False, tls: Certificates | None = None):
        super().__init__(workdir)
        self.primary, self.replica, self.sentinel = free_ports(3)
        self.access = Access(self.USER if acl else None, self.PASSWORD, tls)
        self.sentinel_access = Access(
            self.SENTINEL_USER if acl else None, self.SENTINEL_PASSWORD, tls
        )

    def start(self) -> SentinelGroup:
        self.add(self.primary, *self._data_args(self.primary), access=self.access).start()
        following = ("--replicaof", "127.0.0.1", str(self.primary))
        args = (*self._data_args(self.replica), *following)
        self.add(self.replica, *args, access=self.access).start()
        wait_until(lambda: self._linked(self.replica), 15, "the replica attached")
        self.wait_replicated()
        conf = self.workdir / "sentinel.conf"
        conf.write_text(self._sentinel_conf())
        tls = self.sentinel_access.tls
        args = ("--sentinel", *(_tls_args(tls, self.sentinel) if tls else ()))
        self.add(self.sentinel, *args, config=conf, access=self.sentinel_access).start()
        wait_until(lambda: self.primary_port() == self.primary, 10, "the sentinel up")
        wait_until(self._sentinel_knows_the_replica, 10, "the sentinel seeing the replica")
        return self

    def primary_port(self) -> int | None:
        """The primary in Sentinel's table (SENTINEL MASTERS), where clients look it up.

        (GET-MASTER-ADDR-BY-NAME names the promoted replica earlier, mid-failover.)
        """
        try:
            with self.client(self.sentinel) as sentinel:
                state = sentinel.sentinel_master(SERVICE)
        except (redis.RedisError, OSError):
            return None
        return int(state["port"]) if state.get("is_master") else None

    def wait_replicated(self, timeout: float = 10) -> None:
        """Until the replica has every write the primary took so far.

        (A freshly attached replica reports its link up ~1 s before the primary starts
        streaming to it, at its first REPLCONF ACK.)
        """
        with self.client(self.primary) as primary:
            primary.set("tether-test:probe", 1)
            wait_until(lambda: primary.wait(1, 100) == 1, timeout, "the replica caught up")

    def failover(self, *, demote: bool, timeout: float = 10) -> None:
        """SENTINEL FAILOVER of a replica holding every write so far; returns once
        Sentinel's table names it.

        Sentinel leaves the old primary writable for ~10 s more (it waits 4 publish
        periods before reconfiguring it); `demote` makes it follow the new one at once,
        as Sentinel will later, so clients still on it meet READONLY now.
        """
        self.wait_replicated(timeout)
        with self.client(self.sentinel) as sentinel:
            sentinel.sentinel_failover(SERVICE)
        wait_until(lambda: self.primary_port() == self.replica, timeout, "the switch-over")
        wait_until(lambda: self._role(self.replica) == "master", timeout, "the new primary")
        if demote:
            with self.client(self.primary) as old:
                old.replicaof("127.0.0.1", self.replica)
            wait_until(lambda: self._linked(self.primary), timeout, "the old primary following")

    def holds(self, port: int, response_id: str) -> bool:
        """Whether the server on `port` has this response cached."""
        key = f"tether:v1:{{{response_id[5:37]}}}:h"
        with self.client(port) as client:
            return bool(client.hexists(key, response_id))

    def _data_args(self, port: int) -> list[str]:
        return [*_FAST_REPLICATION, *self.access.server_args(port)]

    def _sentinel_conf(self) -> str:
        lines = [
            f"port {self.sentinel}",
            "bind 127.0.0.1",
            f"dir {self.workdir}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary} 1",
            f"sentinel auth-pass {SERVICE} {self.PASSWORD}",
            f"sentinel down-after-milliseconds {SERVICE} 2000",
            f"sentinel failover-timeout {SERVICE} 10000",
        ]
        if self.access.username:  # how the sentinel enters the primary and replica
            lines.append(f"sentinel auth-user {SERVICE} {self.access.username}")
        if user := self.sentinel_access.username:  # how clients (and other sentinels) enter it
            password = self.SENTINEL_PASSWORD
            lines += ["user default off", f"user {user} on >{password} ~* &* +@all"]
            lines += [f"sentinel sentinel-user {user}", f"sentinel sentinel-pass {password}"]
        else:
            lines.append(f"requirepass {self.SENTINEL_PASSWORD}")
        return "\n".join([*lines, ""])

    def _linked(self, port: int) -> bool:
        info = self.servers[port].info("replication")
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    def _sentinel_knows_the_replica(self) -> bool:
        # Connected and reporting (flags exactly "slave"): else SENTINEL FAILOVER finds
        # no suitable replica.
        with self.client(self.sentinel) as sentinel:
            replicas = sentinel.sentinel_slaves(SERVICE)
        return any(
            int(entry["port"]) == self.replica
            and entry.get("flags") == "slave"
            and entry.get("master-link-status") == "ok"
            for entry in replicas
        )
