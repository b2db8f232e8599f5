#!/usr/bin/env python3
"""A throwaway PostgreSQL 15 cluster for tests (stdlib only).

    with PgCluster() as pg:
        pg.bootstrap()                      # roles, database, migrations
        pg.create_node_role("node_a")       # a tier node's login role
        print(pg.psql("SELECT 1", role="node_a"))

`initdb` runs into a temporary directory. As root (PostgreSQL refuses to run as
root) the server runs as an unprivileged user (`nobody` by default) that owns the
data directory. The server listens on a free loopback port and on a socket in its
own directory, with fsync=on, synchronous_commit=on and full_page_writes=on.
Readiness is the postmaster.pid "ready" line (what pg_ctl -w waits for), read as it
appears, never a fixed sleep. stop() is a fast shutdown, kill() a SIGKILL of the
whole server (postmaster and backends: a crash), restart() starts it again on the
same port and data (crash recovery after a kill).

Authentication: the socket trusts every role (tests act as any role); TCP from
127.0.0.1 takes scram-sha-256 passwords, for daemons given a role and a password;
`hba` adds pg_hba.conf lines (e.g. hostssl from a test's network namespace).
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

def _pg_bin():
    """OTPGATE_PG_BIN, else the newest /usr/lib/postgresql/N/bin (N >= 15: the
    schema needs 15)."""
    if os.environ.get("OTPGATE_PG_BIN"):
        return os.environ["OTPGATE_PG_BIN"]
    versions = sorted((int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit()), reverse=True) \
        if os.path.isdir("/usr/lib/postgresql") else []
    for v in versions:
        if v >= 15 and os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb"):
            return f"/usr/lib/postgresql/{v}/bin"
    raise RuntimeError("no PostgreSQL 15 or later in /usr/lib/postgresql (apt-get install postgresql), or set OTPGATE_PG_BIN")


PG_BIN = _pg_bin()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SQL_DIR = os.path.join(REPO, "Sources", "OTPGatePostgres", "SQL")
DATABASE = "otpgate"
SUPERUSER = "postgres"
# The advisory lock the migration runner holds while it migrates (docs/POSTGRES.md).
MIGRATION_LOCK = 7305117


class PgError(Exception):
    """A psql call that failed: the SQLSTATE (if psql printed one) and the message."""

    def __init__(self, sqlstate, message, stderr):
        super().__init__(f"{sqlstate or '?'}: {message}")
        self.sqlstate = sqlstate
        self.message = message
        self.stderr = stderr


def migration_files():
    """The migrations in the order they apply: (version, name, path)."""
    out = []
    for f in sorted(os.listdir(SQL_DIR)):
        if len(f) > 5 and f[0] == "v" and f[1:4].isdigit() and f[4] == "_" and f.endswith(".sql"):
            out.append((int(f[1:4]), f[:-4], os.path.join(SQL_DIR, f)))
    return out


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, run_as="nobody", settings=None, base=None, hba=()):
        self.root = tempfile.mkdtemp(prefix="otpgate-pg-", dir=base)
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.sockets = os.path.join(self.root, "run")
        self.log = os.path.join(self.root, "postgres.log")
        self.port = None
        self.process = None
        self.settings = {
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "shared_buffers": "32MB",
            "max_connections": "100",
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sockets}'",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "autovacuum_naptime": "1s",
        }
        # A value of None leaves the setting off the command line, so that ALTER SYSTEM
        # and a reload can change it (command-line settings outrank the config files).
        self.settings.update(settings or {})
        self.settings = {k: v for k, v in self.settings.items() if v is not None}
        self.hba = list(hba)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(run_as)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
        os.mkdir(self.sockets, 0o755)
        os.chown(self.sockets, self.uid, self.gid)
        with open(self.log, "w"):
            pass
        os.chown(self.log, self.uid, self.gid)
        self._initdb()

    # -- life cycle -------------------------------------------------------------

    def _as_server_user(self):
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def _initdb(self):
        os.mkdir(self.data, 0o700)
        os.chown(self.data, self.uid, self.gid)
        subprocess.run(
            [os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", SUPERUSER, "--auth-local=trust",
             "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=self._as_server_user,
            cwd=self.root)
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n" + "".join(line + "\n" for line in self.hba))
        os.chown(os.path.join(self.data, "pg_hba.conf"), self.uid, self.gid)

    def start(self, timeout=60):
        """Starts the server (on a free port the first time, the same one after) and
        returns once postmaster.pid says it is ready for connections."""
        if self.process is not None:
            raise RuntimeError("the cluster is already running")
        if self.port is None:
            self.port = free_port()
        args = [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port)]
        for k, v in self.settings.items():
            args += ["-c", f"{k}={v.strip(chr(39))}"]
        logf = open(self.log, "a")
        # Its own session: kill() takes the postmaster and every backend at once.
        self.process = subprocess.Popen(
            args, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, preexec_fn=self._as_server_user,
            start_new_session=True, cwd=self.root)
        logf.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout):
        pidfile = os.path.join(self.data, "postmaster.pid")
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"postgres exited while starting; log {self.log}:\n{self.tail_log()}")
            try:
                with open(pidfile) as f:
                    lines = f.read().split("\n")
                # Line 8 (PM_STATUS) reads "ready" once connections are accepted.
                if len(lines) > 7 and int(lines[0]) == self.process.pid and lines[7].strip() == "ready":
                    return
            except (FileNotFoundError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not ready after {timeout} s; log {self.log}:\n{self.tail_log()}")
            time.sleep(0.02)  # polling the pid file, which has no notification

    def stop(self):
        """Fast shutdown (SIGINT): open transactions roll back, then a checkpoint."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        self.process = None

    def kill(self):
        """SIGKILL to the postmaster and all its backends (a crash)."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)
        self.process = None

    def restart(self, timeout=60):
        self.stop()
        return self.start(timeout)

    def cleanup(self):
        try:
            if self.process is not None:
                self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def tail_log(self, lines=40):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # -- clients ------------------------------------------------------------------

    def dsn(self, role, database=DATABASE, password=None):
        """A libpq URI for TCP on loopback (needs a role with a password)."""
        auth = f"{role}:{password}@" if password else f"{role}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{database}"

    def psql_args(self, role=SUPERUSER, database=DATABASE):
        return [os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                "-h", self.sockets, "-p", str(self.port), "-U", role, "-d", database]

    def psql(self, sql, role=SUPERUSER, database=DATABASE, check=True, stdin=None):
        """Runs sql (one or more statements, each in autocommit) as role; returns its
        output lines (unaligned, tuples only, fields separated by |). With check, a
        failure raises PgError carrying the SQLSTATE."""
        args = self.psql_args(role, database)
        if sql is not None:
            args += ["-c", sql]
        r = subprocess.run(args, input=stdin, capture_output=True, text=True, env=self.env())
        if r.returncode != 0 and check:
            raise self.error(r.stderr)
        if not check:
            return r
        return [line for line in r.stdout.split("\n") if line != ""]

    @staticmethod
    def error(stderr):
        """The first ERROR of psql's verbose output, as a PgError."""
        for line in stderr.split("\n"):
            if line.startswith("ERROR:"):
                rest = line[len("ERROR:"):].strip()
                code, _, message = rest.partition(": ")
                if len(code) == 5 and code.isalnum():
                    return PgError(code, message, stderr)
                return PgError(None, rest, stderr)
        return PgError(None, stderr.strip(), stderr)

    def env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("PG"):
                del env[k]
        env["PGCONNECT_TIMEOUT"] = "10"
        return env

    # -- otpgate's database -------------------------------------------------------

    def bootstrap(self, migrate=True):
        """The roles and the database (bootstrap_roles.sql, as the superuser), then
        the migrations (as otpgate_owner)."""
        with open(os.path.join(SQL_DIR, "bootstrap_roles.sql")) as f:
            self.psql(None, database="postgres", stdin=f.read())
        if migrate:
            self.migrate()

    def migrate(self, files=None):
        """The migration runner's protocol (docs/POSTGRES.md): one transaction under
        the advisory lock; refuse a database with a migration this list does not
        know; apply the missing ones in order. Returns the names applied."""
        files = migration_files() if files is None else files
        known = {name for _, name, _ in files}
        applied = set(self.applied_migrations())
        unknown = sorted(applied - known)
        if unknown:
            raise RuntimeError(f"the database has migrations this build does not know: {', '.join(unknown)}")
        todo = [(v, n, p) for v, n, p in files if n not in applied]
        if not todo:
            return []
        script = [f"BEGIN;\nSELECT pg_advisory_xact_lock({MIGRATION_LOCK});\n"]
        for _, _, path in todo:
            with open(path) as f:
                script.append(f.read())
        script.append("COMMIT;\n")
        self.psql(None, role="otpgate_owner", stdin="\n".join(script))
        return [n for _, n, _ in todo]

    def applied_migrations(self):
        """What the runner reads first (as the owner): [] for an empty database."""
        rows = self.psql(
            "SELECT name FROM otpgate.schema_migrations ORDER BY version" if self.has_schema()
            else "SELECT 1 WHERE false", role="otpgate_owner")
        return rows

    def has_schema(self):
        return self.psql("SELECT to_regclass('otpgate.schema_migrations') IS NOT NULL", role="otpgate_owner") == ["t"]

    def create_node_role(self, name, password=None, group="otpgate_node"):
        """A login role for one tier node (or, with group='otpgate_admin', an admin)."""
        pw = f" PASSWORD '{password}'" if password else ""
        self.psql(f'CREATE ROLE "{name}" LOGIN{pw} IN ROLE {group}', database="postgres")
        return name
